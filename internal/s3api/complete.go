package s3api

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/meta"
)

// CompleteMultipartUpload: the parts are checked against the request,
// concatenated into one blob, and the object recorded in the transaction
// that ends the upload.

// completeUpload is CompleteMultipartUpload.
func (h *Handler) completeUpload(w http.ResponseWriter, r *http.Request, q *request) error {
	ctx := r.Context()
	rp, err := h.bucket(ctx, q, auth.Write)
	if err != nil {
		return err
	}
	u, err := h.objects.getUpload(ctx, rp.ID, q.key, q.query.Get("uploadId"))
	if errs.CodeOf(err) == "NoSuchUpload" {
		// A retry of a Complete that succeeded answers as it did, for as
		// long as the key holds the object that upload made.
		done, derr := h.objects.completedFrom(ctx, rp.ID, q.key, q.query.Get("uploadId"))
		if derr != nil {
			return derr
		}
		if done != nil {
			return writeXML(w, completeResultOf(r, rp.Name, done))
		}
	}
	if err != nil {
		return err
	}
	claim, err := parseCompleteClaim(r.Header)
	if err != nil {
		return err
	}
	if claim.Alg != "" && u.Algorithm != "" && claim.Alg != u.Algorithm {
		return s3Error("InvalidRequest", "checksum type mismatch: the upload was created with %s, the request sent %s", u.Algorithm, claim.Alg)
	}
	// The x-amz-checksum-* headers of Complete describe the object, not
	// the XML body: they are checked against the assembled object below.
	body, err := h.readBody(withoutChecksumHeaders(r), q)
	if err != nil {
		return err
	}
	var req completeRequest
	if err := decodeXML(strings.NewReader(string(body)), &req); err != nil {
		return err
	}
	if len(req.Parts) == 0 || len(req.Parts) > 10000 {
		return s3Error("MalformedXML", "CompleteMultipartUpload lists 1 to 10000 parts")
	}
	stored, err := h.objects.parts(ctx, u.ID, 0, 10000)
	if err != nil {
		return err
	}
	byNumber := make(map[int]*part, len(stored))
	for _, p := range stored {
		byNumber[p.Number] = p
	}
	listed, err := lastOfEachPart(req)
	if err != nil {
		return err
	}
	parts := make([]*part, len(listed))
	var total int64
	etags := md5.New()
	for i, rp := range listed {
		p := byNumber[rp.PartNumber]
		if p == nil || strings.Trim(rp.ETag, `" `) != p.ETag {
			return s3Error("InvalidPart", "one or more of the specified parts could not be found; part %d may not have been uploaded, or its ETag does not match", rp.PartNumber)
		}
		if u.Algorithm != "" {
			if claimed := rp.get(u.Algorithm); claimed != "" && claimed != p.Checksums.Values[u.Algorithm] {
				return s3Error("InvalidPart", "the %s checksum of part %d does not match the uploaded part", u.Algorithm, rp.PartNumber)
			}
		}
		if i < len(listed)-1 && p.Size < minPartSize {
			return s3Error("EntityTooSmall", "your proposed upload is smaller than the minimum allowed object size: every part but the last must be at least 5 MiB")
		}
		raw, _ := hex.DecodeString(p.ETag)
		etags.Write(raw)
		total += p.Size
		parts[i] = p
	}
	old, err := h.existing(ctx, rp, q.key)
	if err != nil {
		return err
	}
	if err := h.mayReplace(r, q, rp, old); err != nil {
		return err
	}
	tags, err := parseTaggingHeader(u.Tagging)
	if err != nil {
		return err
	}
	o := &object{Key: q.key, Size: total, ETag: hex.EncodeToString(etags.Sum(nil)) + "-" + strconv.Itoa(len(parts)),
		ContentType: u.ContentType, Headers: u.Headers, CreatedBy: q.principal().String(), Tags: tags, UploadID: u.ID}
	for _, p := range parts {
		o.PartSizes = append(o.PartSizes, p.Size)
	}
	if v := r.Header.Get("X-Amz-Mp-Object-Size"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err != nil || n != total {
			return s3Error("InvalidRequest", "x-amz-mp-object-size %q does not match the size of the parts, %d bytes", clip(v), total)
		}
	}

	if err := h.quota.Check(ctx, rp, "", total); err != nil {
		return err
	}

	// Concatenate. While that runs, the response has not started; if it
	// takes long, S3's convention is followed: 200 and whitespace are sent
	// to keep the connection alive, and the result (or an error document)
	// follows in the body.
	ka := &keepAlive{w: w, start: time.Now()}
	full := map[string]hash.Hash{}
	if u.Type == typeFullObject {
		full[u.Algorithm] = newChecksum(u.Algorithm)
	}
	if claim.Alg != "" && claim.Parts == 0 && full[claim.Alg] == nil {
		full[claim.Alg] = newChecksum(claim.Alg)
	}
	digest, how, err := h.concatenate(ctx, parts, total, hashWriter(full), ka)
	if err == nil {
		o.Digest = digest
		o.Checksums, err = uploadChecksums(u, claim, full, parts)
	}
	if err == nil {
		o.Modified = meta.Now()
		_, err = h.objects.complete(ctx, rp.ID, u.ID, o, how, writeCondOf(r.Header))
	}
	if err != nil {
		if !ka.started {
			return err
		}
		code, _ := errorCode(err)
		if code == "InternalError" || code == "ServiceUnavailable" {
			h.log.ErrorContext(ctx, "completing a multipart upload failed", "bucket", rp.Name, "key", q.key, "err", err)
		}
		xml.NewEncoder(w).Encode(errorBody{Code: code, Message: errs.Message(err), BucketName: rp.Name, Key: q.key,
			RequestID: httpx.RequestID(ctx), HostID: httpx.RequestID(ctx)})
		return nil
	}
	h.record(r, "s3.put", rp.Name, q.key, map[string]any{"digest": o.Digest, "size": o.Size, "parts": len(parts)})
	res := completeResultOf(r, rp.Name, o)
	if ka.started {
		return xml.NewEncoder(w).Encode(res)
	}
	if o.VersionID != "" {
		w.Header().Set("x-amz-version-id", o.VersionID)
	}
	return writeXML(w, res)
}

