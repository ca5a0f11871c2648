package s3api

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
)

// incoming is a request body being read: the aws-chunked framing removed
// (chunk signatures verified on the way), the declared additional checksum
// computed in the same pass.
type incoming struct {
	r       io.Reader
	chunked *chunkedReader // nil for a plain body
	claim   checksumClaim
	sum     hash.Hash // of claim.Alg, or nil
	// payloadSHA256 is the signed payload hash (hex), "" when unsigned.
	payloadSHA256 string
	md5           string // Content-MD5 as hex, or ""
	size          int64  // declared decoded length, or -1
}

// openBody prepares to read r's body. alg, when set, is the checksum
// algorithm to compute even if the request declares none (a multipart
// upload's algorithm).
func (h *Handler) openBody(r *http.Request, q *request, alg string) (*incoming, error) {
	in := &incoming{r: r.Body, size: r.ContentLength}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if q.sig != nil {
		payload = q.sig.payload
	}
	var err error
	if in.claim, err = parseChecksumClaim(r.Header); err != nil {
		return nil, err
	}
	if alg != "" && in.claim.Alg != "" && in.claim.Alg != alg {
		return nil, s3Error("InvalidRequest", "checksum type mismatch: the upload expects %s, the request sent %s", alg, in.claim.Alg)
	}
	if in.claim.Alg == "" {
		in.claim.Alg = alg
	}
	if v := r.Header.Get("Content-MD5"); v != "" {
		sum, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(sum) != md5.Size {
			return nil, s3Error("InvalidDigest", "the Content-MD5 you specified is not valid")
		}
		in.md5 = hex.EncodeToString(sum)
	}
	switch payload {
	case streamingSigned, streamingSignedTrailer, streamingUnsignedTrailer:
		signer := q.sig
		if payload == streamingUnsignedTrailer {
			signer = nil
		} else if signer == nil || signer.presigned {
			return nil, s3Error("InvalidRequest", "%s needs a request signed in the Authorization header", payload)
		}
		in.size = -1
		if v := r.Header.Get("X-Amz-Decoded-Content-Length"); v != "" {
			if in.size, err = strconv.ParseInt(v, 10, 64); err != nil || in.size < 0 {
				return nil, s3Error("InvalidArgument", "x-amz-decoded-content-length is not a valid length")
			}
		} else if payload == streamingSigned {
			return nil, s3Error("MissingContentLength", "you must provide x-amz-decoded-content-length with %s", payload)
		}
		in.chunked = newChunkedReader(r.Body, signer, payload != streamingSigned)
		in.r = in.chunked
	default:
		if len(payload) == 64 {
			in.payloadSHA256 = payload
		}
		if in.claim.Trailer {
			return nil, s3Error("InvalidRequest", "x-amz-trailer needs an aws-chunked body with a STREAMING-*-TRAILER x-amz-content-sha256")
		}
		if r.ContentLength < 0 && len(r.TransferEncoding) == 0 {
			return nil, s3Error("MissingContentLength", "you must provide the Content-Length HTTP header")
		}
	}
	if in.size > h.maxUpload {
		return nil, s3Error("EntityTooLarge", "your proposed upload of %d bytes exceeds the maximum allowed size of %d bytes", in.size, h.maxUpload)
	}
	in.r = &limitReader{r: in.r, left: h.maxUpload}
	if in.claim.Alg != "" {
		in.sum = newChecksum(in.claim.Alg)
		in.r = io.TeeReader(in.r, in.sum)
	}
	return in, nil
}

// finish checks, after the body's EOF, what only the end can tell: the
// decoded length and the additional checksum (from a header or trailer).
// It returns the checksum computed.
func (in *incoming) finish(n int64) (checksums, error) {
	if in.chunked != nil && in.size >= 0 && n != in.size {
		return checksums{}, s3Error("IncompleteBody", "you did not provide the number of bytes specified by x-amz-decoded-content-length")
	}
	if in.sum == nil {
		return checksums{}, nil
	}
	computed := base64.StdEncoding.EncodeToString(in.sum.Sum(nil))
	want := in.claim.Value
	if in.claim.Trailer {
		want = in.chunked.Trailer[checksumHeader(in.claim.Alg)]
		if want == "" {
			return checksums{}, s3Error("InvalidRequest", "the trailing %s the request announced is missing", checksumHeader(in.claim.Alg))
		}
		if err := checkChecksumValue(in.claim.Alg, want, "trailing header"); err != nil {
			return checksums{}, err
		}
	}
	if want != "" && want != computed {
		return checksums{}, s3Error("BadDigest", "the %s you specified did not match the calculated checksum", in.claim.Alg)
	}
	return checksums{Type: typeFullObject, Values: map[string]string{in.claim.Alg: computed}}, nil
}

// received is what an upload of object bytes stored.
type received struct {
	info blob.Info
	sums checksums
}

