package s3api

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

func quote(etag string) string { return `"` + etag + `"` }

// existing returns the object at the request's key, or nil.
func (h *Handler) existing(ctx context.Context, rp *repo.Repository, key string) (*object, error) {
	o, err := h.objects.get(ctx, rp.ID, key)
	if errs.Is(err, errs.NotFound) {
		return nil, nil
	}
	return o, err
}

// mayReplace checks, before any bytes are received, the conditional-write
// headers of a request that creates an object (If-None-Match: * or ETags,
// If-Match) and, when it replaces one, that the principal may overwrite
// (the maintainer role, as everywhere in arca). The conditions are
// checked again in the write's transaction (store.put).
func (h *Handler) mayReplace(r *http.Request, q *request, rp *repo.Repository, old *object) error {
	if err := writeCondOf(r.Header).check(old); err != nil {
		return err
	}
	if old == nil {
		return nil
	}
	if err := h.auth.Authorize(r.Context(), q.principal(), rp, auth.Delete); err != nil {
		return s3Error("AccessDenied", "the key exists; replacing it needs the maintainer role")
	}
	return nil
}

// putObject is PutObject, or CopyObject when x-amz-copy-source is set.
func (h *Handler) putObject(w http.ResponseWriter, r *http.Request, q *request) error {
	if r.Header.Get("X-Amz-Copy-Source") != "" {
		return h.copyObject(w, r, q)
	}
	ctx := r.Context()
	rp, err := h.bucket(ctx, q, auth.Write)
	if err != nil {
		return err
	}
	old, err := h.existing(ctx, rp, q.key)
	if err != nil {
		return err
	}
	if err := h.mayReplace(r, q, rp, old); err != nil {
		return err
	}
	headers, err := storedHeaders(r.Header)
	if err != nil {
		return err
	}
	tags, err := requestTags(r)
	if err != nil {
		return err
	}
	rec, err := h.receive(r, q, "")
	if err != nil {
		return err
	}
	if err := h.quota.Check(ctx, rp, string(rec.info.Digest), rec.info.Size); err != nil {
		return err
	}
	o := &object{Key: q.key, Digest: string(rec.info.Digest), Size: rec.info.Size, ETag: rec.info.MD5,
		ContentType: contentType(r.Header), Headers: headers, Checksums: rec.sums,
		CreatedBy: q.principal().String(), Modified: meta.Now(), Tags: tags}
	// The event (and the index job it calls for) commits with the object.
	var recorded func()
	_, err = h.objects.putThen(ctx, rp.ID, o, freshBlob(rec.info), writeCondOf(r.Header), func(tx *sql.Tx, replaced bool) {
		action := "s3.put"
		if replaced {
			action = "s3.replace"
		}
		recorded = h.audit.RecordIn(ctx, tx, h.event(r, action, rp.Name, q.key, map[string]any{"digest": o.Digest, "size": o.Size}))
	})
	if err != nil {
		return err
	}
	recorded()
	w.Header().Set("ETag", quote(o.ETag))
	if o.VersionID != "" {
		w.Header().Set("x-amz-version-id", o.VersionID)
	}
	rec.sums.setHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	return nil
}

// setObjectHeaders writes the headers GET and HEAD return for o.
func setObjectHeaders(hdr http.Header, o *object) {
	hdr.Set("ETag", quote(o.ETag))
	hdr.Set("Last-Modified", time.UnixMilli(o.Modified).UTC().Format(http.TimeFormat))
	hdr.Set("Content-Type", o.ContentType)
	hdr.Set("Accept-Ranges", "bytes")
	setTaggingCount(hdr, o.TagCount)
	for k, v := range o.Headers {
		if strings.HasPrefix(k, "x-amz-meta-") {
			hdr[k] = []string{v}
		} else if k != "x-amz-storage-class" {
			hdr.Set(k, v)
		}
	}
}

// responseOverrides are the query parameters of GetObject that replace
// response headers.
var responseOverrides = map[string]string{
	"response-content-type":        "Content-Type",
	"response-content-language":    "Content-Language",
	"response-expires":             "Expires",
	"response-cache-control":       "Cache-Control",
	"response-content-disposition": "Content-Disposition",
	"response-content-encoding":    "Content-Encoding",
}

