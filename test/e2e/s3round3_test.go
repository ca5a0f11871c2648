package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/meta/metatest"
)

// TestS3ThirdRound is the third round of issue 24 with boto3 and the aws
// CLI, on SQLite and PostgreSQL: browser-form uploads with a policy from
// boto3's generate_presigned_post, the cleanup loop of list-object-versions
// pages deleting what each page listed, ListBuckets pages, and part
// checksums on GET ?partNumber.
func TestS3ThirdRound(t *testing.T) {
	venv := s3Venv(t)
	t.Run("sqlite", func(t *testing.T) { testS3ThirdRound(t, venv, "") })
	t.Run("postgres", func(t *testing.T) { testS3ThirdRound(t, venv, metatest.PostgresURL(t)) })
}

func testS3ThirdRound(t *testing.T, venv, databaseURL string) {
	e := s3EndpointOf(t, StartServer(t, ServerOptions{DatabaseURL: databaseURL}))
	work := t.TempDir()
	env := e.awsEnv(t.TempDir())
	script := filepath.Join(work, "round3.py")
	mustWrite(t, script, boto3Round3Script)
	out := runCmd(t, 5*time.Minute, work, env, filepath.Join(venv, "bin", "python"), script, e.URL, e.KeyID, e.Secret, "round3")
	t.Logf("boto3:\n%s", indent(out))
	if !strings.Contains(out, "ALL OK") {
		t.Fatal("the boto3 script did not finish")
	}
	awsBin := filepath.Join(venv, "bin", "aws")
	if out := runCmd(t, time.Minute, work, env, awsBin, "s3api", "list-buckets", "--max-buckets", "1", "--prefix", "round3"); !strings.Contains(out, `"Name": "round3"`) {
		t.Fatalf("aws s3api list-buckets --max-buckets 1 --prefix round3:\n%s", out)
	}
}

const boto3Round3Script = `
import sys, urllib3
import boto3
from botocore.config import Config
endpoint, key, secret, bucket = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                  region_name="us-east-1", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
s3.create_bucket(Bucket=bucket)
http = urllib3.PoolManager()

# POST Object with a SigV4 policy (signature_version s3v4) and a SigV2 one
# (boto3's default for presigned POSTs)
v4 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret, region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 1}))
v2post = s3.generate_presigned_post(bucket, "forms/v2.txt", Conditions=[["content-length-range", 1, 100]], ExpiresIn=600)
r = http.request("POST", v2post["url"], fields=dict(v2post["fields"], file=("f", b"sigv2 form")))
assert r.status == 204, (r.status, r.data)
assert s3.get_object(Bucket=bucket, Key="forms/v2.txt")["Body"].read() == b"sigv2 form"
post = v4.generate_presigned_post(bucket, "forms/${filename}", Fields={"Content-Type": "text/plain"},
    Conditions=[["starts-with", "$key", "forms/"], {"Content-Type": "text/plain"}, ["content-length-range", 1, 100]], ExpiresIn=600)
def form(fields, body):
    f = dict(fields)
    f["file"] = ("hello.txt", body)
    return http.request("POST", post["url"], fields=f)
assert "x-amz-signature" in post["fields"], post["fields"]
r = form(post["fields"], b"hello form")
assert r.status == 204, (r.status, r.data)
o = s3.get_object(Bucket=bucket, Key="forms/hello.txt")
assert o["Body"].read() == b"hello form" and o["ContentType"] == "text/plain", o
r = form(post["fields"], b"x" * 101)
assert r.status == 400 and b"EntityTooLarge" in r.data, (r.status, r.data)
bad = dict(post["fields"]); bad["key"] = "elsewhere/${filename}"
r = form(bad, b"data")
assert r.status == 403 and b"AccessDenied" in r.data, (r.status, r.data)
bad = dict(post["fields"]); bad["x-amz-signature"] = "0" * 64
r = form(bad, b"data")
assert r.status == 403 and b"SignatureDoesNotMatch" in r.data, (r.status, r.data)
print("post object ok")

# list-object-versions pages, each deleted before the next is asked for
s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
for k in ("a", "b", "c"):
    for i in range(3):
        s3.put_object(Bucket=bucket, Key="v/" + k, Body=str(i).encode())
kw = {"Bucket": bucket, "Prefix": "v/", "MaxKeys": 2}
deleted = 0
while True:
    page = s3.list_object_versions(**kw)
    objs = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
    if objs:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": objs, "Quiet": True})
        deleted += len(objs)
    if not page["IsTruncated"]:
        break
    kw["KeyMarker"], kw["VersionIdMarker"] = page["NextKeyMarker"], page["NextVersionIdMarker"]
assert deleted == 9, deleted
assert "Versions" not in s3.list_object_versions(Bucket=bucket, Prefix="v/")
print("version cleanup ok")

# part checksums
up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ChecksumAlgorithm="SHA256")["UploadId"]
data = b"p" * (6 << 20)
parts = []
for i, off in enumerate(range(0, len(data), 5 << 20), 1):
    r = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=i, Body=data[off:off + (5 << 20)], ChecksumAlgorithm="SHA256")
    parts.append({"PartNumber": i, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]})
s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up, MultipartUpload={"Parts": parts})
for p in parts:
    g = s3.get_object(Bucket=bucket, Key="mp", PartNumber=p["PartNumber"], ChecksumMode="ENABLED")
    assert g["ChecksumSHA256"] == p["ChecksumSHA256"] and g["ChecksumType"] == "COMPOSITE", g
print("part checksums ok")
print("ALL OK")
`
