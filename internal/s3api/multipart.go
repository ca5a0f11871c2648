package s3api

import (
	"crypto/rand"
	"encoding/base64"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/meta"
)

// Multipart uploads. Each part is stored as a blob of its own (so parts may
// arrive in any order, in parallel, at any arca process, and a retried
// part costs nothing twice); CompleteMultipartUpload streams the parts in
// order into one new blob, so that an object is always exactly one blob
// (see docs/architecture.md). The parts' blobs are left to garbage
// collection.

// minPartSize is S3's least size of every part but the last.
const minPartSize = 5 << 20

func newUploadID() string {
	var b [24]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// uploadChecksum reads the checksum algorithm and type of
// CreateMultipartUpload, applying S3's defaults: CRC64NVME is full-object
// only; CRC32 and CRC32C are composite unless FULL_OBJECT is asked for;
// SHA-1 and SHA-256 are composite only.
func uploadChecksum(h http.Header) (alg, typ string, err error) {
	if v := h.Get("X-Amz-Checksum-Algorithm"); v != "" {
		var ok bool
		if alg, ok = parseAlgorithm(v); !ok {
			return "", "", s3Error("InvalidRequest", "unsupported checksum algorithm %q", clip(v))
		}
	}
	typ = strings.ToUpper(h.Get("X-Amz-Checksum-Type"))
	switch {
	case typ != "" && typ != typeFullObject && typ != typeComposite:
		return "", "", s3Error("InvalidRequest", "x-amz-checksum-type must be FULL_OBJECT or COMPOSITE")
	case typ != "" && alg == "":
		return "", "", s3Error("InvalidRequest", "x-amz-checksum-type needs x-amz-checksum-algorithm")
	case alg == "":
	case typ == "" && alg == algCRC64NVME:
		typ = typeFullObject
	case typ == "":
		typ = typeComposite
	case typ == typeComposite && alg == algCRC64NVME, typ == typeFullObject && (alg == algSHA1 || alg == algSHA256):
		return "", "", s3Error("InvalidRequest", "the %s checksum type is not supported for %s", typ, alg)
	}
	return alg, typ, nil
}

// createUpload is CreateMultipartUpload.
func (h *Handler) createUpload(w http.ResponseWriter, r *http.Request, q *request) error {
	rp, err := h.bucket(r.Context(), q, auth.Write)
	if err != nil {
		return err
	}
	headers, err := storedHeaders(r.Header)
	if err != nil {
		return err
	}
	alg, typ, err := uploadChecksum(r.Header)
	if err != nil {
		return err
	}
	tags, err := requestTags(r)
	if err != nil {
		return err
	}
	u := &upload{ID: newUploadID(), RepoID: rp.ID, Key: q.key, ContentType: contentType(r.Header), Headers: headers,
		Algorithm: alg, Type: typ, Tagging: encodeTaggingHeader(tags), CreatedBy: q.principal().String(), Created: meta.Now()}
	if err := h.objects.createUpload(r.Context(), u); err != nil {
		return err
	}
	if alg != "" {
		w.Header().Set("x-amz-checksum-algorithm", alg)
		w.Header().Set("x-amz-checksum-type", typ)
	}
	return writeXML(w, initiateMultipartUploadResult{NS: s3NS, Bucket: rp.Name, Key: q.key, UploadID: u.ID})
}

// partNumber parses the partNumber parameter (1-10000).
func partNumber(q *request) (int, error) {
	n, err := strconv.Atoi(q.query.Get("partNumber"))
	if err != nil || n < 1 || n > 10000 {
		return 0, s3Error("InvalidArgument", "part number must be an integer between 1 and 10000, inclusive")
	}
	return n, nil
}

// uploadPart is UploadPart, or UploadPartCopy with x-amz-copy-source.
func (h *Handler) uploadPart(w http.ResponseWriter, r *http.Request, q *request) error {
	ctx := r.Context()
	n, err := partNumber(q)
	if err != nil {
		return err
	}
	rp, err := h.bucket(ctx, q, auth.Write)
	if err != nil {
		return err
	}
	u, err := h.objects.getUpload(ctx, rp.ID, q.key, q.query.Get("uploadId"))
	if err != nil {
		return err
	}
	if r.Header.Get("X-Amz-Copy-Source") != "" {
		return h.uploadPartCopy(w, r, q, u, n)
	}
	rec, err := h.receive(r, q, u.Algorithm)
	if err != nil {
		return err
	}
	p := &part{Number: n, Digest: string(rec.info.Digest), Size: rec.info.Size, ETag: rec.info.MD5, Checksums: rec.sums, Modified: meta.Now()}
	if err := h.objects.putPart(ctx, u.ID, p, freshBlob(rec.info)); err != nil {
		return err
	}
	w.Header().Set("ETag", quote(p.ETag))
	for alg, v := range rec.sums.Values {
		w.Header().Set(checksumHeader(alg), v)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// parseCopyRange parses x-amz-copy-source-range: "bytes=first-last".
func parseCopyRange(v string, size int64) (start, length int64, err error) {
	spec, ok := strings.CutPrefix(v, "bytes=")
	a, b, ok2 := strings.Cut(spec, "-")
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || !ok2 || err1 != nil || err2 != nil || first < 0 || last < first {
		return 0, 0, s3Error("InvalidArgument", "the x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
	}
	if last >= size {
		return 0, 0, s3Error("InvalidRange", "the requested range is not satisfiable: the source object is %d bytes", size)
	}
	return first, last - first + 1, nil
}

// uploadPartCopy is UploadPartCopy: a part taken from (a range of) an
// existing object. A whole-object copy refers to the source's blob.
func (h *Handler) uploadPartCopy(w http.ResponseWriter, r *http.Request, q *request, u *upload, n int) error {
	ctx := r.Context()
	_, src, err := h.copySource(r, q)
	if err != nil {
		return err
	}
	start, length := int64(0), src.Size
	if v := r.Header.Get("X-Amz-Copy-Source-Range"); v != "" {
		if start, length, err = parseCopyRange(v, src.Size); err != nil {
			return err
		}
	}
	if length > h.maxUpload {
		return s3Error("EntityTooLarge", "the part would exceed the maximum part size")
	}
	p := &part{Number: n, Modified: meta.Now()}
	how := blobWrite{fresh: true}
	whole := start == 0 && length == src.Size
	if sum, ok := src.Checksums.Values[u.Algorithm]; whole && !strings.Contains(src.ETag, "-") && (u.Algorithm == "" || ok && !strings.Contains(sum, "-")) {
		p.Digest, p.Size, p.ETag = src.Digest, src.Size, src.ETag
		how = blobWrite{} // the part claims the source's blob
		if u.Algorithm != "" {
			p.Checksums = checksums{Type: typeFullObject, Values: map[string]string{u.Algorithm: sum}}
		}
	} else {
		d, err := blob.ParseDigest(src.Digest)
		if err != nil {
			return errs.Wrap(err, errs.Internal, "corrupt metadata")
		}
		rd, err := h.blobs.Open(ctx, d)
		if err != nil {
			return err
		}
		defer rd.Close()
		if _, err := rd.Seek(start, io.SeekStart); err != nil {
			return errs.Wrap(err, errs.Internal, "seeking in the copy source")
		}
		var body io.Reader = io.LimitReader(rd, length)
		var sum hash.Hash
		if u.Algorithm != "" {
			sum = newChecksum(u.Algorithm)
			body = io.TeeReader(body, sum)
		}
		info, err := h.blobs.Put(ctx, body, blob.Expect{Size: length, SizeKnown: true}, blob.MD5)
		if err != nil {
			return err
		}
		p.Digest, p.Size, p.ETag = string(info.Digest), info.Size, info.MD5
		how.md5 = info.MD5
		if sum != nil {
			p.Checksums = checksums{Type: typeFullObject, Values: map[string]string{u.Algorithm: base64.StdEncoding.EncodeToString(sum.Sum(nil))}}
		}
	}
	if err := h.objects.putPart(ctx, u.ID, p, how); err != nil {
		if errs.CodeOf(err) == gc.CodeNotStored {
			return s3Error("NoSuchKey", "the copy source was deleted during the copy")
		}
		return err
	}
	return writeXML(w, copyPartResult{ETag: quote(p.ETag), LastModified: s3Time(p.Modified)})
}

// abortUpload is AbortMultipartUpload.
func (h *Handler) abortUpload(w http.ResponseWriter, r *http.Request, q *request) error {
	rp, err := h.bucket(r.Context(), q, auth.Write)
	if err != nil {
		return err
	}
	u, err := h.objects.getUpload(r.Context(), rp.ID, q.key, q.query.Get("uploadId"))
	if err != nil {
		return err
	}
	if err := h.objects.abort(r.Context(), u.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listParts is ListParts.
func (h *Handler) listParts(w http.ResponseWriter, r *http.Request, q *request) error {
	rp, err := h.bucket(r.Context(), q, auth.Read)
	if err != nil {
		return err
	}
	u, err := h.objects.getUpload(r.Context(), rp.ID, q.key, q.query.Get("uploadId"))
	if err != nil {
		return err
	}
	maxParts, marker := 1000, 0
	if v := q.query.Get("max-parts"); v != "" {
		if maxParts, err = strconv.Atoi(v); err != nil || maxParts < 0 {
			return s3Error("InvalidArgument", "max-parts must be a non-negative integer")
		}
		maxParts = min(maxParts, 1000)
	}
	if v := q.query.Get("part-number-marker"); v != "" {
		if marker, err = strconv.Atoi(v); err != nil || marker < 0 {
			return s3Error("InvalidArgument", "part-number-marker must be a non-negative integer")
		}
	}
	parts, err := h.objects.parts(r.Context(), u.ID, marker, maxParts+1)
	if err != nil {
		return err
	}
	who := owner{ID: u.CreatedBy, DisplayName: u.CreatedBy}
	res := listPartsResult{NS: s3NS, Bucket: rp.Name, Key: q.key, UploadID: u.ID, Initiator: who, Owner: who,
		StorageClass: "STANDARD", PartNumberMarker: marker, MaxParts: maxParts, ChecksumAlgorithm: u.Algorithm, ChecksumType: u.Type}
	if len(parts) > maxParts {
		parts, res.IsTruncated = parts[:maxParts], true
	}
	for _, p := range parts {
		res.Parts = append(res.Parts, partEntry{PartNumber: p.Number, LastModified: s3Time(p.Modified), ETag: quote(p.ETag), Size: p.Size,
			checksumFields: fieldsOf(p.Checksums)})
		res.NextPartNumberMarker = p.Number
	}
	return writeXML(w, res)
}

// listMultipartUploads is ListMultipartUploads.
func (h *Handler) listMultipartUploads(w http.ResponseWriter, r *http.Request, q *request) error {
	rp, err := h.bucket(r.Context(), q, auth.Read)
	if err != nil {
		return err
	}
	p, err := parseListParams(q, "key-marker")
	if err != nil {
		return err
	}
	if v := q.query.Get("max-uploads"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return s3Error("InvalidArgument", "max-uploads must be a non-negative integer")
		}
		p.maxKeys = min(n, 1000)
	}
	idMarker := q.query.Get("upload-id-marker")
	ups, err := h.objects.uploads(r.Context(), rp.ID, p.prefix, p.marker, idMarker, p.maxKeys)
	if err != nil {
		return err
	}
	res := listMultipartUploadsResult{NS: s3NS, Bucket: rp.Name, KeyMarker: p.enc(p.marker), UploadIDMarker: idMarker,
		Prefix: p.enc(p.prefix), Delimiter: p.enc(p.delimiter), MaxUploads: p.maxKeys}
	if p.encode {
		res.EncodingType = "url"
	}
	if len(ups) > p.maxKeys {
		ups, res.IsTruncated = ups[:p.maxKeys], true
	}
	for _, u := range ups {
		if p.delimiter != "" {
			if i := strings.Index(u.Key[len(p.prefix):], p.delimiter); i >= 0 {
				cp := u.Key[:len(p.prefix)+i+len(p.delimiter)]
				if n := len(res.CommonPrefixes); n == 0 || res.CommonPrefixes[n-1].Prefix != p.enc(cp) {
					res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{Prefix: p.enc(cp)})
				}
				continue
			}
		}
		who := owner{ID: u.CreatedBy, DisplayName: u.CreatedBy}
		res.Uploads = append(res.Uploads, uploadEntry{Key: p.enc(u.Key), UploadID: u.ID, Initiator: who, Owner: who,
			StorageClass: "STANDARD", Initiated: s3Time(u.Created), ChecksumAlgorithm: u.Algorithm, ChecksumType: u.Type})
	}
	if res.IsTruncated && len(ups) > 0 {
		res.NextKeyMarker, res.NextUploadIDMarker = p.enc(ups[len(ups)-1].Key), ups[len(ups)-1].ID
	}
	return writeXML(w, res)
}
