package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// The S3 API with the real clients: awscli, boto3 (both with their default
// checksum settings), rclone, s3cmd, and DVC's S3 remote.

// s3Endpoint is an arca server's S3 listener and an admin key pair.
type s3Endpoint struct {
	*Server
	URL, KeyID, Secret string
}

var s3ListenRe = regexp.MustCompile(`msg=listening surface=s3 url=(\S+)`)

// startS3Server starts arca and creates an S3 key pair for the admin with
// `arca admin s3key create`.
func startS3Server(t *testing.T) *s3Endpoint {
	t.Helper()
	return s3EndpointOf(t, StartServer(t, ServerOptions{}))
}

// s3EndpointOf finds srv's S3 listener and creates an S3 key pair for the
// admin with `arca admin s3key create`.
func s3EndpointOf(t *testing.T, srv *Server) *s3Endpoint {
	t.Helper()
	// The S3 listener starts right after the HTTP one, which StartServer
	// waited for.
	var m []string
	for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		m = s3ListenRe.FindStringSubmatch(srv.Log())
	}
	if m == nil {
		t.Fatalf("no S3 listener in the log:\n%s", srv.LogTail(20))
	}
	out := srv.Admin("s3key", "create", "admin", "--description", "e2e")
	id := regexp.MustCompile(`access key ID:\s+(\S+)`).FindStringSubmatch(out)
	secret := regexp.MustCompile(`secret access key:\s+(\S+)`).FindStringSubmatch(out)
	if id == nil || secret == nil {
		t.Fatalf("arca admin s3key create printed no key pair:\n%s", out)
	}
	if strings.Contains(srv.Log(), secret[1]) {
		t.Fatal("the secret access key appears in the server log")
	}
	return &s3Endpoint{Server: srv, URL: strings.Trim(m[1], `"`), KeyID: id[1], Secret: secret[1]}
}

// s3Venv finds a Python virtualenv with boto3 (and awscli): ARCA_TEST_S3_VENV,
// else ARCA_TEST_VENV when it has boto3.
func s3Venv(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"ARCA_TEST_S3_VENV", "ARCA_TEST_VENV"} {
		v := os.Getenv(name)
		if v == "" {
			continue
		}
		py := filepath.Join(v, "bin", "python")
		if err := exec.Command(py, "-c", "import boto3").Run(); err == nil {
			return v
		}
	}
	missing(t, "no Python virtualenv with boto3 (ARCA_TEST_S3_VENV or ARCA_TEST_VENV)")
	return ""
}

// awsEnv is the environment of aws and boto3 against e: credentials, no
// user configuration, no retries that would hide errors.
func (e *s3Endpoint) awsEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "ARCA_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+home, "AWS_ACCESS_KEY_ID="+e.KeyID, "AWS_SECRET_ACCESS_KEY="+e.Secret,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE="+filepath.Join(home, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "aws-credentials"), "AWS_MAX_ATTEMPTS=1",
		"AWS_ENDPOINT_URL="+e.URL)
}

