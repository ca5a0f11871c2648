package s3api

import (
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// Objects is the object API other surfaces use to keep their files in a
// bucket (the MLflow artifact proxy does): the same rows, blobs, ETags,
// size limits and multipart rules as objects written through the S3
// listener, so that the files are ordinary objects to every S3 client.
//
// Objects does not authorize: the caller has checked its own permissions
// before calling. Objects are recorded as created by the principal in the
// context. Nothing is audited here; the calling surface records its own
// events.
type Objects struct{ h *Handler }

// Objects returns the object API over the handler's store.
func (h *Handler) Objects() *Objects { return &Objects{h: h} }

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key         string
	Size        int64
	ETag        string // without quotes: see Put, and "-N" after a multipart upload
	ContentType string
	Digest      string // sha256 of the content in the blob store
	Modified    time.Time
}

// ObjectPage is one page of a listing, in key order.
type ObjectPage struct {
	Objects []ObjectInfo
	// Prefixes are the common prefixes (each ending with the delimiter)
	// of keys below the listed prefix.
	Prefixes []string
	// Next is where the following page starts (the after argument of
	// List), or "" when this page is the last.
	Next string
}

// CompletedPart names one uploaded part of a multipart upload.
type CompletedPart struct {
	Number int
	ETag   string // as UploadPart returned it; quotes are ignored
}

func infoOf(o *object) ObjectInfo {
	return ObjectInfo{Key: o.Key, Size: o.Size, ETag: o.ETag, ContentType: o.ContentType, Digest: o.Digest,
		Modified: time.UnixMilli(o.Modified)}
}

// bucket resolves a bucket by name: an s3 repository.
func (a *Objects) bucket(ctx context.Context, name string) (*repo.Repository, error) {
	rp, err := a.h.repos.Get(ctx, name)
	if errs.Is(err, errs.NotFound) || (err == nil && rp.Format != Format) {
		return nil, s3Error("NoSuchBucket", "the bucket %q does not exist", name)
	}
	return rp, err
}

// checkKey validates an object key as the S3 listener does; keys are also
// never empty.
func checkKey(key string) error {
	if key == "" {
		return s3Error("InvalidArgument", "an object key cannot be empty")
	}
	return validateKey(key)
}

// Put streams body into the store as object key of bucket, replacing an
// object of that key. size is the body's length, or -1 when unknown; a body
// whose length differs from a known size is refused. Nothing is visible
// unless Put returns nil.
//
// The object gets no MD5: on this machine class MD5 (about 800 MB/s on
// one core) was the bound of MLflow artifact uploads, which ran at the
// speed of `mlflow server` instead of twice it. Its ETag is opaque
// (putETag) and its integrity is S3's full-object SHA-256 checksum,
// which clients asking for checksums (x-amz-checksum-mode) verify.
func (a *Objects) Put(ctx context.Context, bucket, key string, body io.Reader, size int64, contentType string) (ObjectInfo, error) {
	rp, err := a.bucket(ctx, bucket)
	if err != nil {
		return ObjectInfo{}, err
	}
	if err := checkKey(key); err != nil {
		return ObjectInfo{}, err
	}
	info, err := a.receive(ctx, body, size, 0)
	if err != nil {
		return ObjectInfo{}, err
	}
	if contentType == "" {
		contentType = "binary/octet-stream"
	}
	sum, err := hex.DecodeString(info.Digest.Hex())
	if err != nil {
		return ObjectInfo{}, errs.Wrap(err, errs.Internal, "digest of a stored blob")
	}
	o := &object{Key: key, Digest: string(info.Digest), Size: info.Size, ETag: putETag(sum), ContentType: contentType,
		Checksums: checksums{Type: typeFullObject, Values: map[string]string{algSHA256: base64.StdEncoding.EncodeToString(sum)}},
		CreatedBy: auth.From(ctx).String(), Modified: meta.Now()}
	if _, err := a.h.objects.put(ctx, rp.ID, o, freshBlob(info), writeCond{}); err != nil {
		return ObjectInfo{}, err
	}
	return infoOf(o), nil
}

// putETag is the ETag of an object written by Put: the first half of its
// SHA-256 in hex, with the suffix of a one-part multipart upload. S3
// clients compare an ETag with the MD5 they computed only when it has no
// suffix (objects encrypted with KMS keys have ETags that are not MD5s
// either); the suffixed form tells them not to.
func putETag(sha256 []byte) string {
	return hex.EncodeToString(sha256[:16]) + "-1"
}

