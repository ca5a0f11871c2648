package backup_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app"
	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/backup"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/keyring"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/meta/metatest"
)

func do(t *testing.T, s *apptest.Server, method, path, cred, body string, want int, headers ...string) string {
	t.Helper()
	resp, got := s.Do(t, method, path, cred, strings.NewReader(body), headers...)
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, got, want)
	}
	return got
}

func digestOf(b string) string {
	s := sha256.Sum256([]byte(b))
	return "sha256:" + hex.EncodeToString(s[:])
}

// filled is what fill stored, to read back after a restore.
type filled struct {
	token      string // a token of user "erin"
	rawPath    string
	rawBody    string
	manifest   string // digest of library/app:v1
	artifact   string // path of an MLflow artifact under the artifact proxy
	artifactOf string
	s3Key      string // a multipart object in bucket dvc-storage
	s3Body     []byte
}

// fill writes something of every kind the unit test can reach over HTTP:
// users, a robot, tokens, an S3 key, roles, raw files, an OCI image with a
// referrer, MLflow experiments, runs (params, tags, metric histories),
// artifacts (S3 objects), registered models and versions.
func fill(t *testing.T, s *apptest.Server) filled {
	t.Helper()
	ctx := context.Background()
	admin := apptest.Admin
	var f filled
	if _, err := s.Auth.CreateUser(ctx, "erin", "erin-password-1", "erin@example.com", auth.Developer); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Auth.CreateRobot(ctx, "ci-bot", auth.Reader); err != nil {
		t.Fatal(err)
	}
	tok, _, err := s.Auth.CreateToken(ctx, "erin", "laptop", 0)
	if err != nil {
		t.Fatal(err)
	}
	f.token = tok
	if _, _, err := s.Auth.CreateAccessKey(ctx, "erin", "", "", "dvc"); err != nil {
		t.Fatal(err)
	}
	r, err := s.Repos.Get(ctx, "files")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Auth.Grant(ctx, "erin", r.ID, auth.Maintainer); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		f.rawPath, f.rawBody = fmt.Sprintf("/raw/files/data/f%d.txt", i), fmt.Sprintf("raw file %d\n", i)
		do(t, s, "PUT", f.rawPath, admin, f.rawBody, 201)
	}
	// An image and a referrer (an SBOM-like artifact whose subject is it).
	layer := "layer bytes"
	for _, b := range []string{"{}", layer, "sbom"} {
		do(t, s, "POST", "/v2/library/app/blobs/uploads/?digest="+digestOf(b), admin, b, 201)
	}
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":2},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`, digestOf("{}"), digestOf(layer), len(layer))
	do(t, s, "PUT", "/v2/library/app/manifests/v1", admin, m, 201, "Content-Type", "application/vnd.oci.image.manifest.v1+json")
	f.manifest = digestOf(m)
	ref := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/spdx+json",`+
		`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},`+
		`"layers":[{"mediaType":"application/spdx+json","digest":%q,"size":4}],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%d}}`,
		digestOf("{}"), digestOf("sbom"), f.manifest, len(m))
	do(t, s, "PUT", "/v2/library/app/manifests/"+digestOf(ref), admin, ref, 201, "Content-Type", "application/vnd.oci.image.manifest.v1+json")

	ml := func(path, body string) map[string]any {
		t.Helper()
		var out map[string]any
		json.Unmarshal([]byte(do(t, s, "POST", "/mlflow/api/2.0/mlflow/"+path, admin, body, 200, "Content-Type", "application/json")), &out)
		return out
	}
	exp := ml("experiments/create", `{"name":"backup-test"}`)["experiment_id"].(string)
	for i := range 3 {
		run := ml("runs/create", `{"experiment_id":"`+exp+`","run_name":"r`+fmt.Sprint(i)+`"}`)["run"].(map[string]any)["info"].(map[string]any)["run_id"].(string)
		var metrics []string
		for step := range 20 {
			metrics = append(metrics, fmt.Sprintf(`{"key":"loss","value":%g,"timestamp":%d,"step":%d}`, 1/float64(step+1), 1000+step, step))
		}
		ml("runs/log-batch", `{"run_id":"`+run+`","metrics":[`+strings.Join(metrics, ",")+`],"params":[{"key":"lr","value":"0.01"}],"tags":[{"key":"team","value":"ml"}]}`)
		f.artifact = "/mlflow/api/2.0/mlflow-artifacts/artifacts/" + exp + "/" + run + "/artifacts/model.txt"
		f.artifactOf = "model weights " + run
		do(t, s, "PUT", f.artifact, admin, f.artifactOf, 200)
		if i == 0 {
			ml("registered-models/create", `{"name":"clf"}`)
			ml("model-versions/create", `{"name":"clf","source":"runs:/`+run+`/model","run_id":"`+run+`"}`)
			fillMLflowExtras(t, s, exp, run)
		}
	}
	fillPackages(t, s)
	// Settings with a secret: a proxy's upstream password, sealed under a
	// server key (restorable only with the KEK).
	do(t, s, "POST", "/api/v1/repositories", admin, `{"name":"pypi-up","format":"pypi","kind":"proxy","settings":{"upstream":{"url":"https://pypi.example.com/simple/","username":"bot","password":"upstream-secret"}}}`, 201)
	f.s3Key, f.s3Body = fillS3(t, s)
	failLogin(t, s)
	return f
}

