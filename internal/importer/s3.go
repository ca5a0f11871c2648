package importer

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/arcaproject/arca/internal/transfer"
)

// S3Side is a bucket (and a key prefix) behind an S3 client.
type S3Side struct {
	Client *s3sdk.Client
	Bucket string
}

// S3Options are the S3 source's settings besides the two sides.
type S3Options struct {
	// Prefix selects the source's keys that start with it.
	Prefix string
	// Workers is how many objects move at once (default 8).
	Workers int
	// Tags copies each imported object's tags (one more request per object).
	Tags bool
}

// ImportS3 copies the objects of src (under the prefix) into dst, arca's
// own S3 API called in process (so that the S3 surface's rules, audit
// and limits apply), with their content types, content encodings,
// dispositions, cache controls, user metadata and, with Tags, their tags.
// An object is skipped when dst has one of the same key and size whose
// ETag is the source's (or, for a source object uploaded in parts, whose
// recorded source ETag is). Objects stream from the source into arca,
// Workers at a time. The destination bucket is created when missing.
func ImportS3(ctx context.Context, src, dst S3Side, o S3Options, opts Options, r *Report) error {
	if o.Workers <= 0 {
		o.Workers = 8
	}
	have := map[string]objState{}
	_, err := dst.Client.HeadBucket(ctx, &s3sdk.HeadBucketInput{Bucket: &dst.Bucket})
	switch {
	case err == nil:
		if have, err = listState(ctx, dst, o.Prefix); err != nil {
			return fmt.Errorf("listing arca's bucket %s: %w", dst.Bucket, err)
		}
	case !transfer.IsS3NotFound(err) && !isCode(err, "NoSuchBucket"):
		return fmt.Errorf("bucket %s: %w", dst.Bucket, err)
	case !opts.DryRun:
		if _, err := dst.Client.CreateBucket(ctx, &s3sdk.CreateBucketInput{Bucket: &dst.Bucket}); err != nil {
			return fmt.Errorf("creating bucket %s: %w", dst.Bucket, err)
		}
	}
	work := make(chan s3Object)
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for obj := range work {
				if ctx.Err() != nil {
					continue // drained; the next run resumes
				}
				if err := copyObject(ctx, src, dst, obj, o.Tags); err != nil {
					if ctx.Err() == nil {
						r.Fail("object", obj.key, err)
					}
					continue
				}
				r.Imported("object", obj.key, obj.size)
			}
		}()
	}
	listErr := func() error {
		defer close(work)
		p := s3sdk.NewListObjectsV2Paginator(src.Client, &s3sdk.ListObjectsV2Input{Bucket: &src.Bucket, Prefix: nonEmpty(o.Prefix)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("listing the source bucket %s: %w", src.Bucket, err)
			}
			for _, so := range page.Contents {
				obj := s3Object{key: aws.ToString(so.Key), size: aws.ToInt64(so.Size), etag: unquote(aws.ToString(so.ETag))}
				present, err := obj.presentIn(ctx, dst, have[obj.key])
				switch {
				case err != nil:
					r.Fail("object", obj.key, err)
				case present:
					r.Skipped("object", obj.key, obj.size)
				case opts.DryRun:
					r.Planned("object", obj.key, obj.size)
				default:
					select {
					case work <- obj:
					case <-ctx.Done():
						return ctx.Err()
					}
				}
			}
		}
		return nil
	}()
	wg.Wait()
	if listErr != nil {
		return listErr
	}
	return ctx.Err()
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func unquote(etag string) string { return strings.Trim(etag, `"`) }

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// objState is what arca has of a key.
type objState struct {
	size int64
	etag string
	ok   bool
}

func listState(ctx context.Context, side S3Side, prefix string) (map[string]objState, error) {
	out := map[string]objState{}
	p := s3sdk.NewListObjectsV2Paginator(side.Client, &s3sdk.ListObjectsV2Input{Bucket: &side.Bucket, Prefix: nonEmpty(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			out[aws.ToString(o.Key)] = objState{size: aws.ToInt64(o.Size), etag: unquote(aws.ToString(o.ETag)), ok: true}
		}
	}
	return out, nil
}

// s3Object is a source object as listed.
type s3Object struct {
	key  string
	size int64
	etag string
}

// isMultipartETag reports whether an ETag is of a multipart upload ("<md5>-N"),
// which a copy uploaded in one piece cannot have.
func isMultipartETag(etag string) bool { return strings.Contains(etag, "-") }

// presentIn reports whether dst has the object already.
func (o s3Object) presentIn(ctx context.Context, dst S3Side, have objState) (bool, error) {
	if !have.ok || have.size != o.size {
		return false, nil
	}
	if have.etag == o.etag {
		return true, nil
	}
	if !isMultipartETag(o.etag) {
		return false, nil
	}
	head, err := dst.Client.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: &dst.Bucket, Key: &o.key})
	if transfer.IsS3NotFound(err) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return head.Metadata[transfer.SourceETagMeta] == o.etag, nil
}

// copyObject streams one object from src to dst with its headers, user
// metadata and (with tags) tags. The read is conditional on the listed
// ETag, so that an object replaced meanwhile is not copied half old.
func copyObject(ctx context.Context, src, dst S3Side, o s3Object, tags bool) error {
	var tagging *string
	if tags {
		t, err := src.Client.GetObjectTagging(ctx, &s3sdk.GetObjectTaggingInput{Bucket: &src.Bucket, Key: &o.key})
		if err != nil && !transfer.IsS3NotFound(err) && !isCode(err, "NotImplemented") {
			return fmt.Errorf("reading its tags: %w", err)
		}
		if err == nil && len(t.TagSet) > 0 {
			q := url.Values{}
			for _, tag := range t.TagSet {
				q.Set(aws.ToString(tag.Key), aws.ToString(tag.Value))
			}
			s := q.Encode()
			tagging = &s
		}
	}
	in := &s3sdk.GetObjectInput{Bucket: &src.Bucket, Key: &o.key}
	if o.etag != "" {
		in.IfMatch = aws.String(`"` + o.etag + `"`)
	}
	obj, err := src.Client.GetObject(ctx, in)
	if err != nil {
		return err
	}
	defer obj.Body.Close()
	md := map[string]string{}
	for k, v := range obj.Metadata {
		md[k] = v
	}
	if isMultipartETag(o.etag) {
		md[transfer.SourceETagMeta] = o.etag
	}
	_, err = dst.Client.PutObject(ctx, &s3sdk.PutObjectInput{
		Bucket: &dst.Bucket, Key: &o.key, Body: obj.Body, ContentLength: obj.ContentLength,
		ContentType: obj.ContentType, ContentEncoding: obj.ContentEncoding, ContentDisposition: obj.ContentDisposition,
		ContentLanguage: obj.ContentLanguage, CacheControl: obj.CacheControl, Expires: obj.Expires,
		Metadata: md, Tagging: tagging,
	}, s3sdk.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))
	return err
}