// TestS3AWSCLIAndBoto3 drives arca with awscli and boto3 at their default
// (checksum) settings: bucket lifecycle, put/get/head/copy/delete, a 200 MB
// multipart upload, listings with delimiters and pagination over 5000 keys,
// DeleteObjects of 1000 keys, presigned GET and PUT with curl, and bad
// input.
func TestS3AWSCLIAndBoto3(t *testing.T) {
	venv := s3Venv(t)
	awsBin := filepath.Join(venv, "bin", "aws")
	if _, err := os.Stat(awsBin); err != nil {
		awsBin = needTool(t, "aws")
	}
	e := startS3Server(t)
	home := t.TempDir()
	env := e.awsEnv(home)
	work := t.TempDir()
	var st *testing.T // the running subtest
	aws := func(args ...string) string {
		st.Helper()
		start := time.Now()
		full := args
		if args[0] == "s3" && (args[1] == "cp" || args[1] == "sync" || args[1] == "rm") {
			full = append(slices.Clone(args), "--only-show-errors")
		}
		out := runCmd(st, 5*time.Minute, work, env, awsBin, full...)
		st.Logf("aws %s (%s)", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
		return out
	}
	t.Logf("%s", strings.TrimSpace(runCmd(t, time.Minute, work, env, awsBin, "--version")))

	t.Run("awscli", func(t *testing.T) {
		st = t
		aws("s3", "mb", "s3://cli-bucket")
		if out := aws("s3", "ls"); !strings.Contains(out, "cli-bucket") || !strings.Contains(out, "dvc-storage") {
			t.Fatalf("aws s3 ls:\n%s", out)
		}
		big := filepath.Join(work, "big.bin")
		sum := writeRandomFile(t, big, 200<<20)
		aws("s3", "cp", big, "s3://cli-bucket/data/big.bin")
		aws("s3", "cp", "s3://cli-bucket/data/big.bin", big+".back")
		if got, _ := sha256File(t, big+".back"); got != sum {
			t.Fatal("the 200 MB object downloaded differs from the upload")
		}
		var head struct {
			ContentLength int64
			ETag          string
			ChecksumType  string
		}
		if err := json.Unmarshal([]byte(aws("s3api", "head-object", "--bucket", "cli-bucket", "--key", "data/big.bin", "--checksum-mode", "ENABLED")), &head); err != nil {
			t.Fatal(err)
		}
		if head.ContentLength != 200<<20 || !regexp.MustCompile(`^"[0-9a-f]{32}-\d+"$`).MatchString(head.ETag) {
			t.Fatalf("head-object of the multipart object: %+v", head)
		}
		// A tree with sync, copies, listing, deletion.
		tree := filepath.Join(work, "tree")
		for _, p := range []string{"a/1.txt", "a/b/2.txt", "c.txt", "with space/ü.txt"} {
			os.MkdirAll(filepath.Dir(filepath.Join(tree, p)), 0o755)
			mustWrite(t, filepath.Join(tree, p), "content of "+p)
		}
		aws("s3", "sync", tree, "s3://cli-bucket/tree/")
		aws("s3", "cp", "s3://cli-bucket/tree/c.txt", "s3://cli-bucket/tree/copy.txt")
		out := aws("s3", "ls", "s3://cli-bucket/tree/")
		for _, want := range []string{"PRE a/", "PRE with space/", "c.txt", "copy.txt"} {
			if !strings.Contains(out, want) {
				t.Fatalf("aws s3 ls of the tree lacks %q:\n%s", want, out)
			}
		}
		back := filepath.Join(work, "tree-back")
		aws("s3", "sync", "s3://cli-bucket/tree/", back)
		for _, p := range []string{"a/1.txt", "a/b/2.txt", "c.txt", "copy.txt", "with space/ü.txt"} {
			if _, err := os.Stat(filepath.Join(back, p)); err != nil {
				t.Fatalf("sync back lacks %s", p)
			}
		}
		// Presigned GET with curl.
		url := strings.TrimSpace(aws("s3", "presign", "s3://cli-bucket/tree/c.txt", "--expires-in", "300"))
		r := curl(t, nil, url)
		if r.Status != 200 || string(r.Body(t)) != "content of c.txt" {
			t.Fatalf("presigned GET: %d %s", r.Status, r.Body(t))
		}
		aws("s3", "rm", "--recursive", "s3://cli-bucket/")
		aws("s3", "rb", "s3://cli-bucket")
		if out := aws("s3", "ls"); strings.Contains(out, "cli-bucket") {
			t.Fatalf("bucket still listed after rb:\n%s", out)
		}
	})

	t.Run("boto3", func(t *testing.T) {
		script := filepath.Join(work, "boto3_e2e.py")
		mustWrite(t, script, boto3Script)
		writeRandomFile(t, filepath.Join(work, "mid.bin"), 40<<20)
		start := time.Now()
		out := runCmd(t, 5*time.Minute, work, env, filepath.Join(venv, "bin", "python"), script, e.URL, e.KeyID, e.Secret, "boto-bucket", work)
		t.Logf("boto3 script (%s):\n%s", time.Since(start).Round(time.Millisecond), indent(out))
		if !strings.Contains(out, "ALL OK") {
			t.Fatal("the boto3 script did not finish")
		}
	})
	e.WantNoServerErrors()
}

// boto3Script exercises boto3 at its defaults; every check is an assert.
const boto3Script = `
import concurrent.futures as cf, hashlib, os, subprocess, sys, time
import boto3, botocore
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, key, secret, bucket, work = sys.argv[1:6]
print("boto3", boto3.__version__, "botocore", botocore.__version__)
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                  region_name="us-east-1", config=Config(retries={"max_attempts": 1}, max_pool_connections=32))

def code(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError("no error")

s3.create_bucket(Bucket=bucket)
assert s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
s3.create_bucket(Bucket=bucket)  # one's own bucket, again: 200 in us-east-1
assert code(lambda: s3.create_bucket(Bucket="bad..name")) == "InvalidBucketName"

# put/get/head with the default checksum, and with each algorithm
body = os.urandom(100_000)
r = s3.put_object(Bucket=bucket, Key="a/b.bin", Body=body, Metadata={"k": "v"}, ContentType="application/x-e2e")
assert r["ETag"] == '"%s"' % hashlib.md5(body).hexdigest(), r
g = s3.get_object(Bucket=bucket, Key="a/b.bin", ChecksumMode="ENABLED")
assert g["Body"].read() == body
print("default put checksum:", [k for k in g if k.startswith("Checksum")])
h = s3.head_object(Bucket=bucket, Key="a/b.bin")
assert h["Metadata"] == {"k": "v"} and h["ContentType"] == "application/x-e2e", h
for alg in ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]:  # CRC32C and CRC64NVME need botocore[crt]
    s3.put_object(Bucket=bucket, Key="alg/" + alg, Body=body, ChecksumAlgorithm=alg)
    g = s3.get_object(Bucket=bucket, Key="alg/" + alg, ChecksumMode="ENABLED")
    assert g["Body"].read() == body and ("Checksum" + alg) in g, (alg, g.keys())
assert s3.get_object(Bucket=bucket, Key="a/b.bin", Range="bytes=10-19")["Body"].read() == body[10:20]
s3.copy_object(Bucket=bucket, Key="a/copy.bin", CopySource={"Bucket": bucket, "Key": "a/b.bin"})
assert s3.get_object(Bucket=bucket, Key="a/copy.bin")["Body"].read() == body
s3.delete_object(Bucket=bucket, Key="a/copy.bin")
assert code(lambda: s3.head_object(Bucket=bucket, Key="a/copy.bin")) == "404"
assert code(lambda: s3.get_object(Bucket=bucket, Key="a/copy.bin")) == "NoSuchKey"

# multipart upload with the transfer manager (parallel parts, default checksums)
mid = os.path.join(work, "mid.bin")
cfg = TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20, max_concurrency=8)
s3.upload_file(mid, bucket, "mid.bin", Config=cfg)
s3.download_file(bucket, "mid.bin", mid + ".back", Config=cfg)
with open(mid, "rb") as a, open(mid + ".back", "rb") as b:
    assert hashlib.sha256(a.read()).digest() == hashlib.sha256(b.read()).digest()
h = s3.head_object(Bucket=bucket, Key="mid.bin", ChecksumMode="ENABLED")
assert h["ETag"].endswith('-5"'), h["ETag"]
print("multipart checksum:", {k: v for k, v in h.items() if k.startswith("Checksum")})

# 5000 keys (copies of one object: rows only, no new bytes to fsync), then
# listings with a delimiter and pagination
t0 = time.time()
s3.put_object(Bucket=bucket, Key="src", Body=b"x")
with cf.ThreadPoolExecutor(16) as ex:
    list(ex.map(lambda i: s3.copy_object(Bucket=bucket, Key="many/%02d/%05d" % (i // 100, i), CopySource={"Bucket": bucket, "Key": "src"}), range(5000)))
s3.delete_object(Bucket=bucket, Key="src")
print("copied 5000 keys in %.1fs" % (time.time() - t0))
pag = s3.get_paginator("list_objects_v2")
keys = [o["Key"] for p in pag.paginate(Bucket=bucket, Prefix="many/", PaginationConfig={"PageSize": 1000}) for o in p.get("Contents", [])]
assert keys == sorted(keys) and len(keys) == 5000, len(keys)
pref = [c["Prefix"] for p in pag.paginate(Bucket=bucket, Prefix="many/", Delimiter="/", PaginationConfig={"PageSize": 7}) for c in p.get("CommonPrefixes", [])]
assert pref == ["many/%02d/" % i for i in range(50)], pref
top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
assert [c["Prefix"] for c in top["CommonPrefixes"]] == ["a/", "alg/", "many/"] and [o["Key"] for o in top["Contents"]] == ["mid.bin"], top
v1 = [o["Key"] for p in s3.get_paginator("list_objects").paginate(Bucket=bucket, Prefix="many/4", PaginationConfig={"PageSize": 333}) for o in p.get("Contents", [])]
assert len(v1) == 1000, len(v1)

# DeleteObjects of 1000 keys
r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[:1000]]})
assert len(r["Deleted"]) == 1000 and not r.get("Errors"), r.get("Errors")
left = sum(len(p.get("Contents", [])) for p in pag.paginate(Bucket=bucket, Prefix="many/"))
assert left == 4000, left

# presigned PUT and GET with curl; an expired URL
src = os.path.join(work, "presigned.txt")
with open(src, "w") as f:
    f.write("uploaded with a presigned URL")
url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "pre/signed.txt"}, ExpiresIn=300)
out = subprocess.run(["curl", "-sS", "-w", "%{http_code}", "-o", "/dev/null", "-T", src, url], capture_output=True, text=True)
assert out.stdout == "200", out
url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre/signed.txt"}, ExpiresIn=300)
out = subprocess.run(["curl", "-sS", url], capture_output=True, text=True)
assert out.stdout == "uploaded with a presigned URL", out
url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre/signed.txt"}, ExpiresIn=1)
time.sleep(2)
out = subprocess.run(["curl", "-sS", "-w", "%{http_code}", url], capture_output=True, text=True)
assert out.stdout.endswith("403") and "<Code>AccessDenied</Code>" in out.stdout, out

# object tagging
s3.put_object(Bucket=bucket, Key="tagged", Body=b"t", Tagging="team=ml&stage=prod%20eu")
assert s3.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"] == [{"Key": "stage", "Value": "prod eu"}, {"Key": "team", "Value": "ml"}]  # by key, as S3
assert s3.head_object(Bucket=bucket, Key="tagged")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "2"
s3.put_object_tagging(Bucket=bucket, Key="tagged", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
assert s3.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"] == [{"Key": "k", "Value": "v"}]
assert code(lambda: s3.put_object_tagging(Bucket=bucket, Key="tagged", Tagging={"TagSet": [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]})) == "InvalidTag"
assert code(lambda: s3.put_object(Bucket=bucket, Key="bad", Body=b"x", Tagging="&".join("k%d=v" % i for i in range(11)))) == "BadRequest"
s3.copy_object(Bucket=bucket, Key="tagged2", CopySource={"Bucket": bucket, "Key": "tagged"}, TaggingDirective="REPLACE", Tagging="x=1")
assert s3.get_object_tagging(Bucket=bucket, Key="tagged2")["TagSet"] == [{"Key": "x", "Value": "1"}]
s3.delete_object_tagging(Bucket=bucket, Key="tagged")
assert s3.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"] == []
s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "tagged"}, {"Key": "tagged2"}]})

# bad input stores nothing
assert code(lambda: s3.put_object(Bucket=bucket, Key="bad", Body=b"hello", ChecksumCRC32="AAAAAA==")) == "BadDigest"
assert code(lambda: s3.put_object(Bucket=bucket, Key="bad", Body=b"hello", ContentMD5="AAAAAAAAAAAAAAAAAAAAAA==")) == "BadDigest"
assert code(lambda: s3.head_object(Bucket=bucket, Key="bad")) == "404"
up = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
assert code(lambda: s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=10001, Body=b"x")) == "InvalidArgument"
s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=up)
assert code(lambda: s3.list_parts(Bucket=bucket, Key="mp", UploadId=up)) == "NoSuchUpload"
bad = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret + "x",
                   region_name="us-east-1", config=Config(retries={"max_attempts": 1}))
assert code(lambda: bad.list_buckets()) == "SignatureDoesNotMatch"

# empty the bucket and delete it
for p in pag.paginate(Bucket=bucket):
    objs = [{"Key": o["Key"]} for o in p.get("Contents", [])]
    if objs:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": objs, "Quiet": True})
s3.delete_bucket(Bucket=bucket)
print("ALL OK")
`

// TestS3RcloneAndS3cmd copies a tree with rclone and objects (one of them
// multipart) with s3cmd.
func TestS3RcloneAndS3cmd(t *testing.T) {
	e := startS3Server(t)
	work := t.TempDir()
	tree := filepath.Join(work, "tree")
	files := map[string]int64{"a.bin": 1 << 20, "sub/b.bin": 100, "sub/deeper/c.bin": 0, "big.bin": 30 << 20}
	for p, size := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(tree, p)), 0o755)
		writeRandomFile(t, filepath.Join(tree, p), size)
	}
	want := treeDigests(t, tree)

	t.Run("rclone", func(t *testing.T) {
		rclone := needTool(t, "rclone")
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "RCLONE_") {
				env = append(env, kv)
			}
		}
		env = append(env, "RCLONE_CONFIG=/dev/null",
			"RCLONE_CONFIG_ARCA_TYPE=s3", "RCLONE_CONFIG_ARCA_PROVIDER=Other", "RCLONE_CONFIG_ARCA_ENDPOINT="+e.URL,
			"RCLONE_CONFIG_ARCA_ACCESS_KEY_ID="+e.KeyID, "RCLONE_CONFIG_ARCA_SECRET_ACCESS_KEY="+e.Secret,
			"RCLONE_CONFIG_ARCA_REGION=us-east-1", "RCLONE_CONFIG_ARCA_FORCE_PATH_STYLE=true")
		rc := func(args ...string) string {
			t.Helper()
			return runCmd(t, 3*time.Minute, work, env, rclone, args...)
		}
		t.Logf("%s", strings.SplitN(rc("version"), "\n", 2)[0])
		rc("mkdir", "arca:rclone-bucket")
		rc("copy", tree, "arca:rclone-bucket/tree", "--s3-upload-cutoff", "8M", "--s3-chunk-size", "8M")
		rc("check", tree, "arca:rclone-bucket/tree")
		lsf := strings.Fields(rc("lsf", "-R", "--files-only", "arca:rclone-bucket/tree"))
		sort.Strings(lsf)
		if strings.Join(lsf, ",") != "a.bin,big.bin,sub/b.bin,sub/deeper/c.bin" {
			t.Fatalf("rclone lsf = %v", lsf)
		}
		back := filepath.Join(work, "rclone-back")
		rc("copy", "arca:rclone-bucket/tree", back)
		if got := treeDigests(t, back); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("rclone round trip differs:\n%v\n%v", got, want)
		}
		rc("purge", "arca:rclone-bucket")
	})

	t.Run("s3cmd", func(t *testing.T) {
		s3cmd := needTool(t, "s3cmd")
		host := strings.TrimPrefix(e.URL, "http://")
		cfg := filepath.Join(work, "s3cfg")
		mustWrite(t, cfg, fmt.Sprintf("[default]\naccess_key = %s\nsecret_key = %s\nhost_base = %s\nhost_bucket = %s\nuse_https = False\nsignature_v2 = False\nbucket_location = us-east-1\n", e.KeyID, e.Secret, host, host))
		sc := func(args ...string) string {
			t.Helper()
			return runCmd(t, 3*time.Minute, work, os.Environ(), s3cmd, append([]string{"-c", cfg}, args...)...)
		}
		sc("mb", "s3://s3cmd-bucket")
		sc("put", filepath.Join(tree, "big.bin"), "s3://s3cmd-bucket/big.bin") // multipart (15 MB parts)
		sc("put", filepath.Join(tree, "a.bin"), "s3://s3cmd-bucket/dir/a.bin")
		out := sc("ls", "-r", "s3://s3cmd-bucket")
		if !strings.Contains(out, "s3://s3cmd-bucket/big.bin") || !strings.Contains(out, "s3://s3cmd-bucket/dir/a.bin") {
			t.Fatalf("s3cmd ls:\n%s", out)
		}
		sc("get", "s3://s3cmd-bucket/big.bin", filepath.Join(work, "s3cmd-big"))
		if got, _ := sha256File(t, filepath.Join(work, "s3cmd-big")); got != sha256Of(t, filepath.Join(tree, "big.bin")) {
			t.Fatal("s3cmd round trip differs")
		}
		sc("info", "s3://s3cmd-bucket/dir/a.bin")
		sc("del", "--recursive", "--force", "s3://s3cmd-bucket")
		sc("rb", "s3://s3cmd-bucket")
	})
	e.WantNoServerErrors()
}

