package s3api

import (
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/auth"
)

// GetObjectAttributes: what HEAD tells and more (the parts of a multipart
// object), in one XML document, for the attributes the request names.

// The attributes x-amz-object-attributes may name.
const (
	attrETag         = "ETag"
	attrChecksum     = "Checksum"
	attrObjectParts  = "ObjectParts"
	attrStorageClass = "StorageClass"
	attrObjectSize   = "ObjectSize"
)

// parseObjectAttributes reads x-amz-object-attributes (a comma-separated
// list, possibly over several header lines): at least one attribute, each
// one S3 defines.
func parseObjectAttributes(values []string) (map[string]bool, error) {
	set := map[string]bool{}
	for _, v := range values {
		for _, a := range strings.Split(v, ",") {
			a = strings.TrimSpace(a)
			switch a {
			case "":
			case attrETag, attrChecksum, attrObjectParts, attrStorageClass, attrObjectSize:
				set[a] = true
			default:
				return nil, s3Error("InvalidArgument", "invalid attribute name specified: %q", clip(a))
			}
		}
	}
	if len(set) == 0 {
		return nil, s3Error("InvalidArgument", "x-amz-object-attributes must name at least one attribute")
	}
	return set, nil
}

type objectAttributesResult struct {
	XMLName      xml.Name           `xml:"GetObjectAttributesResponse"`
	NS           string             `xml:"xmlns,attr"`
	ETag         string             `xml:"ETag,omitempty"`
	Checksum     *attributeChecksum `xml:"Checksum,omitempty"`
	ObjectParts  *objectParts       `xml:"ObjectParts,omitempty"`
	StorageClass string             `xml:"StorageClass,omitempty"`
	ObjectSize   *int64             `xml:"ObjectSize,omitempty"`
}

type attributeChecksum struct {
	checksumFields
	ChecksumType string `xml:"ChecksumType,omitempty"`
}

type objectParts struct {
	PartsCount           int             `xml:"PartsCount"`
	PartNumberMarker     int             `xml:"PartNumberMarker"`
	NextPartNumberMarker int             `xml:"NextPartNumberMarker"`
	MaxParts             int             `xml:"MaxParts"`
	IsTruncated          bool            `xml:"IsTruncated"`
	Parts                []attributePart `xml:"Part"`
}

type attributePart struct {
	PartNumber int   `xml:"PartNumber"`
	Size       int64 `xml:"Size"`
	checksumFields
}

// getObjectAttributes is GetObjectAttributes. Parts are listed with their
// numbers, sizes and, when the upload had a checksum algorithm, their
// checksums (x-amz-max-parts, x-amz-part-number-marker).
func (h *Handler) getObjectAttributes(w http.ResponseWriter, r *http.Request, q *request) error {
	ctx := r.Context()
	rp, err := h.bucket(ctx, q, auth.Read)
	if err != nil {
		return err
	}
	want, err := parseObjectAttributes(r.Header.Values("X-Amz-Object-Attributes"))
	if err != nil {
		return err
	}
	maxParts, marker := 1000, 0
	if v := r.Header.Get("X-Amz-Max-Parts"); v != "" {
		if maxParts, err = strconv.Atoi(v); err != nil || maxParts < 0 {
			return s3Error("InvalidArgument", "x-amz-max-parts must be a non-negative integer")
		}
		maxParts = min(maxParts, 1000)
	}
	if v := r.Header.Get("X-Amz-Part-Number-Marker"); v != "" {
		if marker, err = strconv.Atoi(v); err != nil || marker < 0 {
			return s3Error("InvalidArgument", "x-amz-part-number-marker must be a non-negative integer")
		}
	}
	o, err := h.lookup(ctx, rp, q.key, q.query.Get("versionId"), w.Header())
	if err != nil {
		return err
	}
	if o.VersionID != "" || q.query.Get("versionId") != "" {
		w.Header().Set("x-amz-version-id", vidOut(o.VersionID))
	}
	res := objectAttributesResult{NS: s3NS}
	if want[attrETag] {
		res.ETag = o.ETag
	}
	if want[attrChecksum] && len(o.Checksums.Values) > 0 {
		res.Checksum = &attributeChecksum{checksumFields: fieldsOf(o.Checksums), ChecksumType: o.Checksums.Type}
	}
	if want[attrObjectParts] && len(o.PartSizes) > 0 {
		op := &objectParts{PartsCount: len(o.PartSizes), PartNumberMarker: marker, MaxParts: maxParts}
		for n := marker + 1; n <= len(o.PartSizes); n++ {
			if len(op.Parts) == maxParts {
				op.IsTruncated = true
				break
			}
			ap := attributePart{PartNumber: n, Size: o.PartSizes[n-1]}
			if n <= len(o.Checksums.Parts) {
				for alg := range o.Checksums.Values {
					ap.set(alg, o.Checksums.Parts[n-1])
				}
			}
			op.Parts = append(op.Parts, ap)
			op.NextPartNumberMarker = n
		}
		res.ObjectParts = op
	}
	if want[attrStorageClass] {
		res.StorageClass = "STANDARD"
	}
	if want[attrObjectSize] {
		res.ObjectSize = &o.Size
	}
	w.Header().Set("Last-Modified", time.UnixMilli(o.Modified).UTC().Format(http.TimeFormat))
	return writeXML(w, res)
}
