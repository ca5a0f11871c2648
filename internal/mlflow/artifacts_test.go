package mlflow_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Tests of the artifact proxy. Helpers are prefixed "art" to keep clear of
// other test files of the package.

const (
	artRoot = "/mlflow/api/2.0/mlflow-artifacts/artifacts"
	artMPU  = "/mlflow/api/2.0/mlflow-artifacts/mpu"
)

// artUser creates a user with role on the mlflow space and returns its
// Basic credentials.
func artUser(t *testing.T, s *apptest.Server, name string, role auth.Role) string {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Auth.CreateUser(ctx, name, name+"-password", "", auth.NoRole); err != nil {
		t.Fatal(err)
	}
	if role != auth.NoRole {
		space, err := s.Repos.Get(ctx, "mlflow")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Auth.Grant(ctx, name, space.ID, role); err != nil {
			t.Fatal(err)
		}
	}
	return name + ":" + name + "-password"
}

// artCode returns the error_code of an MLflow error body.
func artCode(body string) string {
	var e struct {
		ErrorCode string `json:"error_code"`
	}
	json.Unmarshal([]byte(body), &e)
	return e.ErrorCode
}

// artExec runs SQL against the server's database (fixtures).
func artExec(t *testing.T, s *apptest.Server, q string, args ...any) {
	t.Helper()
	if _, err := s.DB.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// artExperiment creates an experiment whose artifacts live at
// mlflow-artifacts:/<id>.
func artExperiment(t *testing.T, s *apptest.Server, id int64, name string) {
	t.Helper()
	artExec(t, s, `INSERT INTO mlflow_experiments (id, name, artifact_location, creation_time, last_update_time) VALUES ($1, $2, $3, 1, 1)`,
		id, name, "mlflow-artifacts:/"+strconv.FormatInt(id, 10))
}

// artObjects counts the objects of every bucket.
func artObjects(t *testing.T, s *apptest.Server) int {
	t.Helper()
	var n int
	if err := s.DB.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM s3_objects`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func artRandom(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// artETag is the ETag of an artifact written in one request: half its
// SHA-256 with a one-part suffix, which S3 clients do not take for an MD5.
func artETag(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:16]) + "-1"
}

// artS3 returns an S3 client of the admin against the server's S3 surface.
func artS3(t *testing.T, s *apptest.Server) *s3.Client {
	t.Helper()
	ts := httptest.NewServer(s.S3Handler())
	t.Cleanup(ts.Close)
	k, secret, err := s.Auth.CreateAccessKey(context.Background(), "admin", "", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(k.ID, secret, "")})
}

func TestArtifactRoundTrip(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		key := "1/0123456789abcdef0123456789abcdef/artifacts/hello.txt"
		content := "hello, artifacts"
		resp, body := s.Do(t, "PUT", artRoot+"/"+key, admin, strings.NewReader(content), "Content-Type", "text/plain")
		if resp.StatusCode != 200 || strings.TrimSpace(body) != "{}" {
			t.Fatalf("put: %d %s", resp.StatusCode, body)
		}
		resp, body = s.Do(t, "GET", artRoot+"/"+key, admin, nil)
		if resp.StatusCode != 200 || body != content || resp.Header.Get("Content-Type") != "text/plain" ||
			resp.Header.Get("ETag") != `"`+artETag([]byte(content))+`"` {
			t.Fatalf("get: %d %q %v", resp.StatusCode, body, resp.Header)
		}
		// Ranges, as the client's chunked download sends them.
		resp, body = s.Do(t, "GET", artRoot+"/"+key, admin, nil, "Range", "bytes=7-15")
		if resp.StatusCode != 206 || body != content[7:16] || resp.Header.Get("Content-Range") != "bytes 7-15/16" {
			t.Fatalf("range: %d %q %v", resp.StatusCode, body, resp.Header)
		}
		resp, body = s.Do(t, "GET", artRoot+"/"+key, admin, nil, "Range", "bytes=-4")
		if resp.StatusCode != 206 || body != content[12:] {
			t.Fatalf("suffix range: %d %q", resp.StatusCode, body)
		}
		resp, _ = s.Do(t, "GET", artRoot+"/"+key, admin, nil, "Range", "bytes=100-200")
		if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
			t.Fatalf("unsatisfiable range: %d", resp.StatusCode)
		}
		resp, _ = s.Do(t, "GET", artRoot+"/"+key, admin, nil, "If-None-Match", `"`+artETag([]byte(content))+`"`)
		if resp.StatusCode != http.StatusNotModified {
			t.Fatalf("conditional get: %d", resp.StatusCode)
		}
		resp, body = s.Do(t, "GET", artRoot+"/1/nothing/here.txt", admin, nil)
		if resp.StatusCode != 404 || artCode(body) != "RESOURCE_DOES_NOT_EXIST" {
			t.Fatalf("missing artifact: %d %s", resp.StatusCode, body)
		}
		resp, body = s.Do(t, "GET", artRoot+"/1/0123456789abcdef0123456789abcdef", admin, nil)
		if resp.StatusCode != 400 || artCode(body) != "INVALID_PARAMETER_VALUE" || !strings.Contains(body, "directory") {
			t.Fatalf("a directory: %d %s", resp.StatusCode, body)
		}

		// A body of unknown length (chunked) streams just the same; a
		// replaced artifact has the new content.
		big := artRandom(t, 3<<20+17)
		req, _ := http.NewRequest("PUT", s.URL+artRoot+"/1/run/artifacts/data/big.bin", io.MultiReader(bytes.NewReader(big)))
		req.SetBasicAuth("admin", apptest.AdminPassword)
		req.ContentLength = -1
		r2, err := http.DefaultClient.Do(req)
		if err != nil || r2.StatusCode != 200 {
			t.Fatalf("chunked put: %v %v", err, r2)
		}
		r2.Body.Close()
		resp, body = s.Do(t, "GET", artRoot+"/1/run/artifacts/data/big.bin", admin, nil)
		if resp.StatusCode != 200 || body != string(big) || resp.Header.Get("Content-Type") != "application/octet-stream" {
			t.Fatalf("chunked get: %d, %d bytes", resp.StatusCode, len(body))
		}

		// The artifacts are objects of the bucket, byte for byte, with
		// an opaque ETag (no MD5 is computed) and S3's SHA-256 checksum,
		// which the SDK verifies as it reads when asked to.
		c := artS3(t, s)
		out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("mlflow-artifacts"),
			Key: aws.String("1/run/artifacts/data/big.bin"), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		sum := sha256.Sum256(big)
		if err != nil || !bytes.Equal(got, big) || aws.ToString(out.ETag) != `"`+artETag(big)+`"` ||
			aws.ToString(out.ChecksumSHA256) != base64.StdEncoding.EncodeToString(sum[:]) || out.ChecksumType != types.ChecksumTypeFullObject {
			t.Fatalf("S3 view: %d bytes (%v), ETag %s, checksum %s %s", len(got), err, aws.ToString(out.ETag),
				aws.ToString(out.ChecksumSHA256), out.ChecksumType)
		}
		list, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("mlflow-artifacts"), Prefix: aws.String("1/")})
		if err != nil || len(list.Contents) != 2 {
			t.Fatalf("S3 listing: %v %+v", err, list)
		}
	})
}

// artPut uploads content to key as admin.
func artPut(t *testing.T, s *apptest.Server, key, content string) {
	t.Helper()
	resp, body := s.Do(t, "PUT", artRoot+"/"+key, admin, strings.NewReader(content))
	if resp.StatusCode != 200 {
		t.Fatalf("put %s: %d %s", key, resp.StatusCode, body)
	}
}

type artFile struct {
	Path     string `json:"path"`
	IsDir    bool   `json:"is_dir"`
	FileSize *int64 `json:"file_size"`
}

type artListing struct {
	RootURI string    `json:"root_uri"`
	Files   []artFile `json:"files"`
}

func artList(t *testing.T, s *apptest.Server, path, user string) artListing {
	t.Helper()
	resp, body := s.Do(t, "GET", path, user, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("list %s: %d %s", path, resp.StatusCode, body)
	}
	var l artListing
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		t.Fatalf("list %s: %v in %s", path, err, body)
	}
	return l
}

// artNames renders a listing compactly: "name" for files (with size),
// "name/" for directories.
func artNames(l artListing) string {
	var out []string
	for _, f := range l.Files {
		switch {
		case f.IsDir && f.FileSize == nil:
			out = append(out, f.Path+"/")
		case !f.IsDir && f.FileSize != nil:
			out = append(out, f.Path+":"+strconv.FormatInt(*f.FileSize, 10))
		default:
			out = append(out, "?"+f.Path)
		}
	}
	return strings.Join(out, " ")
}

func TestArtifactListAndDelete(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		run := "0123456789abcdef0123456789abcdef"
		root := "1/" + run + "/artifacts"
		artExperiment(t, s, 1, "exp")
		artExec(t, s, `INSERT INTO mlflow_runs (run_uuid, experiment_id, artifact_uri) VALUES ($1, 1, $2)`, run, "mlflow-artifacts:/"+root)
		artExec(t, s, `INSERT INTO mlflow_logged_models (id, experiment_id, name, artifact_location, creation_timestamp, last_updated_timestamp)
			VALUES ('m-0123', 1, 'model', 'mlflow-artifacts:/1/models/m-0123/artifacts', 1, 1)`)
		for k, v := range map[string]string{"a.txt": "aa", "dir/b.txt": "bbb", "dir/c/d.txt": "d", "a/e.txt": "eeeee"} {
			artPut(t, s, root+"/"+k, v)
		}
		artPut(t, s, "1/models/m-0123/artifacts/MLmodel", "flavors: {}")
		artPut(t, s, "1/models/m-0123/artifacts/model.pkl", "pickle")

		// The proxy's listing names entries by base name, directories first
		// by path order as MLflow's server sorts them.
		if got := artNames(artList(t, s, artRoot+"?path="+root, admin)); got != "a/ a.txt:2 dir/" {
			t.Fatalf("root listing: %s", got)
		}
		if got := artNames(artList(t, s, artRoot+"?path="+root+"/dir", admin)); got != "b.txt:3 c/" {
			t.Fatalf("dir listing: %s", got)
		}
		if got := artNames(artList(t, s, artRoot+"?path="+root+"/a.txt", admin)); got != "" {
			t.Fatalf("listing a file: %s", got)
		}
		if got := artNames(artList(t, s, artRoot+"?path=1", admin)); got != run+"/ models/" {
			t.Fatalf("experiment listing: %s", got)
		}
		// A run's listing names entries relative to the run's root.
		l := artList(t, s, "/mlflow/api/2.0/mlflow/artifacts/list?run_id="+run+"&path=dir", admin)
		if got := artNames(l); got != "dir/b.txt:3 dir/c/" || l.RootURI != "mlflow-artifacts:/"+root {
			t.Fatalf("run listing: %s %s", got, l.RootURI)
		}
		if got := artNames(artList(t, s, "/mlflow/api/2.0/mlflow/artifacts/list?run_id="+run, admin)); got != "a/ a.txt:2 dir/" {
			t.Fatalf("run root listing: %s", got)
		}
		l = artList(t, s, "/mlflow/api/2.0/mlflow/logged-models/m-0123/artifacts/directories", admin)
		if got := artNames(l); got != "MLmodel:11 model.pkl:6" || l.RootURI != "mlflow-artifacts:/1/models/m-0123/artifacts" {
			t.Fatalf("logged model listing: %s %s", got, l.RootURI)
		}
		resp, body := s.Do(t, "GET", "/mlflow/api/2.0/mlflow/artifacts/list?run_id=ffff", admin, nil)
		if resp.StatusCode != 404 || artCode(body) != "RESOURCE_DOES_NOT_EXIST" {
			t.Fatalf("unknown run: %d %s", resp.StatusCode, body)
		}
		resp, body = s.Do(t, "GET", "/mlflow/api/2.0/mlflow/artifacts/list?run_id="+run+"&path=../../2", admin, nil)
		if resp.StatusCode != 400 || artCode(body) != "INVALID_PARAMETER_VALUE" {
			t.Fatalf("escaping run listing: %d %s", resp.StatusCode, body)
		}

		// Deleting a directory deletes what is below it, and nothing else.
		resp, body = s.Do(t, "DELETE", artRoot+"/"+root+"/dir", admin, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("delete dir: %d %s", resp.StatusCode, body)
		}
		if got := artNames(artList(t, s, artRoot+"?path="+root, admin)); got != "a/ a.txt:2" {
			t.Fatalf("after deleting dir: %s", got)
		}
		resp, _ = s.Do(t, "DELETE", artRoot+"/"+root+"/a.txt", admin, nil)
		resp2, _ := s.Do(t, "GET", artRoot+"/"+root+"/a.txt", admin, nil)
		if resp.StatusCode != 200 || resp2.StatusCode != 404 {
			t.Fatalf("delete file: %d, then get: %d", resp.StatusCode, resp2.StatusCode)
		}
		resp, _ = s.Do(t, "DELETE", artRoot+"/"+root+"/never-was", admin, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("delete missing: %d", resp.StatusCode)
		}
		if got := artNames(artList(t, s, artRoot+"?path="+root, admin)); got != "a/" {
			t.Fatalf("after deleting a.txt: %s", got)
		}
	})
}

func TestArtifactPathsThatEscape(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		artPut(t, s, "1/r/artifacts/keep.txt", "keep")
		before := artObjects(t, s)
		// Paths that reach the proxy's cleaner: INVALID_PARAMETER_VALUE.
		for _, p := range []string{
			"1/%252e%252e/%252e%252e/x",       // .. after a second decoding
			"1/a%252F..%252F..%252Fx",         // encoded slashes around ..
			"%252Fetc%252Fpasswd",             // an absolute path
			"1/x%2523y",                       // #
			"C:%255Cwindows",                  // a drive and a backslash
			"1/r/%25zz/%252e%252e/%252e%252e", // a broken escape before ..
		} {
			for _, m := range []string{"PUT", "GET", "DELETE"} {
				resp, body := s.Do(t, m, artRoot+"/"+p, admin, strings.NewReader("evil"))
				if resp.StatusCode != 400 || artCode(body) != "INVALID_PARAMETER_VALUE" {
					t.Errorf("%s %s: %d %s", m, p, resp.StatusCode, body)
				}
			}
			resp, body := s.Do(t, "POST", artMPU+"/create/"+p, admin, strings.NewReader(`{"path":"f","num_parts":1}`))
			if resp.StatusCode != 400 || artCode(body) != "INVALID_PARAMETER_VALUE" {
				t.Errorf("mpu create %s: %d %s", p, resp.StatusCode, body)
			}
		}
		for _, p := range []string{"../x", "/etc", "1/../..", "1//x", `1\..\x`, "1/%2e%2e"} {
			resp, body := s.Do(t, "GET", artRoot+"?path="+url.QueryEscape(p), admin, nil)
			if resp.StatusCode != 400 || artCode(body) != "INVALID_PARAMETER_VALUE" {
				t.Errorf("list %q: %d %s", p, resp.StatusCode, body)
			}
		}
		// A multipart upload's file name cannot climb out of its directory.
		resp, body := s.Do(t, "POST", artMPU+"/create/1/r/artifacts", admin, strings.NewReader(`{"path":"..","num_parts":1}`))
		if resp.StatusCode != 400 || artCode(body) != "INVALID_PARAMETER_VALUE" {
			t.Errorf("mpu create of ..: %d %s", resp.StatusCode, body)
		}
		// Paths the server's own guard refuses before routing are 400 too.
		for _, p := range []string{"1/../x", "1/%2e%2e/x", "1%2F..%2F..%2Fx", "1//x", "1/a%5Cb"} {
			resp, _ := s.Do(t, "PUT", artRoot+"/"+p, admin, strings.NewReader("evil"))
			if resp.StatusCode != 400 {
				t.Errorf("PUT %s: %d", p, resp.StatusCode)
			}
		}
		if after := artObjects(t, s); after != before {
			t.Fatalf("refused requests wrote objects: %d before, %d after", before, after)
		}
		var n int
		s.DB.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM s3_uploads`).Scan(&n)
		if n != 0 {
			t.Fatalf("refused requests started %d uploads", n)
		}
	})
}

