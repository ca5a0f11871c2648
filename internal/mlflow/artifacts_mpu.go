package mlflow

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/s3api"
)

// Proxied multipart uploads (MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD). The
// client asks mpu/create for an upload of one file into a directory and
// gets one URL per part; it PUTs each part to its URL without MLflow
// credentials (as it would to presigned S3 URLs), then calls mpu/complete
// with the parts' ETags, or mpu/abort. A part URL carries an expiry and an
// HMAC of (upload, part number, expiry) under a key kept in
// server_secrets, so any arca process accepts it and nobody can forge
// one.

// partURLTTL is how long part URLs stay valid: long enough for a slow
// upload of many parts.
const partURLTTL = 12 * time.Hour

// partKeySecret names the HMAC key of part URLs among the server keys.
const partKeySecret = "mlflow_artifact_part_key"

// partKey returns the HMAC key of part URLs (a server key in
// internal/keyring, created on first use; every process reads the same).
func (h *Handler) partKey(ctx context.Context) ([]byte, error) {
	return h.keys.Key(ctx, partKeySecret)
}

// partSignature is the signature of a part URL: hex HMAC-SHA256 of the
// upload ID, part number and expiry (Unix seconds).
func partSignature(key []byte, uploadID string, part int, expires int64) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("mlflow-artifacts-part\n" + uploadID + "\n" + strconv.Itoa(part) + "\n" + strconv.FormatInt(expires, 10)))
	return hex.EncodeToString(m.Sum(nil))
}

// partURL is where the client PUTs one part.
func (h *Handler) partURL(r *http.Request, key []byte, uploadID string, part int, expires int64) string {
	q := url.Values{"expires": {strconv.FormatInt(expires, 10)}, "signature": {partSignature(key, uploadID, part, expires)}}
	return h.mpuBaseURL(r) + "/mlflow" + ar + "/mpu/part/" + url.PathEscape(uploadID) + "/" + strconv.Itoa(part) + "?" + q.Encode()
}

