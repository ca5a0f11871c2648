package s3api

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/arcaproject/arca/internal/auth"
)

// listParams are the parameters ListObjects and ListObjectsV2 share.
type listParams struct {
	prefix, delimiter, marker string
	maxKeys                   int
	encode                    bool
}

// parseListParams reads and validates the listing query parameters.
// markerParams name the parameters that give where to start, in order of
// precedence (the first present wins).
func parseListParams(q *request, markerParams ...string) (listParams, error) {
	p := listParams{prefix: q.query.Get("prefix"), delimiter: q.query.Get("delimiter"), maxKeys: 1000}
	switch q.query.Get("encoding-type") {
	case "":
	case "url":
		p.encode = true
	default:
		return p, s3Error("InvalidArgument", "invalid encoding type: want url")
	}
	if v := q.query.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, s3Error("InvalidArgument", "max-keys must be a non-negative integer")
		}
		p.maxKeys = min(n, 1000)
	}
	for _, name := range markerParams {
		if v := q.query.Get(name); v != "" {
			if name == "continuation-token" {
				b, err := base64.RawURLEncoding.DecodeString(v)
				if err != nil || len(b) == 0 {
					return p, s3Error("InvalidArgument", "the continuation token provided is incorrect")
				}
				v = string(b)
			}
			p.marker = v
			break
		}
	}
	for _, s := range []string{p.prefix, p.delimiter, p.marker} {
		if !utf8.ValidString(s) || len(s) > 1024 {
			return p, s3Error("InvalidArgument", "prefix, delimiter and markers must be UTF-8 of at most 1024 bytes")
		}
	}
	return p, nil
}

func (p listParams) enc(s string) string {
	if p.encode {
		return urlEncodeKey(s)
	}
	return s
}

// listObjects is ListObjects, or ListObjectsV2 with list-type=2.
func (h *Handler) listObjects(w http.ResponseWriter, r *http.Request, q *request) error {
	rp, err := h.bucket(r.Context(), q, auth.Read)
	if err != nil {
		return err
	}
	v2 := q.query.Get("list-type") == "2"
	markers := []string{"marker"}
	if v2 {
		markers = []string{"continuation-token", "start-after"}
	}
	p, err := parseListParams(q, markers...)
	if err != nil {
		return err
	}
	page := listPage{}
	if p.maxKeys > 0 {
		if page, err = h.objects.list(r.Context(), rp.ID, p.prefix, p.delimiter, p.marker, p.maxKeys); err != nil {
			return err
		}
	}
	withOwner := !v2 || q.query.Get("fetch-owner") == "true"
	contents := make([]objectEntry, 0, len(page.Objects))
	for _, o := range page.Objects {
		e := objectEntry{Key: p.enc(o.Key), LastModified: s3Time(o.Modified), ETag: quote(o.ETag), Size: o.Size, StorageClass: "STANDARD"}
		for alg := range o.Checksums.Values {
			e.ChecksumAlgorithm, e.ChecksumType = alg, o.Checksums.Type
		}
		if withOwner {
			e.Owner = &owner{ID: o.CreatedBy, DisplayName: o.CreatedBy}
		}
		contents = append(contents, e)
	}
	prefixes := make([]commonPrefix, len(page.Prefixes))
	for i, cp := range page.Prefixes {
		prefixes[i] = commonPrefix{Prefix: p.enc(cp)}
	}
	encodingType := ""
	if p.encode {
		encodingType = "url"
	}
	if v2 {
		res := listBucketResultV2{NS: s3NS, Name: rp.Name, Prefix: p.enc(p.prefix), Delimiter: p.enc(p.delimiter),
			StartAfter: p.enc(q.query.Get("start-after")),
			KeyCount:   len(contents) + len(prefixes), MaxKeys: p.maxKeys, EncodingType: encodingType,
			IsTruncated: page.Truncated, Contents: contents, CommonPrefixes: prefixes}
		if _, sent := q.query["continuation-token"]; sent {
			tok := q.query.Get("continuation-token")
			res.ContinuationToken = &tok
		}
		if page.Truncated {
			res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(page.Next))
		}
		return writeXML(w, res)
	}
	// ListObjects (V1) returns its Prefix as sent, also with
	// encoding-type=url (clients decode only V2's).
	res := listBucketResultV1{NS: s3NS, Name: rp.Name, Prefix: p.prefix, Marker: p.enc(p.marker),
		Delimiter: p.enc(p.delimiter), MaxKeys: p.maxKeys, EncodingType: encodingType, IsTruncated: page.Truncated,
		Contents: contents, CommonPrefixes: prefixes}
	if page.Truncated {
		res.NextMarker = p.enc(page.Next)
	}
	return writeXML(w, res)
}
