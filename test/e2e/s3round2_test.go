package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/meta/metatest"
)

// TestS3SecondRound is issue 24 with boto3 and the aws CLI, on SQLite and
// PostgreSQL: checksums on CompleteMultipartUpload, conditional deletes and
// writes, listing encoding, idempotent CreateBucket and Complete,
// Content-Encoding, GetObjectAttributes, canned ACLs and versioning.
func TestS3SecondRound(t *testing.T) {
	venv := s3Venv(t)
	t.Run("sqlite", func(t *testing.T) { testS3SecondRound(t, venv, "") })
	t.Run("postgres", func(t *testing.T) { testS3SecondRound(t, venv, metatest.PostgresURL(t)) })
}

func testS3SecondRound(t *testing.T, venv, databaseURL string) {
	e := s3EndpointOf(t, StartServer(t, ServerOptions{DatabaseURL: databaseURL}))
	work := t.TempDir()
	env := e.awsEnv(t.TempDir())
	script := filepath.Join(work, "round2.py")
	mustWrite(t, script, boto3Round2Script)
	out := runCmd(t, 5*time.Minute, work, env, filepath.Join(venv, "bin", "python"), script, e.URL, e.KeyID, e.Secret, "round2")
	t.Logf("boto3:\n%s", indent(out))
	if !strings.Contains(out, "ALL OK") {
		t.Fatal("the boto3 script did not finish")
	}

	awsBin := filepath.Join(venv, "bin", "aws")
	aws := func(args ...string) string {
		t.Helper()
		return runCmd(t, 2*time.Minute, work, env, awsBin, args...)
	}
	aws("s3", "mb", "s3://cli-round2")
	aws("s3", "mb", "s3://cli-round2") // one's own bucket again: 200 in us-east-1
	mustWrite(t, filepath.Join(work, "f.txt"), "hello attributes")
	aws("s3api", "put-object", "--bucket", "cli-round2", "--key", "f.txt", "--body", "f.txt")
	if out := aws("s3api", "get-object-attributes", "--bucket", "cli-round2", "--key", "f.txt", "--object-attributes", "ObjectSize", "ETag"); !strings.Contains(out, `"ObjectSize": 16`) {
		t.Fatalf("get-object-attributes:\n%s", out)
	}
	aws("s3api", "put-bucket-acl", "--bucket", "cli-round2", "--acl", "public-read")
	if out := aws("s3api", "get-bucket-acl", "--bucket", "cli-round2"); !strings.Contains(out, "AllUsers") {
		t.Fatalf("get-bucket-acl after public-read:\n%s", out)
	}
	aws("s3api", "put-bucket-acl", "--bucket", "cli-round2", "--acl", "private")
	if out, err := runCmdErr(time.Minute, work, env, awsBin, "s3api", "delete-object", "--bucket", "cli-round2", "--key", "f.txt", "--if-match", `"00000000000000000000000000000000"`); err == nil || !strings.Contains(out, "PreconditionFailed") {
		t.Fatalf("delete-object with a wrong --if-match: %v\n%s", err, out)
	}
	aws("s3api", "head-object", "--bucket", "cli-round2", "--key", "f.txt")

	// Versioning: list-object-versions (the null version first), get-object --version-id.
	if out := aws("s3api", "list-object-versions", "--bucket", "cli-round2"); !strings.Contains(out, `"VersionId": "null"`) {
		t.Fatalf("list-object-versions of an unversioned bucket:\n%s", out)
	}
	aws("s3api", "put-bucket-versioning", "--bucket", "cli-round2", "--versioning-configuration", "Status=Enabled")
	if out := aws("s3api", "get-bucket-versioning", "--bucket", "cli-round2"); !strings.Contains(out, `"Enabled"`) {
		t.Fatalf("get-bucket-versioning:\n%s", out)
	}
	mustWrite(t, filepath.Join(work, "f.txt"), "second version")
	put := aws("s3api", "put-object", "--bucket", "cli-round2", "--key", "f.txt", "--body", "f.txt")
	vid := regexp.MustCompile(`"VersionId": "([^"]+)"`).FindStringSubmatch(put)
	if vid == nil {
		t.Fatalf("put-object in a versioned bucket printed no VersionId:\n%s", put)
	}
	aws("s3api", "get-object", "--bucket", "cli-round2", "--key", "f.txt", "--version-id", "null", filepath.Join(work, "v-null"))
	aws("s3api", "get-object", "--bucket", "cli-round2", "--key", "f.txt", "--version-id", vid[1], filepath.Join(work, "v-new"))
	for file, want := range map[string]string{"v-null": "hello attributes", "v-new": "second version"} {
		if b, err := os.ReadFile(filepath.Join(work, file)); err != nil || string(b) != want {
			t.Fatalf("get-object --version-id (%s) = %q, %v; want %q", file, b, err, want)
		}
	}
	aws("s3", "rm", "s3://cli-round2/f.txt") // a delete marker
	out = aws("s3api", "list-object-versions", "--bucket", "cli-round2")
	if !strings.Contains(out, "DeleteMarkers") || strings.Count(out, `"Key": "f.txt"`) != 3 {
		t.Fatalf("list-object-versions after a delete:\n%s", out)
	}
	for _, v := range []string{"null", vid[1]} {
		aws("s3api", "delete-object", "--bucket", "cli-round2", "--key", "f.txt", "--version-id", v)
	}
	marker := regexp.MustCompile(`(?s)"DeleteMarkers".*?"VersionId": "([^"]+)"`).FindStringSubmatch(out)
	if marker == nil {
		t.Fatalf("no delete marker in:\n%s", out)
	}
	aws("s3api", "delete-object", "--bucket", "cli-round2", "--key", "f.txt", "--version-id", marker[1])
	aws("s3", "rb", "s3://cli-round2")
	e.WantNoServerErrors()
}