// uploadChecksums are the checksums of a completed upload, after the
// object checksum the request states (claim) is verified: a full-object
// value against the checksum computed while concatenating, a composite
// "<base64>-N" against the composite of the parts' checksums. The object
// keeps the upload's checksum (full-object or composite, as created), or
// the verified claim when the upload declared none.
func uploadChecksums(u *upload, claim completeClaim, full map[string]hash.Hash, parts []*part) (checksums, error) {
	value := func(alg string, composed bool) (string, error) {
		if !composed {
			return base64.StdEncoding.EncodeToString(full[alg].Sum(nil)), nil
		}
		sums := make([]string, len(parts))
		for i, p := range parts {
			sums[i] = p.Checksums.Values[alg]
		}
		v, ok := composite(alg, sums)
		if !ok {
			return "", s3Error("InvalidRequest", "the parts of this upload were not uploaded with %s checksums", alg)
		}
		return v, nil
	}
	if claim.Alg != "" {
		got, err := value(claim.Alg, claim.Parts > 0)
		if err != nil {
			return checksums{}, err
		}
		if got != claim.Value {
			return checksums{}, s3Error("BadDigest", "the %s you specified did not match the calculated checksum", claim.Alg)
		}
	}
	switch {
	case u.Algorithm != "":
		v, err := value(u.Algorithm, u.Type != typeFullObject)
		if err != nil {
			return checksums{}, s3Error("InvalidPart", "a part lacks its %s checksum", u.Algorithm)
		}
		c := checksums{Type: u.Type, Values: map[string]string{u.Algorithm: v}}
		for _, p := range parts {
			c.Parts = append(c.Parts, p.Checksums.Values[u.Algorithm])
		}
		return c, nil
	case claim.Alg != "" && claim.Parts > 0:
		return checksums{Type: typeComposite, Values: map[string]string{claim.Alg: claim.Value}}, nil
	case claim.Alg != "":
		return checksums{Type: typeFullObject, Values: map[string]string{claim.Alg: claim.Value}}, nil
	}
	return checksums{}, nil
}

// hashWriter writes to every hash of m; nil when m is empty.
func hashWriter(m map[string]hash.Hash) io.Writer {
	if len(m) == 0 {
		return nil
	}
	ws := make([]io.Writer, 0, len(m))
	for _, h := range m {
		ws = append(ws, h)
	}
	return io.MultiWriter(ws...)
}