func sha256Of(t *testing.T, path string) string {
	s, _ := sha256File(t, path)
	return s
}

// TestDVCS3Remote uses the dvc-storage bucket as DVC's S3 remote: a folder
// of 2000 small files and a 200 MB file are pushed, the repository is
// cloned elsewhere and pulled, every file compared; status -c is clean;
// after a new version, `dvc gc -c -w -f` removes exactly what is no longer
// referenced.
func TestDVCS3Remote(t *testing.T) {
	venv := os.Getenv("ARCA_TEST_VENV")
	if venv == "" {
		missing(t, "ARCA_TEST_VENV (a Python virtualenv with dvc) is not set")
	}
	dvcBin := filepath.Join(venv, "bin", "dvc")
	if err := exec.Command(filepath.Join(venv, "bin", "python"), "-c", "import dvc_s3").Run(); err != nil {
		missing(t, "dvc-s3 is not installed in %s", venv)
	}
	gitBin := needTool(t, "git")
	e := startS3Server(t)
	home := t.TempDir()
	env := dvcEnv(home)
	root := t.TempDir()
	proj := filepath.Join(root, "project")
	os.Mkdir(proj, 0o755)
	run := func(dir, bin string, args ...string) string {
		t.Helper()
		start := time.Now()
		out := runCmd(t, 5*time.Minute, dir, env, bin, args...)
		t.Logf("%s %s (%s)", filepath.Base(bin), strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
		return out
	}
	git := func(dir string, args ...string) { t.Helper(); run(dir, gitBin, args...) }
	dvc := func(dir string, args ...string) string { t.Helper(); return run(dir, dvcBin, args...) }
	credentials := func(dir string) {
		t.Helper()
		dvc(dir, "remote", "modify", "--local", "s3", "access_key_id", e.KeyID)
		dvc(dir, "remote", "modify", "--local", "s3", "secret_access_key", e.Secret)
	}

	git(proj, "init", "-q")
	dvc(proj, "init", "-q")
	dvc(proj, "config", "core.analytics", "false")
	data := filepath.Join(proj, "data")
	os.MkdirAll(filepath.Join(data, "small"), 0o755)
	for i := 0; i < 2000; i++ {
		mustWrite(t, filepath.Join(data, "small", fmt.Sprintf("f%04d.txt", i)), fmt.Sprintf("small file %d\n", i))
	}
	writeRandomFile(t, filepath.Join(data, "big.bin"), 200<<20)
	want := treeDigests(t, data)
	dvc(proj, "add", "data")
	dvc(proj, "remote", "add", "-d", "s3", "s3://dvc-storage/project")
	dvc(proj, "remote", "modify", "s3", "endpointurl", e.URL)
	credentials(proj)
	git(proj, "add", "-A")
	git(proj, "commit", "-q", "-m", "data v1")
	dvc(proj, "push")
	if out := dvc(proj, "status", "-c"); !strings.Contains(out, "in sync") {
		t.Fatalf("dvc status -c after push:\n%s", out)
	}

	clone := filepath.Join(root, "clone")
	git(root, "clone", "-q", proj, clone)
	credentials(clone)
	dvc(clone, "pull")
	if got := treeDigests(t, filepath.Join(clone, "data")); len(got) != len(want) || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pulled data differs: %d files, want %d", len(got), len(want))
	}
	if out := dvc(clone, "status", "-c"); !strings.Contains(out, "in sync") {
		t.Fatalf("dvc status -c in the clone:\n%s", out)
	}

	// A new version: drop 100 small files and the big one, add one file.
	for i := 0; i < 100; i++ {
		os.Remove(filepath.Join(data, "small", fmt.Sprintf("f%04d.txt", i)))
	}
	os.Remove(filepath.Join(data, "big.bin"))
	mustWrite(t, filepath.Join(data, "new.txt"), "a new file\n")
	dvc(proj, "add", "data")
	git(proj, "commit", "-q", "-am", "data v2")
	dvc(proj, "push")
	before := remoteObjects(t, e, env, venv)
	dvc(proj, "gc", "-c", "-w", "-f")
	after := remoteObjects(t, e, env, venv)
	// Removed: 100 small files, the big file, the v1 directory manifest.
	if len(before)-len(after) != 102 {
		t.Fatalf("dvc gc -c removed %d objects from the remote, want 102 (%d before, %d after)", len(before)-len(after), len(before), len(after))
	}
	if out := dvc(proj, "status", "-c"); !strings.Contains(out, "in sync") {
		t.Fatalf("dvc status -c after gc:\n%s", out)
	}
	e.WantNoServerErrors()
}

// remoteObjects lists the keys of the dvc-storage bucket with boto3.
func remoteObjects(t *testing.T, e *s3Endpoint, env []string, venv string) []string {
	t.Helper()
	script := `import sys, botocore.session
s = botocore.session.get_session().create_client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3], region_name="us-east-1")
for p in s.get_paginator("list_objects_v2").paginate(Bucket="dvc-storage"):
    for o in p.get("Contents", []):
        print(o["Key"])
`
	out := runCmd(t, time.Minute, t.TempDir(), env, filepath.Join(venv, "bin", "python"), "-c", script, e.URL, e.KeyID, e.Secret)
	return strings.Fields(out)
}
