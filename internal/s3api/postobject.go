package s3api

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/meta"
)

// POST Object: an upload from an HTML form (multipart/form-data) to the
// bucket's URL. The form's fields name the key and the object's headers;
// a policy document, signed with an access key (SigV4: x-amz-credential,
// x-amz-date, x-amz-signature; or SigV2: AWSAccessKeyId, signature),
// states what the form may upload; its signer is who uploads. A form
// without a policy is anonymous.
//
// Everything is reachable without credentials until the policy's
// signature is verified, so the fields before the file are bounded
// (maxFormFields bytes, maxFormFieldCount fields) and no byte of the file
// is read before the signature, the policy's conditions and the
// signer's permission were checked.

const (
	maxFormFields     = 1 << 20 // bytes of the request before the file
	maxFormFieldCount = 200
)

// postResponse is the body of a POST Object answered with 201.
type postResponse struct {
	XMLName  xml.Name `xml:"PostResponse"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
}

// budgetReader fails once more than left bytes were read; the limit can
// be raised as the request proves itself.
type budgetReader struct {
	r    io.Reader
	left int64
	err  error
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, b.err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// readForm reads the form's fields up to the file: lower-case names to
// values, and the file's part. A form without a file is an error.
func readForm(r *http.Request, body io.Reader) (map[string]string, *multipart.Part, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, nil, s3Error("MalformedPOSTRequest", "a POST to a bucket must be a multipart/form-data upload")
	}
	mr := multipart.NewReader(body, params["boundary"])
	fields := map[string]string{}
	for n := 0; ; n++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, nil, s3Error("IncorrectNumberOfFilesInPostRequest", "POST requires exactly one file upload per request")
		}
		if err != nil {
			var e *errs.Error
			if errors.As(err, &e) {
				return nil, nil, err
			}
			return nil, nil, s3Error("MalformedPOSTRequest", "the body of your POST request is not well-formed multipart/form-data")
		}
		name := strings.ToLower(part.FormName())
		if name == "file" {
			return fields, part, nil
		}
		if n >= maxFormFieldCount {
			return nil, nil, s3Error("MaxPostPreDataLengthExceeded", "your POST request has more than %d fields before the file", maxFormFieldCount)
		}
		v, err := io.ReadAll(part)
		if err != nil {
			return nil, nil, bodyError(err)
		}
		if name != "" {
			fields[name] = string(v)
		}
	}
}

// postSigner verifies the policy's signature and returns its signer; a
// form without a policy is anonymous (the zero principal).
func (h *Handler) postSigner(ctx context.Context, fields map[string]string) (auth.Principal, error) {
	policy := fields["policy"]
	v4 := fields["x-amz-credential"] != "" || fields["x-amz-signature"] != "" || fields["x-amz-algorithm"] != ""
	v2 := fields["awsaccesskeyid"] != "" || fields["signature"] != ""
	if policy == "" {
		if v2 || v4 {
			return auth.Principal{}, s3Error("InvalidArgument", "a signed POST needs its policy in the \"policy\" field")
		}
		return auth.Principal{}, nil
	}
	var id, sig string
	var cred credential
	switch {
	case v4:
		if fields["x-amz-algorithm"] != "AWS4-HMAC-SHA256" {
			return auth.Principal{}, s3Error("InvalidArgument", "x-amz-algorithm must be AWS4-HMAC-SHA256")
		}
		var err error
		if cred, err = parseCredential(fields["x-amz-credential"]); err != nil {
			return auth.Principal{}, s3Error("InvalidArgument", "%s", errs.Message(err))
		}
		id, sig = cred.AccessKey, fields["x-amz-signature"]
	case v2:
		id, sig = fields["awsaccesskeyid"], fields["signature"]
	default:
		return auth.Principal{}, s3Error("InvalidArgument", "a POST with a policy must be signed (x-amz-credential and x-amz-signature, or AWSAccessKeyId and signature)")
	}
	if id == "" || sig == "" {
		return auth.Principal{}, s3Error("InvalidArgument", "a signed POST needs both the access key ID and the signature")
	}
	principal, secret, err := h.auth.AccessKeySecret(ctx, id)
	if err != nil {
		if errs.Is(err, errs.Unauthenticated) {
			return auth.Principal{}, s3Error("InvalidAccessKeyId", "the access key ID you provided does not exist in our records")
		}
		return auth.Principal{}, err
	}
	want := v2Sign(secret, policy)
	if v4 {
		want = sign(signingKey(secret, cred), policy)
	}
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return auth.Principal{}, s3Error("SignatureDoesNotMatch", "the policy signature we calculated does not match the signature you provided; check your key and signing method")
	}
	return principal, nil
}

// postObject is POST Object, a browser-form upload.
func (h *Handler) postObject(w http.ResponseWriter, r *http.Request, q *request) error {
	ctx := r.Context()
	budget := &budgetReader{r: r.Body, left: maxFormFields,
		err: s3Error("MaxPostPreDataLengthExceeded", "your POST request fields preceding the upload file were too large")}
	fields, file, err := readForm(r, budget)
	if err != nil {
		return err
	}
	principal, err := h.postSigner(ctx, fields)
	if err != nil {
		return err
	}
	key := fields["key"]
	if key == "" {
		return s3Error("InvalidArgument", "bucket POST must contain a field named 'key'")
	}
	key = strings.ReplaceAll(key, "${filename}", file.FileName())
	if err := validateKey(key); err != nil {
		return err
	}
	fields["key"], fields["bucket"] = key, q.bucket
	lo, hi := int64(0), int64(-1)
	if fields["policy"] != "" {
		doc, err := base64.StdEncoding.DecodeString(fields["policy"])
		if err != nil {
			return s3Error("InvalidPolicyDocument", "the policy is not base64")
		}
		p, err := parsePostPolicy(doc)
		if err != nil {
			return err
		}
		if lo, hi, err = p.check(fields, h.now()); err != nil {
			return err
		}
	}
	// From here on the request acts as the policy's signer, on the key.
	pq := &request{target: target{bucket: q.bucket, key: key}, query: url.Values{}}
	if principal.Kind != "" {
		pq.sig = &signature{principal: principal}
		ctx = auth.WithPrincipal(ctx, principal)
		httpx.SetUser(ctx, principal.String())
		r = r.WithContext(ctx)
	}
	rp, err := h.bucket(ctx, pq, auth.Write)
	if err != nil {
		return err
	}
	hdr := http.Header{}
	for k, v := range fields {
		hdr.Set(k, v)
	}
	old, err := h.existing(ctx, rp, key)
	if err != nil {
		return err
	}
	// A form has no conditional-write headers; the replace rule applies.
	noConds := r.Clone(ctx)
	noConds.Header = http.Header{}
	if err := h.mayReplace(noConds, pq, rp, old); err != nil {
		return err
	}
	headers, err := storedHeaders(hdr)
	if err != nil {
		return err
	}
	var tags []tag
	if v := fields["tagging"]; v != "" {
		if tags, err = parseTaggingXML([]byte(v)); err != nil {
			return err
		}
	}
	claim, err := parseChecksumClaim(hdr)
	if err != nil {
		return err
	}
	if claim.Trailer {
		return s3Error("InvalidRequest", "a POST upload cannot have trailing checksums")
	}
	max := h.maxUpload
	if hi >= 0 && hi < max {
		max = hi
	}
	budget.left = max + 1<<16 // the file, its closing boundary and any epilogue
	budget.err = s3Error("EntityTooLarge", "your proposed upload exceeds the maximum allowed size of %d bytes", max)
	rec, err := h.receiveFile(ctx, file, claim, lo, max)
	if err != nil {
		return err
	}
	o := &object{Key: key, Digest: string(rec.info.Digest), Size: rec.info.Size, ETag: rec.info.MD5,
		ContentType: contentType(hdr), Headers: headers, Checksums: rec.sums,
		CreatedBy: pq.principal().String(), Modified: meta.Now(), Tags: tags}
	replaced, err := h.objects.put(ctx, rp.ID, o, freshBlob(rec.info), writeCond{})
	if err != nil {
		return err
	}
	action := "s3.put"
	if replaced {
		action = "s3.replace"
	}
	h.record(r, action, rp.Name, key, map[string]any{"digest": o.Digest, "size": o.Size, "form": true})
	w.Header().Set("ETag", quote(o.ETag))
	if o.VersionID != "" {
		w.Header().Set("x-amz-version-id", o.VersionID)
	}
	location := "/" + uriEncode(rp.Name, false) + "/" + uriEncode(key, true)
	w.Header().Set("Location", location)
	if redirect := fields["success_action_redirect"]; redirect != "" {
		if u, err := url.Parse(redirect); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			v := u.Query()
			v.Set("bucket", rp.Name)
			v.Set("key", key)
			v.Set("etag", quote(o.ETag))
			u.RawQuery = v.Encode()
			http.Redirect(w, r, u.String(), http.StatusSeeOther)
			return nil
		}
	}
	switch fields["success_action_status"] {
	case "200":
		w.WriteHeader(http.StatusOK)
	case "201":
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusCreated)
		return writeXMLBody(w, postResponse{Location: location, Bucket: rp.Name, Key: key, ETag: quote(o.ETag)})
	default:
		w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

// receiveFile streams a form's file into the blob store: at least lo and
// at most hi bytes, matching the form's checksum when it has one. On any
// error nothing is stored.
func (h *Handler) receiveFile(ctx context.Context, file io.Reader, claim checksumClaim, lo, hi int64) (received, error) {
	w, err := h.blobs.CreateInline(ctx, blob.MD5) // put records Info.Inline
	if err != nil {
		return received{}, err
	}
	in := &incoming{r: &limitReader{r: file, left: hi}, claim: claim, size: -1}
	if claim.Alg != "" {
		in.sum = newChecksum(claim.Alg)
		in.r = io.TeeReader(in.r, in.sum)
	}
	fail := func(err error) (received, error) {
		w.Cancel(context.WithoutCancel(ctx))
		return received{}, err
	}
	n, err := io.Copy(w, in.r)
	if err != nil {
		return fail(bodyError(err))
	}
	if n < lo {
		return fail(s3Error("EntityTooSmall", "your proposed upload is smaller than the minimum allowed size of %d bytes", lo))
	}
	sums, err := in.finish(n)
	if err != nil {
		return fail(err)
	}
	info, err := w.Commit(ctx, blob.Expect{})
	if err != nil {
		return received{}, err
	}
	return received{info: info, sums: sums}, nil
}