// counts returns the rows of every table of db.
func counts(t *testing.T, db *meta.DB) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	tables, err := db.Tables(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, tb := range tables {
		var n int64
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "`+tb+`"`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[tb] = n
	}
	return out
}

// dump exports db and returns its rows per table as canonical JSON lines,
// sorted, with booleans as numbers (the one type the databases disagree on).
func dump(t *testing.T, db *meta.DB) map[string][]string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := backup.Export(context.Background(), db, db.Dialect, &buf); err != nil {
		t.Fatal(err)
	}
	return backup.CanonicalRows(t, &buf)
}

func TestBackupRestoreRoundTrip(t *testing.T) {
	engines := []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "" }},
		{"postgres", func(t *testing.T) string { return metatest.PostgresURL(t) }},
	}
	for _, from := range engines {
		for _, to := range engines {
			t.Run(from.name+"-to-"+to.name, func(t *testing.T) {
				ctx := context.Background()
				src := apptest.Start(t, from.url(t), nil)
				f := fill(t, src)
				target, err := backup.OpenTarget(ctx, t.TempDir(), backup.S3Options{})
				if err != nil {
					t.Fatal(err)
				}
				m, err := backup.Run(ctx, backup.Source{DB: src.DB, Blobs: src.Blobs}, target, backup.Options{})
				if err != nil {
					t.Fatal(err)
				}
				before := counts(t, src.DB)
				rowsBefore := dump(t, src.DB)

				// The restore needs the source's KEK: without it, it refuses
				// before writing anything.
				dir := t.TempDir()
				cfg := config.Default()
				cfg.DataDir, cfg.DatabaseURL = dir, to.url(t)
				blobs, err := app.OpenBlobStore(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				otherKEK, err := keyring.NewKEK(bytes.Repeat([]byte{7}, 32))
				if err != nil {
					t.Fatal(err)
				}
				dst := backup.Destination{DatabaseURL: cfg.DatabaseURL, DataDir: dir, Blobs: blobs, KEK: otherKEK}
				if _, err := backup.Restore(ctx, target, m, dst, nil); err == nil || !strings.Contains(err.Error(), "key-encryption key") {
					t.Fatalf("restore under another KEK: %v", err)
				}
				kekBytes, err := os.ReadFile(src.Config.KEKFile())
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "kek"), kekBytes, 0o600); err != nil {
					t.Fatal(err)
				}
				dst.KEK, _, err = keyring.LoadKEK(keyring.Source{File: filepath.Join(dir, "kek")})
				if err != nil {
					t.Fatal(err)
				}
				rep, err := backup.Restore(ctx, target, m, dst, nil)
				if err != nil {
					t.Fatal(err)
				}
				if rep.Copied != m.Blobs || m.Blobs < 10 {
					t.Fatalf("restore copied %d blobs of %d", rep.Copied, m.Blobs)
				}
				// A second restore into the now full database is refused.
				if _, err := backup.Restore(ctx, target, m, dst, nil); err == nil || !strings.Contains(err.Error(), "not empty") {
					t.Fatalf("restore into a restored database: %v", err)
				}

				// Every table round-trips: the same rows, table by table.
				restored := apptest.Start(t, cfg.DatabaseURL, func(c *config.Config) { c.DataDir = dir })
				after := counts(t, restored.DB)
				nonEmpty := 0
				for table, n := range before {
					switch {
					case table == "goose_db_version", table == "blob_tombstones", table == "oci_uploads", strings.HasPrefix(table, "river_"),
						table == "search_docs", table == "search_pending", strings.HasPrefix(table, "search_fts"): // derived, left out
						continue
					}
					if after[table] != n {
						t.Errorf("table %s: %d rows before, %d after", table, n, after[table])
					}
					if n > 0 {
						nonEmpty++
					}
				}
				if nonEmpty < 40 { // of 49; empty: proxy caches, traces, UI sessions
					t.Errorf("only %d tables had rows; fill should reach more", nonEmpty)
				}
				rowsAfter := dump(t, restored.DB)
				for table, rows := range rowsBefore {
					if strings.Join(rows, "\n") != strings.Join(rowsAfter[table], "\n") {
						t.Errorf("table %s differs after the restore:\nbefore %v\nafter  %v", table, rows, rowsAfter[table])
					}
				}

				// The restored server serves what was stored, with the same
				// credentials, and takes new writes (sequences moved on).
				if got := do(t, restored, "GET", f.rawPath, "erin:"+f.token, "", 200); got != f.rawBody {
					t.Fatalf("raw file after restore = %q", got)
				}
				do(t, restored, "GET", "/v2/library/app/manifests/v1", "erin:erin-password-1", "", 200, "Accept", "application/vnd.oci.image.manifest.v1+json")
				if got := do(t, restored, "GET", "/v2/library/app/referrers/"+f.manifest, apptest.Admin, "", 200); !strings.Contains(got, "application/spdx+json") {
					t.Fatalf("referrers after restore = %s", got)
				}
				if got := do(t, restored, "GET", f.artifact, apptest.Admin, "", 200); got != f.artifactOf {
					t.Fatalf("artifact after restore = %q", got)
				}
				up, err := restored.Repos.Get(ctx, "pypi-up")
				if err != nil {
					t.Fatal(err)
				}
				if pw := up.Settings["upstream"].(map[string]any)["password"]; pw != "upstream-secret" {
					t.Fatalf("upstream password after restore = %v", pw)
				}
				if got := s3Get(t, restored, "dvc-storage", f.s3Key); !bytes.Equal(got, f.s3Body) {
					t.Fatalf("multipart object after restore: %d bytes, want %d", len(got), len(f.s3Body))
				}
				if _, err := restored.Auth.CreateUser(ctx, "new-user", "new-user-password", "", auth.Reader); err != nil {
					t.Fatalf("a new user after the restore: %v", err)
				}
				do(t, restored, "POST", "/mlflow/api/2.0/mlflow/experiments/create", apptest.Admin, `{"name":"after-restore"}`, 200, "Content-Type", "application/json")
				do(t, restored, "PUT", "/raw/files/after-restore.txt", apptest.Admin, "new", 201)
			})
		}
	}
}

// TestBackupIncremental: a second backup copies only the new blobs, and
// verify finds a damaged blob.
func TestBackupIncremental(t *testing.T) {
	ctx := context.Background()
	src := apptest.Start(t, "", nil)
	fill(t, src)
	target, err := backup.OpenTarget(ctx, t.TempDir(), backup.S3Options{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := backup.Run(ctx, backup.Source{DB: src.DB, Blobs: src.Blobs}, target, backup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if first.CopiedBlobs != first.Blobs {
		t.Fatalf("first backup copied %d of %d blobs", first.CopiedBlobs, first.Blobs)
	}
	do(t, src, "PUT", "/raw/files/new.bin", apptest.Admin, "one new file", 201)
	second, err := backup.Run(ctx, backup.Source{DB: src.DB, Blobs: src.Blobs}, target, backup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if second.CopiedBlobs != 1 || second.CopiedBytes != int64(len("one new file")) || second.Blobs != first.Blobs+1 {
		t.Fatalf("second backup: %d blobs, copied %d (%d bytes)", second.Blobs, second.CopiedBlobs, second.CopiedBytes)
	}
	all, err := backup.List(ctx, target)
	if err != nil || len(all) != 2 || all[1].Manifest.ID != second.ID {
		t.Fatalf("list = %+v, %v", all, err)
	}
	if rep, err := backup.Verify(ctx, target, second, nil); err != nil || len(rep.Problems) > 0 {
		t.Fatalf("verify = %+v, %v", rep, err)
	}
	// Damage the new blob in the target: verify names it.
	d := blob.Digest(digestOf("one new file"))
	if err := target.Blobs().Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := blob.New(target.Blobs(), nil).Put(ctx, strings.NewReader("one new file"), blob.Expect{}, 0); err != nil {
		t.Fatal(err)
	}
	w, err := target.Blobs().Stage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "one NEW file")
	if err := target.Blobs().Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, d); err != nil { // wrong bytes under the digest
		t.Fatal(err)
	}
	rep, err := backup.Verify(ctx, target, second, nil)
	if err != nil || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], string(d)) {
		t.Fatalf("verify of a damaged backup = %+v, %v", rep.Problems, err)
	}
}
