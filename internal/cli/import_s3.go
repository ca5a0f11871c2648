package cli

import (
	"context"
	"flag"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/app"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/importer"
	"github.com/arcaproject/arca/internal/transfer"
)

func runImportS3(args []string, env Env) error {
	var c importCommon
	var endpoint, region, accessKey, secretKey, bucket, toBucket string
	o := importer.S3Options{}
	return runImportSource("s3", args, env, func(fs *flag.FlagSet) {
		fs.StringVar(&endpoint, "endpoint", firstEnv(env, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
			"S3 endpoint to import from (http://host:9000), or s3://<region> for AWS (default $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL)")
		fs.StringVar(&region, "region", firstEnv(env, "AWS_REGION", "AWS_DEFAULT_REGION"), "region that signs requests (default $AWS_REGION, else us-east-1)")
		fs.StringVar(&accessKey, "access-key", env.Getenv("AWS_ACCESS_KEY_ID"), "access key ID (default $AWS_ACCESS_KEY_ID)")
		fs.StringVar(&secretKey, "secret-key", env.Getenv("AWS_SECRET_ACCESS_KEY"), "secret access key (default $AWS_SECRET_ACCESS_KEY)")
		fs.StringVar(&bucket, "bucket", "", "source bucket")
		fs.StringVar(&toBucket, "to-bucket", "", "arca bucket to import into (created when missing; default the source's name)")
		fs.StringVar(&o.Prefix, "prefix", "", "import only keys that start with this")
		fs.IntVar(&o.Workers, "workers", 8, "objects copied at once")
		fs.BoolVar(&o.Tags, "tags", true, "copy object tags (one more request per object)")
	}, &c, func(ctx context.Context, a *app.App, opts importer.Options, r *importer.Report) error {
		if endpoint == "" || bucket == "" {
			return usageError{"arca import s3: --endpoint and --bucket are required"}
		}
		if toBucket == "" {
			toBucket = bucket
		}
		u, err := url.Parse(strings.TrimSuffix(endpoint, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "s3") || u.Host == "" {
			return usageError{"arca import s3: --endpoint must be an http(s) URL or s3://<region>"}
		}
		remote := &http.Client{Transport: transfer.Remote(5*time.Minute, 0)}
		src := importer.S3Side{Bucket: bucket, Client: transfer.S3Client(transfer.S3Endpoint{URL: u, Region: region,
			AccessKey: accessKey, SecretKey: secretKey, SessionToken: env.Getenv("AWS_SESSION_TOKEN")}, remote)}
		as := auth.Principal{UserID: -1, Name: "import:s3", Kind: auth.KindRobot, Role: auth.Admin}
		local := &http.Client{Transport: transfer.InProcess{Handler: a.S3.Handler(), As: as}}
		dst := importer.S3Side{Bucket: toBucket, Client: transfer.S3Client(transfer.S3Endpoint{URL: &url.URL{Scheme: "http", Host: "arca.local"}}, local)}
		return importer.ImportS3(ctx, src, dst, o, opts, r)
	})
}

// firstEnv is the first of the variables that is set.
func firstEnv(env Env, names ...string) string {
	for _, n := range names {
		if v := env.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}
