// Package s3 is the S3 blob driver: arca's blobs in a bucket of AWS S3,
// MinIO, Ceph RGW or another arca, through the AWS SDK for Go v2.
//
// Layout under the configured prefix:
//
//	blobs/sha256/<2 hex>/<64 hex>    committed blobs
//	staging/<id>/marker              a staged write (its age is the marker's)
//	staging/<id>/seg-<16 hex offset> the staged write's bytes, in segments
//
// A writer buffers up to PartSize bytes in memory; each full buffer becomes
// a segment object. Commit assembles the segments at the blob's key with
// server-side copies (UploadPartCopy), so the bytes cross the network once;
// a blob smaller than one segment is a single PUT. Every S3 write is
// atomic, so a blob is either absent or whole. Suspend writes the partial
// buffer as a segment, so that any process may Resume the write.
package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
)

// Config selects the bucket and how to reach it.
type Config struct {
	// Endpoint is the S3 API's base URL; empty means AWS.
	Endpoint string
	Bucket   string
	Region   string
	// Prefix is prepended to every key ("" or e.g. "arca/").
	Prefix string
	// AccessKey and SecretKey are static credentials; empty means the
	// SDK's default chain (environment, shared files, instance roles).
	AccessKey, SecretKey string
	// PathStyle puts the bucket in the path instead of the host name.
	PathStyle bool
	// PartSize is the size of a segment and of a multipart part (at
	// least 5 MiB; default 16 MiB).
	PartSize int64
}

// minPart is S3's least size of a multipart part but the last.
const minPart = 5 << 20

// Driver stores blobs in an S3 bucket.
type Driver struct {
	client   *s3sdk.Client
	bucket   string
	prefix   string
	partSize int64
}

// New returns a driver for the bucket of cfg. It does not contact S3; Ping
// does.
func New(ctx context.Context, cfg Config) (*Driver, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3 blob driver: no bucket configured")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = 16 << 20
	}
	if cfg.PartSize < minPart {
		return nil, fmt.Errorf("s3 blob driver: part size %d is below S3's minimum of 5 MiB", cfg.PartSize)
	}
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(cfg.Region)}
	if cfg.AccessKey != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3 blob driver: %w", err)
	}
	client := s3sdk.NewFromConfig(awsCfg, func(o *s3sdk.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// Checksums only where S3 requires them: older S3-compatible
		// servers reject the newer modes. Payloads are signed over HTTP
		// and protected by TLS over HTTPS; blob.Store verifies sha256.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &Driver{client: client, bucket: cfg.Bucket, prefix: prefix, partSize: cfg.PartSize}, nil
}

func (d *Driver) blobKey(dg blob.Digest) string {
	h := dg.Hex()
	return d.prefix + "blobs/sha256/" + h[:2] + "/" + h
}

func (d *Driver) stagingPrefix() string      { return d.prefix + "staging/" }
func (d *Driver) markerKey(id string) string { return d.stagingPrefix() + id + "/marker" }
func (d *Driver) segmentKey(id string, off int64) string {
	return fmt.Sprintf("%s%s/seg-%016x", d.stagingPrefix(), id, off)
}

// isNotFound reports whether err is S3's 404.
func isNotFound(err error) bool {
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == 404
}

func status(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func (d *Driver) put(ctx context.Context, key string, b []byte) error {
	_, err := d.client.PutObject(ctx, &s3sdk.PutObjectInput{Bucket: &d.bucket, Key: aws.String(key),
		Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b)))})
	return err
}