// receive stores body as a blob, within the handler's upload limit, with
// the extra digests asked for (the blob store's pipelined writer computes
// each beside the sha256, on a goroutine of its own).
func (a *Objects) receive(ctx context.Context, body io.Reader, size int64, extra blob.Hashes) (blob.Info, error) {
	max := a.h.maxUpload
	if size > max {
		return blob.Info{}, s3Error("EntityTooLarge", "an upload of %d bytes exceeds the maximum allowed size of %d bytes", size, max)
	}
	w, err := a.h.blobs.CreateInline(ctx, extra) // put and putPart record Info.Inline
	if err != nil {
		return blob.Info{}, err
	}
	if _, err := io.Copy(w, &limitReader{r: body, left: max}); err != nil {
		w.Cancel(context.WithoutCancel(ctx))
		return blob.Info{}, bodyError(err)
	}
	want := blob.Expect{}
	if size >= 0 {
		want.Size, want.SizeKnown = size, true
	}
	return w.Commit(ctx, want)
}

// Stat returns what is stored of an object (errs.NotFound when the key
// has none).
func (a *Objects) Stat(ctx context.Context, bucket, key string) (ObjectInfo, error) {
	rp, err := a.bucket(ctx, bucket)
	if err != nil {
		return ObjectInfo{}, err
	}
	o, err := a.h.objects.get(ctx, rp.ID, key)
	if err != nil {
		return ObjectInfo{}, err
	}
	return infoOf(o), nil
}

// Open returns an object's description and a reader of its content that
// can seek (for ranges). The caller closes the reader.
func (a *Objects) Open(ctx context.Context, bucket, key string) (ObjectInfo, io.ReadSeekCloser, error) {
	info, err := a.Stat(ctx, bucket, key)
	if err != nil {
		return ObjectInfo{}, nil, err
	}
	d, err := blob.ParseDigest(info.Digest)
	if err != nil {
		return ObjectInfo{}, nil, errs.Wrap(err, errs.Internal, "corrupt metadata")
	}
	rd, err := a.h.blobs.Open(ctx, d)
	if errs.Is(err, errs.NotFound) {
		return ObjectInfo{}, nil, errs.Wrap(err, errs.Internal, "stored object is missing its content")
	}
	if err != nil {
		return ObjectInfo{}, nil, err
	}
	return info, rd, nil
}

// Delete removes an object and reports whether there was one.
func (a *Objects) Delete(ctx context.Context, bucket, key string) (bool, error) {
	rp, err := a.bucket(ctx, bucket)
	if err != nil {
		return false, err
	}
	out, err := a.h.objects.deleteIf(ctx, rp.ID, key, deleteCond{})
	return out.Deleted, err
}

// List returns up to limit (1 to 1000) objects and common prefixes under
// prefix, in byte order, after the key or prefix after. With a delimiter,
// keys containing it past the prefix are rolled up into one common prefix
// each.
func (a *Objects) List(ctx context.Context, bucket, prefix, delimiter, after string, limit int) (ObjectPage, error) {
	rp, err := a.bucket(ctx, bucket)
	if err != nil {
		return ObjectPage{}, err
	}
	page, err := a.h.objects.list(ctx, rp.ID, prefix, delimiter, after, min(max(limit, 1), 1000))
	if err != nil {
		return ObjectPage{}, err
	}
	out := ObjectPage{Prefixes: page.Prefixes}
	for _, o := range page.Objects {
		out.Objects = append(out.Objects, infoOf(o))
	}
	if page.Truncated {
		out.Next = page.Next
	}
	return out, nil
}

// CreateUpload starts a multipart upload of key and returns its ID.
func (a *Objects) CreateUpload(ctx context.Context, bucket, key, contentType string) (string, error) {
	rp, err := a.bucket(ctx, bucket)
	if err != nil {
		return "", err
	}
	if err := checkKey(key); err != nil {
		return "", err
	}
	if contentType == "" {
		contentType = "binary/octet-stream"
	}
	u := &upload{ID: newUploadID(), RepoID: rp.ID, Key: key, ContentType: contentType,
		CreatedBy: auth.From(ctx).String(), Created: meta.Now()}
	if err := a.h.objects.createUpload(ctx, u); err != nil {
		return "", err
	}
	return u.ID, nil
}