// getObject is GetObject and HeadObject: ranges, part numbers,
// conditional requests, response-* overrides and, with
// x-amz-checksum-mode: ENABLED, the stored checksums.
func (h *Handler) getObject(w http.ResponseWriter, r *http.Request, q *request) error {
	ctx := r.Context()
	rp, err := h.bucket(ctx, q, auth.Read)
	if err != nil {
		return err
	}
	inlineMax := 0
	if r.Method != http.MethodHead {
		inlineMax = h.blobs.InlineMax()
	}
	o, err := h.lookupWith(ctx, rp, q.key, q.query.Get("versionId"), w.Header(), inlineMax)
	if err != nil {
		return err
	}
	// The content is opened before any header is set: a blob that went
	// missing is an error document, not the object's headers and a
	// truncated body.
	var rd *blob.Reader
	if r.Method != http.MethodHead {
		d, err := blob.ParseDigest(o.Digest)
		if err != nil {
			return errs.Wrap(err, errs.Internal, "corrupt metadata")
		}
		if o.Inline != nil {
			rd = h.blobs.InlineReader(ctx, d, o.Inline, time.UnixMilli(o.Modified))
		} else if rd, err = h.blobs.Open(ctx, d); err != nil {
			if errs.Is(err, errs.NotFound) {
				return errs.Wrap(err, errs.Internal, "stored object is missing its content")
			}
			return err
		}
		defer rd.Close()
		h.downloads.Touch(rp.ID, q.key)
	}
	hdr := w.Header()
	setObjectHeaders(hdr, o)
	if o.VersionID != "" || q.query.Get("versionId") != "" {
		hdr.Set("x-amz-version-id", vidOut(o.VersionID))
	}
	if err := checkConditions(r.Header, "", o.ETag, time.UnixMilli(o.Modified), "NotModified"); err != nil {
		return err
	}
	for param, header := range responseOverrides {
		if v := q.query.Get(param); v != "" {
			if q.sig == nil {
				return s3Error("InvalidRequest", "request specific response headers cannot be used for anonymous GET requests")
			}
			hdr.Set(header, v)
		}
	}
	start, length, partial := int64(0), o.Size, false
	wholeObject := true
	if pn := q.query.Get("partNumber"); pn != "" {
		n, err := strconv.Atoi(pn)
		if err != nil || n < 1 || n > 10000 {
			return s3Error("InvalidArgument", "part number must be an integer between 1 and 10000, inclusive")
		}
		if len(o.PartSizes) > 0 {
			if n > len(o.PartSizes) {
				return s3Error("InvalidPart", "the requested part number is not satisfiable")
			}
			for _, s := range o.PartSizes[:n-1] {
				start += s
			}
			length, partial = o.PartSizes[n-1], true
			hdr.Set("x-amz-mp-parts-count", strconv.Itoa(len(o.PartSizes)))
			wholeObject = len(o.PartSizes) == 1
		} else if n != 1 {
			return s3Error("InvalidPart", "the requested part number is not satisfiable")
		}
	} else if rg := r.Header.Get("Range"); rg != "" {
		if start, length, partial, err = parseRange(rg, o.Size); err != nil {
			hdr.Set("Content-Range", "bytes */"+strconv.FormatInt(o.Size, 10))
			return err
		}
		wholeObject = !partial
	}
	if strings.EqualFold(r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") {
		if wholeObject {
			o.Checksums.setHeaders(hdr)
		} else if n, err := strconv.Atoi(q.query.Get("partNumber")); err == nil {
			o.Checksums.setPartHeaders(hdr, n)
		}
	}
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		hdr.Set("Content-Range", "bytes "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(start+length-1, 10)+"/"+strconv.FormatInt(o.Size, 10))
	}
	hdr.Set("Content-Length", strconv.FormatInt(length, 10))
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return nil
	}
	// The blob's file itself (when blobs are files), limited by an
	// io.LimitedReader: the pair that the HTTP server hands to sendfile(2).
	src := rd.Content()
	if _, err := src.Seek(start, io.SeekStart); err != nil {
		return errs.Wrap(err, errs.Internal, "seeking in the object")
	}
	w.WriteHeader(status)
	if n, err := io.Copy(w, io.LimitReader(src, length)); err != nil || n != length {
		h.log.DebugContext(ctx, "object download ended early", "bucket", rp.Name, "key", q.key, "err", err)
		return httpx.ErrAborted
	}
	return nil
}

