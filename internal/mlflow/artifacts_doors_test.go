package mlflow_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Tests that MLflow's experiment permissions hold for artifacts read
// through the S3 API (the UI's downloads are tested in internal/ui): a
// caller who may not read an experiment reads none of its objects of the
// artifact bucket, unless they hold a role bound on the bucket itself.

// doorS3 is the S3 listener of a test server.
type doorS3 struct {
	t   *testing.T
	s   *apptest.Server
	url string
}

func newDoorS3(t *testing.T, s *apptest.Server) *doorS3 {
	ts := httptest.NewServer(s.S3Handler())
	t.Cleanup(ts.Close)
	return &doorS3{t: t, s: s, url: ts.URL}
}

// client returns an S3 client with a new access key of user.
func (d *doorS3) client(user string) *s3.Client {
	d.t.Helper()
	k, secret, err := d.s.Auth.CreateAccessKey(context.Background(), user, "", "", "test")
	if err != nil {
		d.t.Fatal(err)
	}
	return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(d.url), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(k.ID, secret, "")})
}

// status is the HTTP status of an S3 call's error (200 for none).
func doorStatus(err error) int {
	if err == nil {
		return 200
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return -1
}

// reads tries every way S3 reads key (or, for a key ending in "/", lists
// below it) and fails unless each answers want (200 or 403).
func (d *doorS3) reads(who string, c *s3.Client, key string, want int) {
	d.t.Helper()
	ctx := context.Background()
	b := aws.String("mlflow-artifacts")
	if key == "" || key[len(key)-1] == '/' || len(key) == 1 {
		_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, Prefix: aws.String(key)})
		if got := doorStatus(err); got != want {
			d.t.Fatalf("%s: ListObjectsV2 prefix %q: %d (%v), want %d", who, key, got, err, want)
		}
		_, err = c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: b, Prefix: aws.String(key), Delimiter: aws.String("/")})
		if got := doorStatus(err); got != want {
			d.t.Fatalf("%s: ListObjects prefix %q: %d (%v), want %d", who, key, got, err, want)
		}
		return
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String(key)})
	if got := doorStatus(err); got != want {
		d.t.Fatalf("%s: GetObject %s: %d (%v), want %d", who, key, got, err, want)
	}
	if err == nil {
		body, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if string(body) != "data" {
			d.t.Fatalf("%s: GetObject %s: %q", who, key, body)
		}
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String(key)})
	if got := doorStatus(err); got != want {
		d.t.Fatalf("%s: HeadObject %s: %d (%v), want %d", who, key, got, err, want)
	}
	_, err = c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: b, Key: aws.String(key)})
	if got := doorStatus(err); got != want {
		d.t.Fatalf("%s: GetObjectAcl %s: %d (%v), want %d", who, key, got, err, want)
	}
}

// anonymous is an unsigned GET of the S3 path.
func (d *doorS3) anonymous(path string, want int) {
	d.t.Helper()
	resp, err := http.Get(d.url + path)
	if err != nil {
		d.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		d.t.Fatalf("anonymous GET %s: %d %s, want %d", path, resp.StatusCode, body, want)
	}
}