// upload finds an upload of bucket by ID; key, when not "", must be the
// upload's key.
func (a *Objects) upload(ctx context.Context, bucket, key, uploadID string) (*upload, error) {
	rp, err := a.bucket(ctx, bucket)
	if err != nil {
		return nil, err
	}
	u, err := scanUpload(a.h.objects.db.QueryRowContext(ctx, `SELECT `+uploadColumns+` FROM s3_uploads WHERE id = $1`, uploadID))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (u.RepoID != rp.ID || (key != "" && u.Key != key))) {
		return nil, errNoSuchUpload()
	}
	return u, meta.Err(err)
}

// UploadPart stores part n (1-10000) of an upload, replacing an earlier
// upload of the same number, and returns its ETag. The part is found by the
// upload's ID alone, so that whoever holds a part URL needs no key.
func (a *Objects) UploadPart(ctx context.Context, bucket, uploadID string, n int, body io.Reader, size int64) (string, error) {
	if n < 1 || n > 10000 {
		return "", s3Error("InvalidArgument", "part number must be an integer between 1 and 10000, inclusive")
	}
	u, err := a.upload(ctx, bucket, "", uploadID)
	if err != nil {
		return "", err
	}
	info, err := a.receive(ctx, body, size, blob.MD5)
	if err != nil {
		return "", err
	}
	p := &part{Number: n, Digest: string(info.Digest), Size: info.Size, ETag: info.MD5, Modified: meta.Now()}
	if err := a.h.objects.putPart(ctx, u.ID, p, freshBlob(info)); err != nil {
		return "", err
	}
	return p.ETag, nil
}

// CompleteUpload assembles the listed parts, in ascending part order, into
// the object key (every part but the last at least 5 MiB, as in S3), and
// ends the upload. The object's ETag is S3's: the md5 of the parts' md5s
// followed by "-" and the number of parts.
func (a *Objects) CompleteUpload(ctx context.Context, bucket, key, uploadID string, done []CompletedPart) (ObjectInfo, error) {
	u, err := a.upload(ctx, bucket, key, uploadID)
	if err != nil {
		return ObjectInfo{}, err
	}
	if len(done) == 0 || len(done) > 10000 {
		return ObjectInfo{}, s3Error("MalformedXML", "a multipart upload completes with 1 to 10000 parts")
	}
	stored, err := a.h.objects.parts(ctx, u.ID, 0, 10000)
	if err != nil {
		return ObjectInfo{}, err
	}
	byNumber := make(map[int]*part, len(stored))
	for _, p := range stored {
		byNumber[p.Number] = p
	}
	parts := make([]*part, len(done))
	etags := md5.New()
	var total int64
	for i, c := range done {
		if i > 0 && c.Number <= done[i-1].Number {
			return ObjectInfo{}, s3Error("InvalidPartOrder", "the list of parts was not in ascending order; parts must be ordered by part number")
		}
		p := byNumber[c.Number]
		if p == nil || strings.Trim(c.ETag, `" `) != p.ETag {
			return ObjectInfo{}, s3Error("InvalidPart", "part %d was not uploaded, or its ETag does not match", c.Number)
		}
		if i < len(done)-1 && p.Size < minPartSize {
			return ObjectInfo{}, s3Error("EntityTooSmall", "every part but the last must be at least 5 MiB; part %d has %d bytes", c.Number, p.Size)
		}
		raw, _ := hex.DecodeString(p.ETag)
		etags.Write(raw)
		total += p.Size
		parts[i] = p
	}
	o := &object{Key: u.Key, Size: total, ETag: hex.EncodeToString(etags.Sum(nil)) + "-" + strconv.Itoa(len(parts)),
		ContentType: u.ContentType, Headers: u.Headers, CreatedBy: auth.From(ctx).String()}
	for _, p := range parts {
		o.PartSizes = append(o.PartSizes, p.Size)
	}
	var how blobWrite
	if o.Digest, how, err = a.h.concatenate(ctx, parts, total, nil, nil); err != nil {
		return ObjectInfo{}, err
	}
	o.Modified = meta.Now()
	if _, err := a.h.objects.complete(ctx, u.RepoID, u.ID, o, how, writeCond{}); err != nil {
		return ObjectInfo{}, err
	}
	return infoOf(o), nil
}

// AbortUpload ends an upload without an object; its parts' blobs are left
// to garbage collection.
func (a *Objects) AbortUpload(ctx context.Context, bucket, key, uploadID string) error {
	u, err := a.upload(ctx, bucket, key, uploadID)
	if err != nil {
		return err
	}
	return a.h.objects.abort(ctx, u.ID)
}