func (d *Driver) deleteKeys(ctx context.Context, keys []string) error {
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		ids := make([]types.ObjectIdentifier, n)
		for i, k := range keys[:n] {
			ids[i] = types.ObjectIdentifier{Key: aws.String(k)}
		}
		out, err := d.client.DeleteObjects(ctx, &s3sdk.DeleteObjectsInput{Bucket: &d.bucket,
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
		if err != nil {
			return err
		}
		if len(out.Errors) > 0 {
			return fmt.Errorf("s3: deleting %s: %s", aws.ToString(out.Errors[0].Key), aws.ToString(out.Errors[0].Message))
		}
		keys = keys[n:]
	}
	return nil
}

// Stage starts a write, leaving a marker so that PurgeStaged finds it even
// before its first segment.
func (d *Driver) Stage(ctx context.Context) (blob.StagedWriter, error) {
	var b [16]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	if err := d.put(ctx, d.markerKey(id), nil); err != nil {
		return nil, err
	}
	return &writer{d: d, id: id, buf: make([]byte, 0, 64<<10)}, nil
}

type segment struct {
	key         string
	start, size int64
}

// segments lists a staged write's segments in order, and whether its
// marker exists.
func (d *Driver) segments(ctx context.Context, id string) ([]segment, bool, error) {
	var segs []segment
	marker := false
	p := s3sdk.NewListObjectsV2Paginator(d.client, &s3sdk.ListObjectsV2Input{Bucket: &d.bucket, Prefix: aws.String(d.stagingPrefix() + id + "/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, false, err
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			name := key[strings.LastIndexByte(key, '/')+1:]
			if name == "marker" {
				marker = true
				continue
			}
			hexOff, ok := strings.CutPrefix(name, "seg-")
			off, err := strconv.ParseInt(hexOff, 16, 64)
			if !ok || err != nil {
				continue
			}
			segs = append(segs, segment{key: key, start: off, size: aws.ToInt64(o.Size)})
		}
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].start < segs[j].start })
	return segs, marker, nil
}

// Resume reopens staged write id at offset, dropping what lies past it.
func (d *Driver) Resume(ctx context.Context, id string, offset int64) (blob.StagedWriter, error) {
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		return nil, errs.E(errs.NotFound, "staged write %q not found", id)
	}
	segs, marker, err := d.segments(ctx, id)
	if err != nil {
		return nil, err
	}
	if !marker {
		return nil, errs.E(errs.NotFound, "staged write %q not found", id)
	}
	var keep []segment
	var drop []string
	var have int64
	for _, s := range segs {
		switch {
		case s.start != have || s.start >= offset:
			drop = append(drop, s.key) // past the offset, or a leftover of an earlier resume
		case s.start+s.size <= offset:
			keep = append(keep, s)
			have += s.size
		default: // straddles the offset: keep its head
			rc, err := d.get(ctx, s.key, 0, offset-s.start)
			if err != nil {
				return nil, err
			}
			head, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return nil, err
			}
			if err := d.put(ctx, s.key, head); err != nil {
				return nil, err
			}
			keep = append(keep, segment{key: s.key, start: s.start, size: int64(len(head))})
			have += int64(len(head))
		}
	}
	if have < offset {
		return nil, fmt.Errorf("s3: staged write %s holds %d bytes, fewer than the %d recorded", id, have, offset)
	}
	if err := d.deleteKeys(ctx, drop); err != nil {
		return nil, err
	}
	// Refresh the marker so PurgeStaged measures age from the last activity.
	if err := d.put(ctx, d.markerKey(id), nil); err != nil {
		return nil, err
	}
	return &writer{d: d, id: id, segs: keep, off: offset, buf: make([]byte, 0, 64<<10)}, nil
}

type writer struct {
	d    *Driver
	id   string
	segs []segment
	buf  []byte
	off  int64 // bytes written, including buf
	done bool

	committed, cancelled bool
}

func (w *writer) ID() string { return w.id }

