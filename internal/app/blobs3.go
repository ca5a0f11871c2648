package app

import (
	"context"

	"github.com/arcaproject/arca/internal/blob"
	s3driver "github.com/arcaproject/arca/internal/blob/s3"
	"github.com/arcaproject/arca/internal/config"
)

// openS3Driver opens the S3 blob driver (blob.driver: s3).
func openS3Driver(ctx context.Context, c config.BlobS3) (blob.Driver, error) {
	return s3driver.New(ctx, s3driver.Config{Endpoint: c.Endpoint, Bucket: c.Bucket, Region: c.Region, Prefix: c.Prefix,
		AccessKey: c.AccessKey, SecretKey: c.SecretKey, PathStyle: c.PathStyle, PartSize: c.PartSize})
}