// parseCopySource parses x-amz-copy-source: "[/]bucket/key[?versionId=v]",
// URL-encoded; vid is "" when no version is named.
func parseCopySource(v string) (bucket, key, vid string, err error) {
	src, version, _ := strings.Cut(v, "?")
	if version != "" {
		vals, perr := url.ParseQuery(version)
		if perr != nil {
			return "", "", "", s3Error("InvalidArgument", "x-amz-copy-source is not correctly URL-encoded")
		}
		vid = vals.Get("versionId")
	}
	dec, perr := url.PathUnescape(src)
	if perr != nil {
		return "", "", "", s3Error("InvalidArgument", "x-amz-copy-source is not correctly URL-encoded")
	}
	bucket, key, _ = strings.Cut(strings.TrimPrefix(dec, "/"), "/")
	if bucket == "" || key == "" {
		return "", "", "", s3Error("InvalidArgument", "x-amz-copy-source must name a bucket and a key")
	}
	if err := validateKey(key); err != nil {
		return "", "", "", err
	}
	return bucket, key, vid, nil
}

// copySource resolves and reads-authorizes the object (or version) named
// by x-amz-copy-source, checking the x-amz-copy-source-if-* conditions.
func (h *Handler) copySource(r *http.Request, q *request) (*repo.Repository, *object, error) {
	bucket, key, vid, err := parseCopySource(r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		return nil, nil, err
	}
	srcReq := &request{target: target{bucket: bucket, key: key}, sig: q.sig, query: url.Values{}, internal: q.internal}
	rp, err := h.bucket(r.Context(), srcReq, auth.Read)
	if err != nil {
		return nil, nil, err
	}
	o, err := h.lookup(r.Context(), rp, key, vid, nil)
	if errs.CodeOf(err) == "MethodNotAllowed" {
		return nil, nil, s3Error("InvalidRequest", "the source of a copy request may not specifically refer to a delete marker by version id")
	}
	if err != nil {
		return nil, nil, err
	}
	if err := checkConditions(r.Header, "X-Amz-Copy-Source-", o.ETag, time.UnixMilli(o.Modified), "PreconditionFailed"); err != nil {
		return nil, nil, err
	}
	return rp, o, nil
}