func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("s3: write to a finished writer")
	}
	n := len(p)
	for len(p) > 0 {
		room := int(w.d.partSize) - len(w.buf)
		take := min(room, len(p))
		w.buf = append(w.buf, p[:take]...)
		p = p[take:]
		w.off += int64(take)
		if len(w.buf) == int(w.d.partSize) {
			if err := w.flush(context.Background()); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

// flush writes the buffer as a segment.
func (w *writer) flush(ctx context.Context) error {
	if len(w.buf) == 0 {
		return nil
	}
	start := w.off - int64(len(w.buf))
	key := w.d.segmentKey(w.id, start)
	if err := w.d.put(ctx, key, w.buf); err != nil {
		return err
	}
	w.segs = append(w.segs, segment{key: key, start: start, size: int64(len(w.buf))})
	w.buf = w.buf[:0]
	return nil
}

// Close makes the bytes written so far durable for a later Resume.
func (w *writer) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	return w.flush(context.Background())
}

func (w *writer) Commit(ctx context.Context, dg blob.Digest) error {
	if w.done {
		return errors.New("s3: writer already finished")
	}
	key := w.d.blobKey(dg)
	if len(w.segs) == 0 {
		if err := w.d.put(ctx, key, w.buf); err != nil {
			return err
		}
	} else {
		if err := w.flush(ctx); err != nil {
			return err
		}
		if err := w.d.assemble(ctx, key, w.segs); err != nil {
			return err
		}
	}
	w.done, w.committed = true, true
	// The blob is visible; leftovers of a failed clean-up are PurgeStaged's.
	w.d.deleteKeys(ctx, w.stagedKeys())
	return nil
}

func (w *writer) stagedKeys() []string {
	keys := []string{w.d.markerKey(w.id)}
	for _, s := range w.segs {
		keys = append(keys, s.key)
	}
	return keys
}

// Cancel removes the staged write's objects (those of earlier
// processes too, for a resumed write). It does nothing after Commit.
func (w *writer) Cancel(ctx context.Context) error {
	if w.committed || w.cancelled {
		return nil
	}
	w.done, w.cancelled = true, true
	segs, _, err := w.d.segments(ctx, w.id)
	if err != nil {
		return err
	}
	w.segs = segs
	return w.d.deleteKeys(ctx, w.stagedKeys())
}

// assemble writes the concatenation of segs at key. Segments of at least
// 5 MiB (all but the last) are copied server-side; a write suspended at
// smaller sizes is streamed through once more.
func (d *Driver) assemble(ctx context.Context, key string, segs []segment) error {
	copyable := true
	for _, s := range segs[:len(segs)-1] {
		if s.size < minPart {
			copyable = false
		}
	}
	if copyable && len(segs) == 1 {
		_, err := d.client.CopyObject(ctx, &s3sdk.CopyObjectInput{Bucket: &d.bucket, Key: aws.String(key),
			CopySource: aws.String(d.bucket + "/" + segs[0].key)})
		return err
	}
	up, err := d.client.CreateMultipartUpload(ctx, &s3sdk.CreateMultipartUploadInput{Bucket: &d.bucket, Key: aws.String(key)})
	if err != nil {
		return err
	}
	parts, err := d.uploadParts(ctx, key, up.UploadId, segs, copyable)
	if err == nil {
		_, err = d.client.CompleteMultipartUpload(ctx, &s3sdk.CompleteMultipartUploadInput{Bucket: &d.bucket, Key: aws.String(key),
			UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	}
	if err != nil {
		d.client.AbortMultipartUpload(context.WithoutCancel(ctx), &s3sdk.AbortMultipartUploadInput{Bucket: &d.bucket, Key: aws.String(key), UploadId: up.UploadId})
	}
	return err
}

func (d *Driver) uploadParts(ctx context.Context, key string, uploadID *string, segs []segment, copyable bool) ([]types.CompletedPart, error) {
	var parts []types.CompletedPart
	if copyable {
		for i, s := range segs {
			out, err := d.client.UploadPartCopy(ctx, &s3sdk.UploadPartCopyInput{Bucket: &d.bucket, Key: aws.String(key), UploadId: uploadID,
				PartNumber: aws.Int32(int32(i + 1)), CopySource: aws.String(d.bucket + "/" + s.key)})
			if err != nil {
				return nil, err
			}
			parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.CopyPartResult.ETag})
		}
		return parts, nil
	}
	// Re-chunk the small segments into parts of partSize.
	buf := make([]byte, 0, d.partSize)
	send := func() error {
		n := int32(len(parts) + 1)
		out, err := d.client.UploadPart(ctx, &s3sdk.UploadPartInput{Bucket: &d.bucket, Key: aws.String(key), UploadId: uploadID,
			PartNumber: aws.Int32(n), Body: bytes.NewReader(buf), ContentLength: aws.Int64(int64(len(buf)))})
		if err != nil {
			return err
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag})
		buf = buf[:0]
		return nil
	}
	for _, s := range segs {
		rc, err := d.get(ctx, s.key, 0, s.size)
		if err != nil {
			return nil, err
		}
		for {
			n, rerr := io.ReadFull(rc, buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if len(buf) == cap(buf) {
				if err := send(); err != nil {
					rc.Close()
					return nil, err
				}
			}
			if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
				break
			}
			if rerr != nil {
				rc.Close()
				return nil, rerr
			}
		}
		rc.Close()
	}
	if len(buf) > 0 || len(parts) == 0 {
		if err := send(); err != nil {
			return nil, err
		}
	}
	return parts, nil
}