const boto3Round2Script = `
import base64, hashlib, os, sys, zlib
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
endpoint, key, secret, bucket = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                  region_name="us-east-1", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
def code(f):
    try:
        f()
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError("no error")

s3.create_bucket(Bucket=bucket)
s3.create_bucket(Bucket=bucket)  # one's own bucket in us-east-1: 200

# checksums on CompleteMultipartUpload: full-object CRC32, composite SHA-256
data = os.urandom(11 << 20)
def upload(k, **create):
    up = s3.create_multipart_upload(Bucket=bucket, Key=k, **create)["UploadId"]
    parts = []
    for i, off in enumerate(range(0, len(data), 5 << 20), 1):
        kw = {"ChecksumAlgorithm": create["ChecksumAlgorithm"]} if "ChecksumAlgorithm" in create else {}
        r = s3.upload_part(Bucket=bucket, Key=k, UploadId=up, PartNumber=i, Body=data[off:off + (5 << 20)], **kw)
        p = {"PartNumber": i, "ETag": r["ETag"]}
        for a in ("ChecksumCRC32", "ChecksumSHA256"):
            if a in r:
                p[a] = r[a]
        parts.append(p)
    return up, parts
crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
up, parts = upload("full", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT")
assert code(lambda: s3.complete_multipart_upload(Bucket=bucket, Key="full", UploadId=up, MultipartUpload={"Parts": parts},
    ChecksumCRC32=base64.b64encode(b"\0\0\0\0").decode(), ChecksumType="FULL_OBJECT")) == "BadDigest"
r = s3.complete_multipart_upload(Bucket=bucket, Key="full", UploadId=up, MultipartUpload={"Parts": parts}, ChecksumCRC32=crc, ChecksumType="FULL_OBJECT")
assert r["ChecksumCRC32"] == crc, r
again = s3.complete_multipart_upload(Bucket=bucket, Key="full", UploadId=up, MultipartUpload={"Parts": parts})
assert again["ETag"] == r["ETag"] and again["ChecksumCRC32"] == crc, again
assert s3.get_object(Bucket=bucket, Key="full")["Body"].read() == data
up, parts = upload("composite", ChecksumAlgorithm="SHA256")
comp = base64.b64encode(hashlib.sha256(b"".join(base64.b64decode(p["ChecksumSHA256"]) for p in parts)).digest()).decode() + "-%d" % len(parts)
r = s3.complete_multipart_upload(Bucket=bucket, Key="composite", UploadId=up, MultipartUpload={"Parts": parts}, ChecksumSHA256=comp)
assert r["ChecksumSHA256"] == comp, r

# conditional deletes
s3.put_object(Bucket=bucket, Key="cond", Body=b"abc")
h = s3.head_object(Bucket=bucket, Key="cond")
assert code(lambda: s3.delete_object(Bucket=bucket, Key="cond", IfMatch='"00000000000000000000000000000000"')) == "PreconditionFailed"
assert code(lambda: s3.delete_object(Bucket=bucket, Key="cond", IfMatchSize=4)) == "PreconditionFailed"
r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "cond", "ETag": '"00000000000000000000000000000000"'}]})
assert r["Errors"][0]["Code"] == "PreconditionFailed" and not r.get("Deleted"), r
s3.head_object(Bucket=bucket, Key="cond")
s3.delete_object(Bucket=bucket, Key="cond", IfMatch=h["ETag"], IfMatchSize=3, IfMatchLastModifiedTime=h["LastModified"])
assert code(lambda: s3.head_object(Bucket=bucket, Key="cond")) == "404"

# conditional writes
e1 = s3.put_object(Bucket=bucket, Key="cw", Body=b"1")["ETag"]
assert code(lambda: s3.put_object(Bucket=bucket, Key="cw", Body=b"2", IfNoneMatch="*")) == "PreconditionFailed"
assert code(lambda: s3.put_object(Bucket=bucket, Key="cw", Body=b"2", IfNoneMatch=e1)) == "PreconditionFailed"
assert code(lambda: s3.put_object(Bucket=bucket, Key="cw", Body=b"2", IfMatch='"00000000000000000000000000000000"')) == "PreconditionFailed"
s3.put_object(Bucket=bucket, Key="cw", Body=b"2", IfMatch=e1)
assert s3.get_object(Bucket=bucket, Key="cw")["Body"].read() == b"2"

# listing: encoding-type=url (boto3 asks for it and decodes), a control character, an empty token
s3.put_object(Bucket=bucket, Key="a b/c+d", Body=b"x")
r = s3.list_objects_v2(Bucket=bucket, Prefix="a b/")
assert [o["Key"] for o in r["Contents"]] == ["a b/c+d"], r
r = s3.list_objects_v2(Bucket=bucket, Prefix="\n")
assert r["Prefix"] == "\n", r
r = s3.list_objects_v2(Bucket=bucket, ContinuationToken="")
assert r.get("ContinuationToken") == "", r

# Content-Encoding byte for byte
s3.put_object(Bucket=bucket, Key="enc", Body=b"x", ContentEncoding="deflate, gzip")
assert s3.head_object(Bucket=bucket, Key="enc")["ContentEncoding"] == "deflate, gzip"

# GetObjectAttributes
r = s3.get_object_attributes(Bucket=bucket, Key="full", ObjectAttributes=["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"])
assert r["ObjectSize"] == len(data) and r["ObjectParts"]["TotalPartsCount"] == 3 and r["Checksum"]["ChecksumCRC32"] == crc, r

# canned ACLs
s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
assert any(g["Grantee"].get("URI", "").endswith("/AllUsers") for g in s3.get_bucket_acl(Bucket=bucket)["Grants"])
s3.put_bucket_acl(Bucket=bucket, ACL="private")
assert not any(g["Grantee"].get("URI", "").endswith("/AllUsers") for g in s3.get_bucket_acl(Bucket=bucket)["Grants"])

# versioning
s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
v1 = s3.put_object(Bucket=bucket, Key="v", Body=b"one")["VersionId"]
v2 = s3.put_object(Bucket=bucket, Key="v", Body=b"two")["VersionId"]
assert v1 != v2 and "null" not in (v1, v2)
assert s3.get_object(Bucket=bucket, Key="v", VersionId=v1)["Body"].read() == b"one"
assert s3.head_object(Bucket=bucket, Key="v", VersionId=v2)["VersionId"] == v2
d = s3.delete_object(Bucket=bucket, Key="v")
assert d["DeleteMarker"] and d["VersionId"]
assert code(lambda: s3.get_object(Bucket=bucket, Key="v")) == "NoSuchKey"
r = s3.list_object_versions(Bucket=bucket, Prefix="v")
assert [x["VersionId"] for x in r["Versions"]] == [v2, v1] and r["DeleteMarkers"][0]["IsLatest"], r
s3.copy_object(Bucket=bucket, Key="v-copy", CopySource={"Bucket": bucket, "Key": "v", "VersionId": v1})
assert s3.get_object(Bucket=bucket, Key="v-copy")["Body"].read() == b"one"
s3.delete_object(Bucket=bucket, Key="v", VersionId=d["VersionId"])
assert s3.get_object(Bucket=bucket, Key="v")["Body"].read() == b"two"
assert code(lambda: s3.delete_bucket(Bucket=bucket)) == "BucketNotEmpty"

# empty the bucket, every version, and delete it
for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
    objs = [{"Key": x["Key"], "VersionId": x["VersionId"]} for x in page.get("Versions", []) + page.get("DeleteMarkers", [])]
    if objs:
        r = s3.delete_objects(Bucket=bucket, Delete={"Objects": objs})
        assert not r.get("Errors"), r
s3.delete_bucket(Bucket=bucket)
print("ALL OK")
`
