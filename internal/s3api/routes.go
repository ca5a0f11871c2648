package s3api

import (
	"net/http"
	"sort"
	"strings"

	"github.com/arcaproject/arca/internal/httpx"
)

// opFunc serves one S3 operation.
type opFunc func(w http.ResponseWriter, r *http.Request, q *request) error

// level is what a request addresses.
type level int

const (
	service     level = iota // GET /
	bucketLevel              // /<bucket>
	objectLevel              // /<bucket>/<key>
)

// route is one S3 operation: method, level and the sub-resource query
// parameter that selects it ("" when none may be present).
type route struct {
	method string
	level  level
	sub    string
	name   string
	fn     opFunc
}

// routes is the whole S3 route table, in the order of the S3 API reference.
// Requests that name a sub-resource not listed here (policy, lifecycle,
// object lock, ...) get 501 NotImplemented.
func (h *Handler) routes() []route {
	return []route{
		{"GET", service, "", "ListBuckets", h.listBuckets},

		{"PUT", bucketLevel, "", "CreateBucket", h.createBucket},
		{"HEAD", bucketLevel, "", "HeadBucket", h.headBucket},
		{"DELETE", bucketLevel, "", "DeleteBucket", h.deleteBucket},
		{"GET", bucketLevel, "location", "GetBucketLocation", h.getBucketLocation},
		{"GET", bucketLevel, "versioning", "GetBucketVersioning", h.getBucketVersioning},
		{"PUT", bucketLevel, "versioning", "PutBucketVersioning", h.putBucketVersioning},
		{"GET", bucketLevel, "versions", "ListObjectVersions", h.listObjectVersions},
		{"GET", bucketLevel, "acl", "GetBucketAcl", h.getACL},
		{"PUT", bucketLevel, "acl", "PutBucketAcl (canned ACLs)", h.putBucketACL},
		{"GET", bucketLevel, "policy", "GetBucketPolicy (none)", h.getNone("NoSuchBucketPolicy", "the bucket policy does not exist")},
		{"GET", bucketLevel, "cors", "GetBucketCors (none)", h.getNone("NoSuchCORSConfiguration", "the CORS configuration does not exist")},
		{"PUT", bucketLevel, "tagging", "PutBucketTagging", h.putBucketTagging},
		{"GET", bucketLevel, "tagging", "GetBucketTagging", h.getBucketTagging},
		{"DELETE", bucketLevel, "tagging", "DeleteBucketTagging", h.deleteBucketTagging},
		{"GET", bucketLevel, "uploads", "ListMultipartUploads", h.listMultipartUploads},
		{"POST", bucketLevel, "delete", "DeleteObjects", h.deleteObjects},
		{"POST", bucketLevel, "", "PostObject (browser-form upload, policy signed with SigV4 or SigV2)", h.postObject},
		{"GET", bucketLevel, "", "ListObjects / ListObjectsV2 (list-type=2)", h.listObjects},

		{"PUT", objectLevel, "uploadId", "UploadPart / UploadPartCopy (x-amz-copy-source)", h.uploadPart},
		{"PUT", objectLevel, "", "PutObject / CopyObject (x-amz-copy-source)", h.putObject},
		{"GET", objectLevel, "uploadId", "ListParts", h.listParts},
		{"GET", objectLevel, "", "GetObject", h.getObject},
		{"HEAD", objectLevel, "", "HeadObject", h.getObject},
		{"GET", objectLevel, "acl", "GetObjectAcl", h.getACL},
		{"PUT", objectLevel, "acl", "PutObjectAcl (canned ACLs)", h.putObjectACL},
		{"GET", objectLevel, "attributes", "GetObjectAttributes", h.getObjectAttributes},
		{"PUT", objectLevel, "tagging", "PutObjectTagging", h.putObjectTagging},
		{"GET", objectLevel, "tagging", "GetObjectTagging", h.getObjectTagging},
		{"DELETE", objectLevel, "tagging", "DeleteObjectTagging", h.deleteObjectTagging},
		{"DELETE", objectLevel, "uploadId", "AbortMultipartUpload", h.abortUpload},
		{"DELETE", objectLevel, "", "DeleteObject", h.deleteObject},
		{"POST", objectLevel, "uploads", "CreateMultipartUpload", h.createUpload},
		{"POST", objectLevel, "uploadId", "CompleteMultipartUpload", h.completeUpload},
	}
}

// subresources are the query parameters that select an operation other
// than the plain one on a bucket or object.
var subresources = map[string]bool{
	"accelerate": true, "acl": true, "analytics": true, "attributes": true, "cors": true, "delete": true,
	"encryption": true, "intelligent-tiering": true, "inventory": true, "legal-hold": true, "lifecycle": true,
	"location": true, "logging": true, "metadataTable": true, "metrics": true, "notification": true,
	"object-lock": true, "ownershipControls": true, "policy": true, "policyStatus": true, "publicAccessBlock": true,
	"replication": true, "requestPayment": true, "restore": true, "retention": true, "select": true,
	"session": true, "tagging": true, "torrent": true, "uploadId": true, "uploads": true, "versioning": true,
	"versions": true, "website": true, "renameObject": true,
}

// route finds the operation of a request.
func (h *Handler) route(r *http.Request, q *request) (opFunc, error) {
	lv := service
	switch {
	case q.key != "":
		lv = objectLevel
	case q.bucket != "":
		lv = bucketLevel
	}
	var subs []string
	for k := range q.query {
		if subresources[k] {
			subs = append(subs, k)
		}
	}
	sort.Strings(subs)
	sub := ""
	switch {
	case len(subs) == 1:
		sub = subs[0]
	case len(subs) == 2 && subs[0] == "uploadId" && subs[1] == "uploads":
		sub = "uploadId"
	case len(subs) > 1:
		return nil, notImplemented("a request with sub-resources " + strings.Join(subs, ", "))
	}
	for _, rt := range h.routes() {
		if rt.level == lv && rt.sub == sub && rt.method == r.Method {
			op, _, _ := strings.Cut(rt.name, " ")
			httpx.SetRoute(r.Context(), op) // the operation is S3's route: a metrics label
			return rt.fn, nil
		}
	}
	switch r.Method {
	case "GET", "HEAD", "PUT", "POST", "DELETE":
	default:
		return nil, s3Error("MethodNotAllowed", "the specified method is not allowed against this resource")
	}
	if sub != "" {
		return nil, notImplemented(r.Method + " ?" + sub)
	}
	return nil, notImplemented(r.Method + " on this resource")
}