func TestArtifactPermissions(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		reader := artUser(t, s, "reader", auth.Reader)
		dev := artUser(t, s, "dev", auth.Developer)
		maint := artUser(t, s, "maint", auth.Maintainer)
		outsider := artUser(t, s, "outsider", auth.NoRole)
		key := artRoot + "/3/run/artifacts/f.txt"
		artPut(t, s, "3/run/artifacts/f.txt", "data")
		before := artObjects(t, s)

		// Anonymous callers are asked to authenticate (the space is private).
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			resp, body := s.Do(t, m, key, "", strings.NewReader("x"))
			if resp.StatusCode != 401 || artCode(body) != "UNAUTHENTICATED" || resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatalf("anonymous %s: %d %s", m, resp.StatusCode, body)
			}
		}
		resp, _ := s.Do(t, "GET", artRoot+"?path=3", "", nil)
		if resp.StatusCode != 401 {
			t.Fatalf("anonymous list: %d", resp.StatusCode)
		}
		// Readers read and list, and cannot write or delete.
		if resp, body := s.Do(t, "GET", key, reader, nil); resp.StatusCode != 200 || body != "data" {
			t.Fatalf("reader get: %d %s", resp.StatusCode, body)
		}
		artList(t, s, artRoot+"?path=3/run/artifacts", reader)
		for _, m := range []string{"PUT", "DELETE"} {
			resp, body := s.Do(t, m, key, reader, strings.NewReader("overwritten"))
			if resp.StatusCode != 403 || artCode(body) != "PERMISSION_DENIED" {
				t.Fatalf("reader %s: %d %s", m, resp.StatusCode, body)
			}
		}
		resp, body := s.Do(t, "POST", artMPU+"/create/3/run/artifacts", reader, strings.NewReader(`{"path":"big.bin","num_parts":2}`))
		if resp.StatusCode != 403 {
			t.Fatalf("reader mpu create: %d %s", resp.StatusCode, body)
		}
		// Users without a role see nothing.
		if resp, body := s.Do(t, "GET", key, outsider, nil); resp.StatusCode != 403 || artCode(body) != "PERMISSION_DENIED" {
			t.Fatalf("outsider get: %d %s", resp.StatusCode, body)
		}
		if after := artObjects(t, s); after != before {
			t.Fatalf("refused writes changed the bucket: %d → %d objects", before, after)
		}
		if resp, body := s.Do(t, "GET", key, reader, nil); body != "data" {
			t.Fatalf("content after refused writes: %d %q", resp.StatusCode, body)
		}
		// Developers (EDIT) write but do not delete; maintainers (MANAGE) delete.
		if resp, body := s.Do(t, "PUT", key, dev, strings.NewReader("v2")); resp.StatusCode != 200 {
			t.Fatalf("dev put: %d %s", resp.StatusCode, body)
		}
		if resp, body := s.Do(t, "DELETE", key, dev, nil); resp.StatusCode != 403 || artCode(body) != "PERMISSION_DENIED" {
			t.Fatalf("dev delete: %d %s", resp.StatusCode, body)
		}
		if resp, body := s.Do(t, "DELETE", key, maint, nil); resp.StatusCode != 200 {
			t.Fatalf("maintainer delete: %d %s", resp.StatusCode, body)
		}
		// An experiment permission overrides the role, for that experiment only.
		var readerID int64
		s.DB.QueryRowContext(context.Background(), `SELECT id FROM users WHERE name = 'reader'`).Scan(&readerID)
		artExec(t, s, `INSERT INTO mlflow_permissions (resource_kind, resource_id, user_id, permission) VALUES ('experiment', 3, $1, 'EDIT')`, readerID)
		if resp, body := s.Do(t, "PUT", artRoot+"/3/run/artifacts/g.txt", reader, strings.NewReader("g")); resp.StatusCode != 200 {
			t.Fatalf("reader with EDIT on 3: %d %s", resp.StatusCode, body)
		}
		if resp, _ := s.Do(t, "PUT", artRoot+"/4/run/artifacts/g.txt", reader, strings.NewReader("g")); resp.StatusCode != 403 {
			t.Fatalf("reader without EDIT on 4: %d", resp.StatusCode)
		}
		// Paths outside any experiment need the permission on the space.
		if resp, _ := s.Do(t, "PUT", artRoot+"/custom/place/g.txt", reader, strings.NewReader("g")); resp.StatusCode != 403 {
			t.Fatalf("reader outside experiments: %d", resp.StatusCode)
		}
		if resp, _ := s.Do(t, "PUT", artRoot+"/custom/place/g.txt", dev, strings.NewReader("g")); resp.StatusCode != 200 {
			t.Fatalf("dev outside experiments: %d", resp.StatusCode)
		}
		if resp, _ := s.Do(t, "GET", artRoot, reader, nil); resp.StatusCode != 200 {
			t.Fatalf("reader lists the root: %d", resp.StatusCode)
		}
	})
}

