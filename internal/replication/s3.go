package replication

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/arcaproject/arca/internal/transfer"
)

// s3Rep replicates a bucket through the S3 API (aws-sdk-go-v2 on both
// sides). An object is copied unless the destination has one of the same
// size whose ETag, or the ETag it was replicated from, matches.
type s3Rep struct {
	src, dst *s3Side
}

type s3Side struct {
	client *s3sdk.Client
	bucket string
}

// etagMeta is the user metadata that keeps, on a replica, the ETag of the
// object it was copied from.
const etagMeta = transfer.SourceETagMeta

func newS3(_ context.Context, src, dst *side) (*s3Rep, error) {
	return &s3Rep{src: openS3Side(src), dst: openS3Side(dst)}, nil
}

// openS3Side makes a client of the side: path-style on its endpoint, or
// AWS itself for s3://<region>; static credentials, or none (the local
// side, which acts as the policy in process).
func openS3Side(sd *side) *s3Side {
	return &s3Side{client: transfer.S3Client(transfer.S3Endpoint{URL: sd.base, AccessKey: sd.username, SecretKey: sd.password}, sd.client),
		bucket: sd.repository}
}

// keys lists the side's objects (current versions) with their size and
// ETag.
func (s *s3Side) keys(ctx context.Context) (map[string]objInfo, []string, error) {
	out := map[string]objInfo{}
	var order []string
	p := s3sdk.NewListObjectsV2Paginator(s.client, &s3sdk.ListObjectsV2Input{Bucket: &s.bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, err
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			out[k] = objInfo{size: aws.ToInt64(o.Size), etag: aws.ToString(o.ETag)}
			order = append(order, k)
		}
	}
	return out, order, nil
}

type objInfo struct {
	size int64
	etag string
}

func (r *s3Rep) sync(ctx context.Context, rc *runCtx) error {
	objs, order, err := r.src.keys(ctx)
	if err != nil {
		return err
	}
	for _, k := range order {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if matchAny(rc.p.Filter.Names, k) {
			r.copy(ctx, rc, k)
		}
	}
	if !rc.p.Deletes {
		return nil
	}
	_, dstOrder, err := r.dst.keys(ctx)
	if err != nil {
		return err
	}
	for _, k := range dstOrder {
		if _, ok := objs[k]; !ok && matchAny(rc.p.Filter.Names, k) {
			r.delete(ctx, rc, k)
		}
	}
	return nil
}

func (r *s3Rep) apply(ctx context.Context, rc *runCtx, changes []Change) error {
	for _, c := range changes {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !matchAny(rc.p.Filter.Names, c.Item) {
			continue
		}
		switch {
		case c.Deleted && rc.p.Deletes:
			r.delete(ctx, rc, c.Item)
		case !c.Deleted:
			r.copy(ctx, rc, c.Item)
		}
	}
	return nil
}

func isS3NotFound(err error) bool { return transfer.IsS3NotFound(err) }

func (r *s3Rep) copy(ctx context.Context, rc *runCtx, key string) {
	rc.copyMeasured(key, func() (bool, error) {
		head, err := r.src.client.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: &r.src.bucket, Key: &key})
		if isS3NotFound(err) {
			return true, nil // gone since it was listed or changed: nothing to copy
		} else if err != nil {
			return false, err
		}
		etag := strings.Trim(aws.ToString(head.ETag), `"`)
		if from := head.Metadata[etagMeta]; from != "" {
			etag = from // a replica replicated on: keep the original's
		}
		have, err := r.dst.client.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: &r.dst.bucket, Key: &key})
		if err == nil && aws.ToInt64(have.ContentLength) == aws.ToInt64(head.ContentLength) &&
			(strings.Trim(aws.ToString(have.ETag), `"`) == etag || have.Metadata[etagMeta] == etag) {
			return true, nil
		} else if err != nil && !isS3NotFound(err) {
			return false, err
		}
		src, err := r.src.client.GetObject(ctx, &s3sdk.GetObjectInput{Bucket: &r.src.bucket, Key: &key, IfMatch: head.ETag})
		if err != nil {
			return false, err
		}
		defer src.Body.Close()
		md := map[string]string{}
		for k, v := range src.Metadata {
			md[k] = v
		}
		md[etagMeta] = etag
		_, err = r.dst.client.PutObject(ctx, &s3sdk.PutObjectInput{
			Bucket: &r.dst.bucket, Key: &key, Body: src.Body, ContentLength: src.ContentLength,
			ContentType: src.ContentType, ContentEncoding: src.ContentEncoding, ContentDisposition: src.ContentDisposition,
			CacheControl: src.CacheControl, Metadata: md,
		}, s3sdk.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))
		return false, err
	})
}

func (r *s3Rep) delete(ctx context.Context, rc *runCtx, key string) {
	if _, err := r.dst.client.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: &r.dst.bucket, Key: &key}); isS3NotFound(err) {
		rc.item(key, Skipped, 0, nil)
		return
	} else if err != nil {
		rc.item(key, Errored, 0, err)
		return
	}
	_, err := r.dst.client.DeleteObject(ctx, &s3sdk.DeleteObjectInput{Bucket: &r.dst.bucket, Key: &key})
	rc.item(key, Deleted, 0, err)
}