func TestArtifactsThroughS3FollowExperimentPermissions(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		artExperiment(t, s, 3, "hidden")
		artExperiment(t, s, 4, "open")
		artExperiment(t, s, 30, "thirty")
		for _, k := range []string{"3/run/artifacts/f.txt", "4/run/artifacts/f.txt", "30/run/artifacts/f.txt", "custom/f.txt"} {
			artPut(t, s, k, "data")
		}
		bucket, err := s.Repos.Get(ctx, "mlflow-artifacts")
		if err != nil {
			t.Fatal(err)
		}
		space, err := s.Repos.Get(ctx, "mlflow")
		if err != nil {
			t.Fatal(err)
		}
		mk := func(name string, global auth.Role, bind map[int64]auth.Role, noPermsOn3 bool) {
			t.Helper()
			if _, err := s.Auth.CreateUser(ctx, name, "password-"+name, "", global); err != nil {
				t.Fatal(err)
			}
			for repoID, role := range bind {
				if err := s.Auth.Grant(ctx, name, repoID, role); err != nil {
					t.Fatal(err)
				}
			}
			if noPermsOn3 {
				artExec(t, s, `INSERT INTO mlflow_permissions (resource_kind, resource_id, user_id, permission)
					SELECT 'experiment', 3, id, 'NO_PERMISSIONS' FROM users WHERE name = $1`, name)
			}
		}
		d := newDoorS3(t, s)
		admin := d.client("admin")
		if _, err := admin.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("scratch")}); err != nil {
			t.Fatal(err)
		}

		// Users who read the bucket by a global role, with NO_PERMISSIONS
		// on experiment 3: every role below the global admin.
		for _, role := range []auth.Role{auth.Reader, auth.Developer, auth.Maintainer} {
			name := "g" + string(role)
			mk(name, role, nil, true)
			c := d.client(name)
			d.reads(name, c, "3/run/artifacts/f.txt", 403)
			d.reads(name, c, "3/", 403)
			d.reads(name, c, "3/run/", 403)
			d.reads(name, c, "", 403)  // the whole bucket reaches 3
			d.reads(name, c, "3", 403) // so does "3" (3/ and 30/)
			d.reads(name, c, "4/run/artifacts/f.txt", 200)
			d.reads(name, c, "4/", 200)
			d.reads(name, c, "30/run/artifacts/f.txt", 200)
			d.reads(name, c, "custom/f.txt", 200) // not an experiment's
			d.reads(name, c, "custom/", 200)
			_, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mlflow-artifacts")})
			if doorStatus(err) != 403 {
				t.Fatalf("%s lists the bucket's uploads: %v", name, err)
			}
			// The artifact proxy refuses too.
			if resp, body := s.Do(t, "GET", artRoot+"/3/run/artifacts/f.txt", name+":password-"+name, nil); resp.StatusCode != 403 {
				t.Fatalf("%s through the proxy: %d %s", name, resp.StatusCode, body)
			}
			if role != auth.Reader {
				// A copy reads its source: refused from 3, allowed from 4.
				_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("scratch"), Key: aws.String("stolen"),
					CopySource: aws.String("mlflow-artifacts/3/run/artifacts/f.txt")})
				if doorStatus(err) != 403 {
					t.Fatalf("%s copies from experiment 3: %v", name, err)
				}
				_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("scratch"), Key: aws.String("copied-" + name),
					CopySource: aws.String("mlflow-artifacts/4/run/artifacts/f.txt")})
				if err != nil {
					t.Fatalf("%s copies from experiment 4: %v", name, err)
				}
			}
		}
		// The global admin reads everything.
		for _, k := range []string{"3/run/artifacts/f.txt", "3/", "", "custom/f.txt"} {
			d.reads("admin", admin, k, 200)
		}
		// A global reader without explicit permissions reads everything too.
		mk("plain", auth.Reader, nil, false)
		plain := d.client("plain")
		for _, k := range []string{"3/run/artifacts/f.txt", "3/", "", "3"} {
			d.reads("plain", plain, k, 200)
		}
		// A role bound on the bucket itself wins over the experiment's
		// permissions, for every role.
		for _, role := range []auth.Role{auth.Reader, auth.Developer, auth.Maintainer, auth.Admin} {
			name := "b" + string(role)
			mk(name, auth.NoRole, map[int64]auth.Role{bucket.ID: role}, true)
			c := d.client(name)
			for _, k := range []string{"3/run/artifacts/f.txt", "3/", "", "4/run/artifacts/f.txt"} {
				d.reads(name, c, k, 200)
			}
			if _, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mlflow-artifacts")}); err != nil {
				t.Fatalf("%s lists the bucket's uploads: %v", name, err)
			}
			// The bucket role is not an MLflow permission: the proxy,
			// which answers by MLflow's permissions alone, refuses.
			if resp, body := s.Do(t, "GET", artRoot+"/3/run/artifacts/f.txt", name+":password-"+name, nil); resp.StatusCode != 403 {
				t.Fatalf("%s through the proxy: %d %s", name, resp.StatusCode, body)
			}
		}
		// A role on the MLflow space alone does not open the bucket: the
		// guard only narrows what the bucket's own rule allows.
		for _, role := range []auth.Role{auth.Reader, auth.Maintainer, auth.Admin} {
			name := "s" + string(role)
			mk(name, auth.NoRole, map[int64]auth.Role{space.ID: role}, false)
			c := d.client(name)
			d.reads(name, c, "4/run/artifacts/f.txt", 403)
			d.reads(name, c, "4/", 403)
		}

		// A public bucket: anonymous callers and users without a role
		// read what is not an experiment's, and an experiment's artifacts
		// only when they may read the experiment.
		d.anonymous("/mlflow-artifacts/4/run/artifacts/f.txt", 403)
		bucket.Visibility = "public"
		if err := s.Repos.Update(ctx, bucket); err != nil {
			t.Fatal(err)
		}
		d.anonymous("/mlflow-artifacts/custom/f.txt", 200)
		d.anonymous("/mlflow-artifacts?list-type=2&prefix=custom/", 200)
		d.anonymous("/mlflow-artifacts/4/run/artifacts/f.txt", 403)
		d.anonymous("/mlflow-artifacts?list-type=2&prefix=4/", 403)
		d.anonymous("/mlflow-artifacts?list-type=2", 403)
		mk("nora", auth.NoRole, nil, false)
		artExec(t, s, `INSERT INTO mlflow_permissions (resource_kind, resource_id, user_id, permission)
			SELECT 'experiment', 4, id, 'READ' FROM users WHERE name = 'nora'`)
		nora := d.client("nora")
		d.reads("nora", nora, "4/run/artifacts/f.txt", 200)
		d.reads("nora", nora, "4/", 200)
		d.reads("nora", nora, "3/run/artifacts/f.txt", 403)
		d.reads("nora", nora, "", 403)
		// ... and with a public space, every experiment nobody hid.
		space.Visibility = "public"
		if err := s.Repos.Update(ctx, space); err != nil {
			t.Fatal(err)
		}
		d.anonymous("/mlflow-artifacts/3/run/artifacts/f.txt", 200)
		d.anonymous("/mlflow-artifacts?list-type=2", 200)
		d.reads("greader", d.client("greader"), "3/run/artifacts/f.txt", 403)

		// Another bucket is not the guard's business.
		d.reads("greader", d.client("greader"), "", 403)
		if _, err := d.client("greader").ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("scratch")}); err != nil {
			t.Fatalf("greader lists another bucket: %v", err)
		}
	})
}