// artCreateUpload starts a proxied multipart upload of file into dir.
func artCreateUpload(t *testing.T, s *apptest.Server, dir, file string, parts int) (string, []string) {
	t.Helper()
	resp, body := s.Do(t, "POST", artMPU+"/create/"+dir, admin, strings.NewReader(`{"path":"`+file+`","num_parts":`+strconv.Itoa(parts)+`}`))
	if resp.StatusCode != 200 {
		t.Fatalf("mpu create: %d %s", resp.StatusCode, body)
	}
	var res struct {
		UploadID    string `json:"upload_id"`
		Credentials []struct {
			URL        string            `json:"url"`
			PartNumber int               `json:"part_number"`
			Headers    map[string]string `json:"headers"`
		} `json:"credentials"`
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil || res.UploadID == "" || len(res.Credentials) != parts {
		t.Fatalf("mpu create: %v %s", err, body)
	}
	var urls []string
	for i, c := range res.Credentials {
		if c.PartNumber != i+1 || !strings.HasPrefix(c.URL, s.URL+artMPU+"/part/"+res.UploadID+"/"+strconv.Itoa(i+1)+"?") {
			t.Fatalf("credential %d: %+v", i, c)
		}
		urls = append(urls, c.URL)
	}
	return res.UploadID, urls
}

// artPutPart PUTs a part to its URL, without credentials as the client
// does, and returns the status, the ETag and the body.
func artPutPart(t *testing.T, u string, data []byte) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("PUT", u, bytes.NewReader(data))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("ETag"), string(b)
}

