package transfer

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// S3Endpoint is an S3 API to talk to.
type S3Endpoint struct {
	// URL is the endpoint (path-style requests below it), or
	// s3://<region> for AWS itself (virtual-hosted requests).
	URL *url.URL
	// Region signs requests to an endpoint URL; "" means us-east-1.
	Region string
	// AccessKey and SecretKey sign requests; none means anonymous.
	AccessKey, SecretKey, SessionToken string
}

// S3Client returns an aws-sdk-go-v2 client of e over hc. Checksums are
// computed and validated only where an operation requires them (arca and
// other S3 implementations differ on the optional ones), and the SDK does
// not retry: the caller's retry (a job's, an import's next run) is the
// retry.
func S3Client(e S3Endpoint, hc *http.Client) *s3sdk.Client {
	region := e.Region
	if region == "" {
		region = "us-east-1"
	}
	o := s3sdk.Options{
		HTTPClient:                 hc,
		UsePathStyle:               true,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		RetryMaxAttempts:           1,
	}
	if e.URL.Scheme == "s3" {
		region = e.URL.Host
		o.UsePathStyle = false
	} else {
		o.BaseEndpoint = aws.String(e.URL.String())
	}
	o.Region = region
	if e.AccessKey != "" {
		o.Credentials = credentials.NewStaticCredentialsProvider(e.AccessKey, e.SecretKey, e.SessionToken)
	} else {
		o.Credentials = aws.AnonymousCredentials{}
	}
	return s3sdk.New(o)
}

// IsS3NotFound reports whether err is an S3 answer that the object (or
// key) does not exist.
func IsS3NotFound(err error) bool {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == 404 {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NotFound")
}

// SourceETagMeta is the user metadata that keeps, on a copy, the ETag of
// the object it was copied from (a multipart object's ETag differs once
// the copy is uploaded in one part), so that the next pass knows the copy
// is current.
const SourceETagMeta = "arca-replicated-etag"