// mpuBaseURL is the URL clients reach arca at: the configured public URL,
// or the request's scheme and host.
func (h *Handler) mpuBaseURL(r *http.Request) string {
	if h.publicURL != "" {
		return strings.TrimSuffix(h.publicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// verifyPartURL checks a part request's expiry and signature.
func (h *Handler) verifyPartURL(r *http.Request, uploadID string, part int) error {
	q := r.URL.Query()
	expires, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	sig := q.Get("signature")
	if err != nil || sig == "" {
		return errs.E(errs.Denied, "part URLs must be signed; ask mpu/create for one").WithCode(codePermissionDenied)
	}
	key, err := h.partKey(r.Context())
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(sig), []byte(partSignature(key, uploadID, part, expires))) {
		return errs.E(errs.Denied, "invalid part URL signature").WithCode(codePermissionDenied)
	}
	if time.Now().Unix() > expires {
		return errs.E(errs.Denied, "the part URL has expired").WithCode(codePermissionDenied)
	}
	return nil
}

// mpuRequest is CreateMultipartUpload, CompleteMultipartUpload and
// AbortMultipartUpload of mlflow_artifacts.proto.
type mpuRequest struct {
	Path     string    `json:"path"`
	NumParts Int64     `json:"num_parts"`
	UploadID string    `json:"upload_id"`
	Parts    []mpuPart `json:"parts"`
}

type mpuPart struct {
	PartNumber Int64  `json:"part_number"`
	ETag       string `json:"etag"`
	URL        string `json:"url,omitempty"`
}

type mpuCredential struct {
	URL        string            `json:"url"`
	PartNumber int               `json:"part_number"`
	Headers    map[string]string `json:"headers"`
}

// mpuTarget decodes a multipart request and returns it with the key it
// uploads to: the route's directory joined with the base name of the
// client's local file (as MLflow's S3 repository names it).
func (h *Handler) mpuTarget(r *http.Request) (*mpuRequest, string, error) {
	var req mpuRequest
	if err := decode(r, &req); err != nil {
		return nil, "", err
	}
	if req.Path == "" {
		return nil, "", invalidParam("missing value for required parameter 'path'")
	}
	base := req.Path[strings.LastIndexAny(req.Path, `/\`)+1:]
	dir := r.PathValue("path")
	if dir != "" {
		d, err := cleanArtifactPath(strings.TrimSuffix(dir, "/"))
		if err != nil {
			return nil, "", err
		}
		dir = d
	}
	key, err := cleanArtifactPath(joinArtifactPath(dir, base))
	if err != nil {
		return nil, "", err
	}
	return &req, key, nil
}

// createMultipartUpload is POST mpu/create/<dir>.
func (h *Handler) createMultipartUpload(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	req, key, err := h.mpuTarget(r)
	if err != nil {
		return err
	}
	if req.NumParts < 1 || req.NumParts > 10000 {
		return invalidParam("num_parts must be between 1 and 10000, got %d", req.NumParts)
	}
	if err := h.requireArtifact(ctx, key, Edit); err != nil {
		return err
	}
	bucket, err := h.artifactBucket(ctx)
	if err != nil {
		return err
	}
	secret, err := h.partKey(ctx)
	if err != nil {
		return err
	}
	id, err := h.objects.CreateUpload(ctx, bucket, key, "")
	if err != nil {
		return objectError(err, bucket)
	}
	expires := time.Now().Add(partURLTTL).Unix()
	creds := make([]mpuCredential, req.NumParts)
	for i := range creds {
		creds[i] = mpuCredential{URL: h.partURL(r, secret, id, i+1, expires), PartNumber: i + 1, Headers: map[string]string{}}
	}
	return reply(w, struct {
		UploadID    string          `json:"upload_id"`
		Credentials []mpuCredential `json:"credentials"`
	}{id, creds})
}

// uploadPart is PUT mpu/part/<upload_id>/<part_number>, authorized by the
// URL's signature alone.
func (h *Handler) uploadPart(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("upload_id")
	n, err := strconv.Atoi(r.PathValue("part_number"))
	if err != nil || n < 1 || n > 10000 {
		return invalidParam("part number must be an integer between 1 and 10000")
	}
	if err := h.verifyPartURL(r, id, n); err != nil {
		return err
	}
	bucket, err := h.artifactBucket(ctx)
	if err != nil {
		return err
	}
	etag, err := h.objects.UploadPart(ctx, bucket, id, n, r.Body, r.ContentLength)
	if errs.CodeOf(err) == "NoSuchUpload" {
		return notExist("multipart upload %q does not exist (completed, aborted or expired)", id)
	}
	if err != nil {
		return objectError(err, bucket)
	}
	w.Header().Set("ETag", `"`+etag+`"`)
	return reply(w, nil)
}

// completeMultipartUpload is POST mpu/complete/<dir>.
func (h *Handler) completeMultipartUpload(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	req, key, err := h.mpuTarget(r)
	if err != nil {
		return err
	}
	if req.UploadID == "" || len(req.Parts) == 0 {
		return invalidParam("upload_id and parts are required")
	}
	if err := h.requireArtifact(ctx, key, Edit); err != nil {
		return err
	}
	bucket, err := h.artifactBucket(ctx)
	if err != nil {
		return err
	}
	parts := make([]s3api.CompletedPart, len(req.Parts))
	for i, p := range req.Parts {
		parts[i] = s3api.CompletedPart{Number: int(p.PartNumber), ETag: p.ETag}
	}
	info, err := h.objects.CompleteUpload(ctx, bucket, key, req.UploadID, parts)
	if errs.CodeOf(err) == "NoSuchUpload" {
		return notExist("multipart upload %q of %q does not exist", req.UploadID, key)
	}
	if err != nil {
		return objectError(err, bucket)
	}
	h.recordArtifact(r, "mlflow.artifact.put", key, map[string]any{"bucket": bucket, "digest": info.Digest, "size": info.Size, "parts": len(parts)})
	return reply(w, nil)
}

// abortMultipartUpload is POST mpu/abort/<dir>.
func (h *Handler) abortMultipartUpload(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	req, key, err := h.mpuTarget(r)
	if err != nil {
		return err
	}
	if req.UploadID == "" {
		return invalidParam("missing value for required parameter 'upload_id'")
	}
	if err := h.requireArtifact(ctx, key, Edit); err != nil {
		return err
	}
	bucket, err := h.artifactBucket(ctx)
	if err != nil {
		return err
	}
	err = h.objects.AbortUpload(ctx, bucket, key, req.UploadID)
	if errs.CodeOf(err) == "NoSuchUpload" {
		return notExist("multipart upload %q of %q does not exist", req.UploadID, key)
	}
	if err != nil {
		return objectError(err, bucket)
	}
	return reply(w, nil)
}