// concatenate writes the parts, in order, into one new blob and returns
// its digest. A single part is already that blob, which is then not
// fresh (the object claims the part's blob).
func (h *Handler) concatenate(ctx context.Context, parts []*part, total int64, full io.Writer, ka *keepAlive) (string, blobWrite, error) {
	if len(parts) == 1 && full == nil {
		return parts[0].Digest, blobWrite{}, nil
	}
	w, err := h.blobs.Create(ctx, 0)
	if err != nil {
		return "", blobWrite{}, err
	}
	var dst io.Writer = w
	if full != nil {
		dst = io.MultiWriter(w, full)
	}
	buf := make([]byte, 256<<10)
	for _, p := range parts {
		d, err := blob.ParseDigest(p.Digest)
		if err != nil {
			w.Cancel(ctx)
			return "", blobWrite{}, errs.Wrap(err, errs.Internal, "corrupt part metadata")
		}
		rd, err := h.blobs.Open(ctx, d)
		if err != nil {
			w.Cancel(ctx)
			return "", blobWrite{}, errs.Wrap(err, errs.Internal, "part %d is missing its content", p.Number)
		}
		for {
			n, rerr := rd.Read(buf)
			if n > 0 {
				if _, err := dst.Write(buf[:n]); err != nil {
					rd.Close()
					w.Cancel(ctx)
					return "", blobWrite{}, err
				}
				ka.tick()
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				rd.Close()
				w.Cancel(ctx)
				return "", blobWrite{}, errs.Wrap(rerr, errs.Unavailable, "reading part %d", p.Number)
			}
		}
		rd.Close()
	}
	info, err := w.Commit(ctx, blob.Expect{Size: total, SizeKnown: true})
	if err != nil {
		return "", blobWrite{}, err
	}
	return string(info.Digest), blobWrite{fresh: true}, nil
}

// keepAlive starts a 200 response and sends whitespace while a long
// CompleteMultipartUpload runs, as S3 does, so clients do not time out.
type keepAlive struct {
	w       http.ResponseWriter
	start   time.Time
	last    time.Time
	started bool
}

const keepAliveEvery = 10 * time.Second

func (k *keepAlive) tick() {
	if k == nil { // no response to keep alive (the object API)
		return
	}
	now := time.Now()
	switch {
	case !k.started && now.Sub(k.start) >= keepAliveEvery:
		k.w.Header().Set("Content-Type", "application/xml")
		k.w.WriteHeader(http.StatusOK)
		k.w.Write([]byte(xml.Header))
		k.started, k.last = true, now
	case k.started && now.Sub(k.last) >= keepAliveEvery:
		k.w.Write([]byte(" "))
		k.last = now
	default:
		return
	}
	if f, ok := k.w.(http.Flusher); ok {
		f.Flush()
	}
}

// objectURL is the Location of an object in CompleteMultipartUpload.
func objectURL(r *http.Request, bucket, key string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/" + bucket + "/" + uriEncode(key, true)
}

// completeResultOf is CompleteMultipartUpload's answer for object o.
func completeResultOf(r *http.Request, bucket string, o *object) completeResult {
	res := completeResult{NS: s3NS, Location: objectURL(r, bucket, o.Key), Bucket: bucket, Key: o.Key, ETag: quote(o.ETag)}
	if len(o.Checksums.Values) > 0 {
		res.checksumFields = fieldsOf(o.Checksums)
		res.ChecksumType = o.Checksums.Type
	}
	return res
}

// lastOfEachPart checks that a Complete request lists its parts in
// ascending order and keeps, of a part number listed more than once in a
// row, the last entry: a client that uploaded a part twice concurrently
// lists both uploads in the order they finished, and the part stored is
// the one that finished last.
func lastOfEachPart(req completeRequest) ([]completePart, error) {
	out := make([]completePart, 0, len(req.Parts))
	for _, p := range req.Parts {
		n := len(out)
		switch {
		case n > 0 && p.PartNumber == out[n-1].PartNumber:
			out[n-1] = p
		case n > 0 && p.PartNumber < out[n-1].PartNumber:
			return nil, s3Error("InvalidPartOrder", "the list of parts was not in ascending order; parts must be ordered by part number")
		default:
			out = append(out, p)
		}
	}
	return out, nil
}