// get reads length bytes of key from offset (length < 0: to the end).
func (d *Driver) get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	in := &s3sdk.GetObjectInput{Bucket: &d.bucket, Key: aws.String(key)}
	switch {
	case length == 0:
		return io.NopCloser(strings.NewReader("")), nil
	case length > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
	case offset > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	out, err := d.client.GetObject(ctx, in)
	if err != nil {
		return nil, err
	}
	return out.Body, nil
}

// Open returns the blob's bytes from offset, with a ranged GET.
func (d *Driver) Open(ctx context.Context, dg blob.Digest, offset int64) (io.ReadCloser, error) {
	rc, err := d.get(ctx, d.blobKey(dg), offset, -1)
	switch {
	case err == nil:
		return rc, nil
	case isNotFound(err):
		return nil, errs.Wrap(err, errs.NotFound, "blob %s not found", dg)
	case status(err) == 416: // offset at the end
		if _, serr := d.Stat(ctx, dg); serr != nil {
			return nil, serr
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	return nil, err
}

// Stat reports the blob's size and last write.
func (d *Driver) Stat(ctx context.Context, dg blob.Digest) (blob.Stat, error) {
	out, err := d.client.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: &d.bucket, Key: aws.String(d.blobKey(dg))})
	if err != nil {
		if isNotFound(err) {
			return blob.Stat{}, errs.Wrap(err, errs.NotFound, "blob %s not found", dg)
		}
		return blob.Stat{}, err
	}
	return blob.Stat{Digest: dg, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// Delete removes the blob; a missing blob is not an error.
func (d *Driver) Delete(ctx context.Context, dg blob.Digest) error {
	_, err := d.client.DeleteObject(ctx, &s3sdk.DeleteObjectInput{Bucket: &d.bucket, Key: aws.String(d.blobKey(dg))})
	if isNotFound(err) {
		return nil
	}
	return err
}

// Walk lists every committed blob.
func (d *Driver) Walk(ctx context.Context, fn func(blob.Stat) error) error {
	root := d.prefix + "blobs/sha256/"
	p := s3sdk.NewListObjectsV2Paginator(d.client, &s3sdk.ListObjectsV2Input{Bucket: &d.bucket, Prefix: aws.String(root)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			rest := strings.TrimPrefix(aws.ToString(o.Key), root)
			shard, name, ok := strings.Cut(rest, "/")
			dg, err := blob.ParseDigest("sha256:" + name)
			if !ok || err != nil || !strings.HasPrefix(name, shard) || len(shard) != 2 {
				continue
			}
			if err := fn(blob.Stat{Digest: dg, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// PurgeStaged removes staged writes whose objects were all last written
// before cutoff.
func (d *Driver) PurgeStaged(ctx context.Context, cutoff time.Time) (int, error) {
	type staged struct {
		keys   []string
		latest time.Time
	}
	writes := map[string]*staged{}
	p := s3sdk.NewListObjectsV2Paginator(d.client, &s3sdk.ListObjectsV2Input{Bucket: &d.bucket, Prefix: aws.String(d.stagingPrefix())})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			id, _, _ := strings.Cut(strings.TrimPrefix(key, d.stagingPrefix()), "/")
			s := writes[id]
			if s == nil {
				s = &staged{}
				writes[id] = s
			}
			s.keys = append(s.keys, key)
			if t := aws.ToTime(o.LastModified); t.After(s.latest) {
				s.latest = t
			}
		}
	}
	n := 0
	for _, s := range writes {
		if !s.latest.Before(cutoff) {
			continue
		}
		if err := d.deleteKeys(ctx, s.keys); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Ping checks that the bucket is reachable with the credentials.
func (d *Driver) Ping(ctx context.Context) error {
	_, err := d.client.HeadBucket(ctx, &s3sdk.HeadBucketInput{Bucket: &d.bucket})
	return err
}

var _ blob.Driver = (*Driver)(nil)