// copyObject is CopyObject: the new key refers to the same blob (no bytes
// move). Metadata is copied (x-amz-metadata-directive COPY, the default)
// or taken from the request (REPLACE); so are tags
// (x-amz-tagging-directive, x-amz-tagging).
func (h *Handler) copyObject(w http.ResponseWriter, r *http.Request, q *request) error {
	ctx := r.Context()
	srcRepo, src, err := h.copySource(r, q)
	if err != nil {
		return err
	}
	rp, err := h.bucket(ctx, q, auth.Write)
	if err != nil {
		return err
	}
	directive := strings.ToUpper(r.Header.Get("X-Amz-Metadata-Directive"))
	if directive != "" && directive != "COPY" && directive != "REPLACE" {
		return s3Error("InvalidArgument", "unknown metadata directive %q: want COPY or REPLACE", clip(directive))
	}
	tagDirective := strings.ToUpper(r.Header.Get("X-Amz-Tagging-Directive"))
	if tagDirective != "" && tagDirective != "COPY" && tagDirective != "REPLACE" {
		return s3Error("InvalidArgument", "unknown tagging directive %q: want COPY or REPLACE", clip(tagDirective))
	}
	var tags []tag
	if tagDirective == "REPLACE" {
		if tags, err = requestTags(r); err != nil {
			return err
		}
	} else if !src.Noncurrent { // noncurrent versions keep no tags
		if tags, err = h.objects.tags(ctx, srcRepo.ID, src.Key); err != nil {
			return err
		}
	}
	// Copying a key onto itself must change something, unless the source
	// is a version named by its ID (restoring an older version).
	_, _, srcVersion, _ := parseCopySource(r.Header.Get("X-Amz-Copy-Source"))
	if srcRepo.ID == rp.ID && src.Key == q.key && directive != "REPLACE" && tagDirective != "REPLACE" && srcVersion == "" {
		return s3Error("InvalidRequest", "this copy request is illegal because it is trying to copy an object to itself without changing the object's metadata")
	}
	old, err := h.existing(ctx, rp, q.key)
	if err != nil {
		return err
	}
	if err := h.mayReplace(r, q, rp, old); err != nil {
		return err
	}
	o := *src
	o.Key, o.CreatedBy, o.Modified, o.Tags, o.UploadID, o.Noncurrent = q.key, q.principal().String(), meta.Now(), tags, "", false
	if directive == "REPLACE" {
		if o.Headers, err = storedHeaders(r.Header); err != nil {
			return err
		}
		o.ContentType = contentType(r.Header)
	}
	if _, err := h.objects.put(ctx, rp.ID, &o, blobWrite{}, writeCondOf(r.Header)); err != nil {
		if errs.CodeOf(err) == gc.CodeNotStored { // the source's blob was collected meanwhile
			return s3Error("NoSuchKey", "the copy source was deleted during the copy")
		}
		return err
	}
	h.record(r, "s3.copy", rp.Name, q.key, map[string]any{"source": srcRepo.Name + "/" + src.Key, "digest": o.Digest})
	if src.VersionID != "" {
		w.Header().Set("x-amz-copy-source-version-id", vidOut(src.VersionID))
	}
	if o.VersionID != "" {
		w.Header().Set("x-amz-version-id", o.VersionID)
	}
	res := copyObjectResult{ETag: quote(o.ETag), LastModified: s3Time(o.Modified)}
	if len(o.Checksums.Values) > 0 {
		f := fieldsOf(o.Checksums)
		res.ChecksumType = o.Checksums.Type
		res.ChecksumCRC32, res.ChecksumCRC32C, res.ChecksumCRC64 = f.ChecksumCRC32, f.ChecksumCRC32C, f.ChecksumCRC64NVME
		res.ChecksumSHA1, res.ChecksumSHA256 = f.ChecksumSHA1, f.ChecksumSHA256
	}
	return writeXML(w, res)
}

// lookup finds the object a request addresses: the current one, or the
// version vid ("null": the null version). A delete marker is
// MethodNotAllowed when named by its version, NoSuchKey when it is the
// latest version; either way hdr (when not nil) tells the client it met a
// marker, as S3 does.
func (h *Handler) lookup(ctx context.Context, rp *repo.Repository, key, vid string, hdr http.Header) (*object, error) {
	return h.lookupWith(ctx, rp, key, vid, hdr, 0)
}

// lookupWith is lookup that also reads the bytes of a current object of at
// most inlineMax bytes kept in its blob's row (store.getWith).
func (h *Handler) lookupWith(ctx context.Context, rp *repo.Repository, key, vid string, hdr http.Header, inlineMax int) (*object, error) {
	if vid == "" {
		o, err := h.objects.getWith(ctx, rp.ID, key, inlineMax)
		if errs.Is(err, errs.NotFound) && hdr != nil {
			if m, merr := h.objects.latestMarker(ctx, rp.ID, key); merr == nil && m != nil {
				hdr.Set("x-amz-delete-marker", "true")
				hdr.Set("x-amz-version-id", vidOut(m.VersionID))
			} else if merr == nil {
				hdr.Set("x-amz-delete-marker", "false")
			}
		}
		return o, err
	}
	v, err := h.objects.getVersion(ctx, rp.ID, key, vid)
	if err != nil {
		return nil, err
	}
	if v.Marker {
		if hdr != nil {
			hdr.Set("x-amz-delete-marker", "true")
			hdr.Set("x-amz-version-id", vidOut(v.VersionID))
			hdr.Set("Allow", "DELETE")
		}
		return nil, s3Error("MethodNotAllowed", "the specified method is not allowed against a delete marker")
	}
	v.Noncurrent = v.Seq != currentSeq
	return &v.object, nil
}
