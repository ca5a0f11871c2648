package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/arcaproject/arca/internal/blob"
	fsdriver "github.com/arcaproject/arca/internal/blob/fs"
	s3driver "github.com/arcaproject/arca/internal/blob/s3"
	"github.com/arcaproject/arca/internal/errs"
)

// Target is where backups live: a directory or an S3 prefix. Its blobs
// are laid out as a blob store's (blobs/sha256/<2 hex>/<64 hex>, written
// through the blob drivers), shared by every backup in it, so each backup
// copies only the blobs that are not there yet; each backup's files are
// under backups/<id>/.
type Target interface {
	// Blobs is the blob driver over the target's blobs.
	Blobs() blob.Driver
	// Put stores a file under name (a slash-separated path), replacing it.
	Put(ctx context.Context, name string, r io.Reader) error
	// Get opens a file; a missing one is errs.NotFound.
	Get(ctx context.Context, name string) (io.ReadCloser, error)
	// List returns the names of the entries directly under dir, sorted.
	List(ctx context.Context, dir string) ([]string, error)
	// DeleteAll removes every file under dir.
	DeleteAll(ctx context.Context, dir string) error
	String() string
}

// S3Options say how to reach an S3 target.
type S3Options struct {
	// Endpoint is the S3 API's base URL (another arca, MinIO); empty means
	// AWS. With an endpoint, requests are path-style.
	Endpoint string
	Region   string
	// AccessKey and SecretKey are static credentials; empty means the
	// SDK's default chain (AWS_ACCESS_KEY_ID, ~/.aws, instance roles).
	AccessKey, SecretKey string
}

// OpenTarget opens a directory (a path, created when missing) or an S3
// location (s3://bucket/prefix).
func OpenTarget(ctx context.Context, location string, opts S3Options) (Target, error) {
	if rest, ok := strings.CutPrefix(location, "s3://"); ok {
		bucket, prefix, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return nil, fmt.Errorf("%q: want s3://bucket/prefix", location)
		}
		return openS3Target(ctx, bucket, strings.Trim(prefix, "/"), opts)
	}
	if location == "" || strings.Contains(location, "://") {
		return nil, fmt.Errorf("%q: want a directory or s3://bucket/prefix", location)
	}
	d, err := fsdriver.New(location)
	if err != nil {
		return nil, fmt.Errorf("opening the backup directory: %w", err)
	}
	return &dirTarget{root: location, blobs: d}, nil
}

type dirTarget struct {
	root  string
	blobs blob.Driver
}

func (t *dirTarget) String() string     { return t.root }
func (t *dirTarget) Blobs() blob.Driver { return t.blobs }

func (t *dirTarget) path(name string) string { return filepath.Join(t.root, filepath.FromSlash(name)) }

// Put writes a temporary file, syncs it and renames it into place.
func (t *dirTarget) Put(ctx context.Context, name string, r io.Reader) error {
	p := t.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return os.Rename(f.Name(), p)
}

func (t *dirTarget) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	f, err := os.Open(t.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errs.Wrap(err, errs.NotFound, "%s not found in %s", name, t.root)
	}
	return f, err
}

func (t *dirTarget) List(ctx context.Context, dir string) ([]string, error) {
	entries, err := os.ReadDir(t.path(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func (t *dirTarget) DeleteAll(ctx context.Context, dir string) error {
	return os.RemoveAll(t.path(dir))
}

type s3Target struct {
	client *s3sdk.Client
	bucket string
	prefix string // "" or ending in "/"
	blobs  blob.Driver
}

func openS3Target(ctx context.Context, bucket, prefix string, opts S3Options) (*s3Target, error) {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	blobs, err := s3driver.New(ctx, s3driver.Config{Endpoint: opts.Endpoint, Bucket: bucket, Region: opts.Region, Prefix: prefix,
		AccessKey: opts.AccessKey, SecretKey: opts.SecretKey, PathStyle: opts.Endpoint != ""})
	if err != nil {
		return nil, err
	}
	lo := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(opts.Region)}
	if opts.AccessKey != "" {
		lo = append(lo, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(opts.AccessKey, opts.SecretKey, "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, fmt.Errorf("s3 backup target: %w", err)
	}
	client := s3sdk.NewFromConfig(cfg, func(o *s3sdk.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
			o.UsePathStyle = true
		}
		// Checksums only where S3 requires them, as the blob driver does.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	if prefix != "" {
		prefix += "/"
	}
	t := &s3Target{client: client, bucket: bucket, prefix: prefix, blobs: blobs}
	if err := blobs.Ping(ctx); err != nil {
		return nil, fmt.Errorf("s3 backup target %s: %w", t, err)
	}
	return t, nil
}

func (t *s3Target) String() string     { return "s3://" + t.bucket + "/" + t.prefix }
func (t *s3Target) Blobs() blob.Driver { return t.blobs }

// Put uploads the file in one PutObject; the SDK needs a seekable body to
// sign it, so other readers are spooled to a temporary file first.
func (t *s3Target) Put(ctx context.Context, name string, r io.Reader) error {
	body, ok := r.(io.ReadSeeker)
	if !ok {
		f, err := os.CreateTemp("", "arca-backup-put-*")
		if err != nil {
			return err
		}
		defer os.Remove(f.Name())
		defer f.Close()
		if _, err := io.Copy(f, r); err != nil {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		body = f
	}
	_, err := t.client.PutObject(ctx, &s3sdk.PutObjectInput{Bucket: &t.bucket, Key: aws.String(t.prefix + name), Body: body})
	if err != nil {
		return fmt.Errorf("uploading %s: %w", name, err)
	}
	return nil
}

func (t *s3Target) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	out, err := t.client.GetObject(ctx, &s3sdk.GetObjectInput{Bucket: &t.bucket, Key: aws.String(t.prefix + name)})
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == 404 {
		return nil, errs.Wrap(err, errs.NotFound, "%s not found in %s", name, t)
	}
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", name, err)
	}
	return out.Body, nil
}

func (t *s3Target) List(ctx context.Context, dir string) ([]string, error) {
	prefix := t.prefix + strings.TrimSuffix(dir, "/") + "/"
	p := s3sdk.NewListObjectsV2Paginator(t.client, &s3sdk.ListObjectsV2Input{Bucket: &t.bucket, Prefix: &prefix, Delimiter: aws.String("/")})
	var out []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, cp := range page.CommonPrefixes {
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/"))
		}
		for _, o := range page.Contents {
			out = append(out, strings.TrimPrefix(aws.ToString(o.Key), prefix))
		}
	}
	sort.Strings(out)
	return out, nil
}

func (t *s3Target) DeleteAll(ctx context.Context, dir string) error {
	prefix := t.prefix + strings.TrimSuffix(dir, "/") + "/"
	p := s3sdk.NewListObjectsV2Paginator(t.client, &s3sdk.ListObjectsV2Input{Bucket: &t.bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			if _, err := t.client.DeleteObject(ctx, &s3sdk.DeleteObjectInput{Bucket: &t.bucket, Key: o.Key}); err != nil {
				return err
			}
		}
	}
	return nil
}