func TestArtifactMultipart(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		dir := "1/0123456789abcdef0123456789abcdef/artifacts/model"
		part1, part2 := artRandom(t, 5<<20), artRandom(t, 1234)
		id, urls := artCreateUpload(t, s, dir, "/home/me/work/weights.bin", 2)
		var etags []string
		for i, data := range [][]byte{part1, part2} {
			status, etag, body := artPutPart(t, urls[i], data)
			if status != 200 || etag != `"`+md5hex(data)+`"` {
				t.Fatalf("part %d: %d %q %s", i+1, status, etag, body)
			}
			etags = append(etags, etag)
		}
		// A forged or tampered URL is refused, and so is an expired one.
		u, _ := url.Parse(urls[0])
		q := u.Query()
		q.Set("signature", strings.Repeat("0", 64))
		u.RawQuery = q.Encode()
		if status, _, body := artPutPart(t, u.String(), []byte("evil")); status != 403 || artCode(body) != "PERMISSION_DENIED" {
			t.Fatalf("forged signature: %d %s", status, body)
		}
		forged := strings.Replace(urls[0], "/part/"+id+"/1?", "/part/"+id+"/2?", 1)
		if status, _, _ := artPutPart(t, forged, []byte("evil")); status != 403 {
			t.Fatalf("signature of another part: %d", status)
		}
		u, _ = url.Parse(urls[1])
		q = u.Query()
		q.Del("signature")
		u.RawQuery = q.Encode()
		if status, _, _ := artPutPart(t, u.String(), []byte("evil")); status != 403 {
			t.Fatalf("unsigned part: %d", status)
		}
		key, err := s.Keys.Key(context.Background(), "mlflow_artifact_part_key")
		if err != nil {
			t.Fatal(err)
		}
		past := time.Now().Add(-time.Minute).Unix()
		m := hmac.New(sha256.New, key)
		m.Write([]byte("mlflow-artifacts-part\n" + id + "\n2\n" + strconv.FormatInt(past, 10)))
		expired := s.URL + artMPU + "/part/" + id + "/2?expires=" + strconv.FormatInt(past, 10) + "&signature=" + hex.EncodeToString(m.Sum(nil))
		if status, _, body := artPutPart(t, expired, []byte("evil")); status != 403 || !strings.Contains(body, "expired") {
			t.Fatalf("expired URL: %d %s", status, body)
		}

		complete := `{"path":"/home/me/work/weights.bin","upload_id":"` + id + `","parts":[{"part_number":1,"etag":` + strconv.Quote(etags[0]) +
			`,"url":"x"},{"part_number":2,"etag":` + strconv.Quote(etags[1]) + `}]}`
		resp, body := s.Do(t, "POST", artMPU+"/complete/"+dir, admin, strings.NewReader(complete))
		if resp.StatusCode != 200 {
			t.Fatalf("complete: %d %s", resp.StatusCode, body)
		}
		whole := append(append([]byte{}, part1...), part2...)
		resp, body = s.Do(t, "GET", artRoot+"/"+dir+"/weights.bin", admin, nil)
		if resp.StatusCode != 200 || body != string(whole) {
			t.Fatalf("get assembled: %d, %d bytes", resp.StatusCode, len(body))
		}
		// The object has S3's multipart ETag.
		sum := md5.New()
		for _, p := range [][]byte{part1, part2} {
			s := md5.Sum(p)
			sum.Write(s[:])
		}
		if want := `"` + hex.EncodeToString(sum.Sum(nil)) + `-2"`; resp.Header.Get("ETag") != want {
			t.Fatalf("ETag %s, want %s", resp.Header.Get("ETag"), want)
		}
		// The upload is over: its part URLs and a second complete fail.
		if status, _, body := artPutPart(t, urls[1], part2); status != 404 || artCode(body) != "RESOURCE_DOES_NOT_EXIST" {
			t.Fatalf("part after complete: %d %s", status, body)
		}
		if resp, _ := s.Do(t, "POST", artMPU+"/complete/"+dir, admin, strings.NewReader(complete)); resp.StatusCode != 404 {
			t.Fatalf("second complete: %d", resp.StatusCode)
		}

		// Wrong ETags and aborts.
		id, urls = artCreateUpload(t, s, dir, "other.bin", 1)
		if status, _, _ := artPutPart(t, urls[0], []byte("small")); status != 200 {
			t.Fatalf("part: %d", status)
		}
		resp, body = s.Do(t, "POST", artMPU+"/complete/"+dir, admin, strings.NewReader(`{"path":"other.bin","upload_id":"`+id+`","parts":[{"part_number":1,"etag":"nope"}]}`))
		if resp.StatusCode != 400 || artCode(body) != "INVALID_PARAMETER_VALUE" {
			t.Fatalf("complete with a wrong ETag: %d %s", resp.StatusCode, body)
		}
		resp, body = s.Do(t, "POST", artMPU+"/abort/"+dir, admin, strings.NewReader(`{"path":"other.bin","upload_id":"`+id+`"}`))
		if resp.StatusCode != 200 {
			t.Fatalf("abort: %d %s", resp.StatusCode, body)
		}
		if status, _, _ := artPutPart(t, urls[0], []byte("small")); status != 404 {
			t.Fatalf("part after abort: %d", status)
		}
		if resp, _ := s.Do(t, "GET", artRoot+"/"+dir+"/other.bin", admin, nil); resp.StatusCode != 404 {
			t.Fatalf("aborted upload left an artifact: %d", resp.StatusCode)
		}
		// Completing needs EDIT where the file goes.
		reader := artUser(t, s, "reader", auth.Reader)
		id, urls = artCreateUpload(t, s, dir, "r.bin", 1)
		_, etag, _ := artPutPart(t, urls[0], []byte("r"))
		resp, _ = s.Do(t, "POST", artMPU+"/complete/"+dir, reader, strings.NewReader(`{"path":"r.bin","upload_id":"`+id+`","parts":[{"part_number":1,"etag":`+strconv.Quote(etag)+`}]}`))
		if resp.StatusCode != 403 {
			t.Fatalf("reader completes: %d", resp.StatusCode)
		}
	})
}