// receive streams an object's (or part's) bytes into the blob store and
// verifies everything the request claimed — payload hash, chunk and trailer
// signatures, Content-MD5, the additional checksum, the length — before
// committing. On any error nothing is stored.
func (h *Handler) receive(r *http.Request, q *request, alg string) (received, error) {
	in, err := h.openBody(r, q, alg)
	if err != nil {
		return received{}, err
	}
	ctx := r.Context()
	w, err := h.blobs.CreateInline(ctx, blob.MD5) // put and putPart record Info.Inline
	if err != nil {
		return received{}, err
	}
	fail := func(err error) (received, error) {
		w.Cancel(context.WithoutCancel(ctx))
		return received{}, err
	}
	n, err := io.Copy(w, in.r)
	if err != nil {
		return fail(bodyError(err))
	}
	sums, err := in.finish(n)
	if err != nil {
		return fail(err)
	}
	if in.payloadSHA256 != "" && w.Digest().Hex() != in.payloadSHA256 {
		return fail(s3Error("XAmzContentSHA256Mismatch", "the provided x-amz-content-sha256 header does not match what was computed"))
	}
	want := blob.Expect{MD5: in.md5}
	if in.chunked == nil && r.ContentLength >= 0 {
		want.Size, want.SizeKnown = r.ContentLength, true
	}
	info, err := w.Commit(ctx, want)
	if err != nil {
		if errs.CodeOf(err) == "DIGEST_INVALID" {
			return received{}, s3Error("BadDigest", "the Content-MD5 you specified did not match what we received")
		}
		return received{}, err
	}
	return received{info: info, sums: sums}, nil
}

// readBody reads a small request body (an XML document) whole, verified
// like an object's bytes.
func (h *Handler) readBody(r *http.Request, q *request) ([]byte, error) {
	in, err := h.openBody(r, q, "")
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(in.r, maxXMLBody+1))
	if err != nil {
		return nil, bodyError(err)
	}
	if len(b) > maxXMLBody {
		return nil, s3Error("MaxMessageLengthExceeded", "your request was too big")
	}
	if _, err := in.finish(int64(len(b))); err != nil {
		return nil, err
	}
	if in.payloadSHA256 != "" {
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != in.payloadSHA256 {
			return nil, s3Error("XAmzContentSHA256Mismatch", "the provided x-amz-content-sha256 header does not match what was computed")
		}
	}
	if in.md5 != "" {
		if sum := md5.Sum(b); hex.EncodeToString(sum[:]) != in.md5 {
			return nil, s3Error("BadDigest", "the Content-MD5 you specified did not match what we received")
		}
	}
	return bytes.TrimSpace(b), nil
}

// bodyError classifies an error from reading a request body: errors that
// carry a code (bad chunk signature, too large) keep it; others mean the
// client sent less than it announced or went away.
func bodyError(err error) error {
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return errs.Wrap(err, errs.Invalid, "upload interrupted")
	}
	return errs.Wrap(err, errs.Invalid, "reading the request body failed").(*errs.Error).WithCode("IncompleteBody")
}

// limitReader fails with EntityTooLarge past left bytes.
type limitReader struct {
	r    io.Reader
	left int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, s3Error("EntityTooLarge", "your proposed upload exceeds the maximum allowed size")
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, s3Error("EntityTooLarge", "your proposed upload exceeds the maximum allowed size")
	}
	return n, err
}

// storedHeaders collects the content headers and user metadata of a
// request, to be stored with the object and returned by GET and HEAD.
// aws-chunked is removed from Content-Encoding: it describes the upload,
// not the object.
func storedHeaders(h http.Header) (map[string]string, error) {
	m := map[string]string{}
	userSize := 0
	for k, vs := range h {
		lk := strings.ToLower(k)
		v := strings.Join(vs, ",")
		switch {
		case strings.HasPrefix(lk, "x-amz-meta-"):
			m[lk] = v
			userSize += len(lk) - len("x-amz-meta-") + len(v)
		case lk == "cache-control", lk == "content-disposition", lk == "content-language", lk == "expires",
			lk == "x-amz-website-redirect-location", lk == "x-amz-storage-class":
			m[lk] = v
		case lk == "content-encoding":
			if e := withoutAWSChunked(v); e != "" {
				m[lk] = e
			}
		}
	}
	if userSize > 2048 {
		return nil, s3Error("MetadataTooLarge", "your metadata headers exceed the maximum allowed metadata size (2 KB)")
	}
	return m, nil
}

// contentType is the Content-Type to store (S3's default when none).
func contentType(h http.Header) string {
	if v := h.Get("Content-Type"); v != "" {
		return v
	}
	return "binary/octet-stream"
}

// withoutAWSChunked is a Content-Encoding value without its aws-chunked
// token, otherwise byte for byte as sent ("deflate, gzip" stays so).
func withoutAWSChunked(v string) string {
	items := strings.Split(v, ",")
	keep := items[:0]
	for _, e := range items {
		if !strings.EqualFold(strings.TrimSpace(e), "aws-chunked") {
			keep = append(keep, e)
		}
	}
	if len(keep) == len(items) {
		return v
	}
	return strings.TrimSpace(strings.Join(keep, ","))
}
