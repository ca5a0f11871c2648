package cleanup_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/arcaproject/arca/internal/app/apptest"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// wheel uploads a wheel of pkg at version as twine does and returns
// its bytes and its METADATA's.
func wheel(t *testing.T, s *apptest.Server, repo, version string, want int) (whl, md []byte) {
	t.Helper()
	md = []byte("Metadata-Version: 2.1\nName: pkg\nVersion: " + version + "\n")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for fn, b := range map[string][]byte{"pkg/__init__.py": []byte("V = " + fmt.Sprintf("%q", version) + "\n"),
		"pkg-" + version + ".dist-info/METADATA": md, "pkg-" + version + ".dist-info/WHEEL": []byte("Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
		"pkg-" + version + ".dist-info/RECORD": nil} {
		w, _ := zw.Create(fn)
		w.Write(b)
	}
	zw.Close()
	whl = buf.Bytes()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range map[string]string{":action": "file_upload", "protocol_version": "1", "metadata_version": "2.1", "name": "pkg",
		"version": version, "filetype": "bdist_wheel", "pyversion": "py3", "sha256_digest": strings.TrimPrefix(sha(whl), "sha256:")} {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("content", "pkg-"+version+"-py3-none-any.whl")
	fw.Write(whl)
	mw.Close()
	if resp, out := s.Do(t, "POST", "/pypi/"+repo+"/", admin, &body, "Content-Type", mw.FormDataContentType()); resp.StatusCode != want {
		t.Fatalf("upload %s = %d %s, want %d", version, resp.StatusCode, out, want)
	}
	return whl, md
}

func tarGz(files ...[2]string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range files {
		tw.WriteHeader(&tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(f[1])), Typeflag: tar.TypeReg})
		tw.Write([]byte(f[1]))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// checkPolicy previews policy, runs it, collects garbage with no grace
// window and checks that the collection freed exactly what the preview
// said, and that the preview freed want bytes.
func checkPolicy(t *testing.T, s *apptest.Server, policy string, items int, want int64) {
	t.Helper()
	collect(t, s)
	var p struct{ Name string }
	json.Unmarshal([]byte(policy), &p)
	do(t, s, "POST", "/api/v1/cleanup/policies", admin, policy, 201)
	var pv preview
	json.Unmarshal([]byte(do(t, s, "POST", "/api/v1/cleanup/policies/"+p.Name+"/preview", admin, "", 200)), &pv)
	if pv.ItemCount != items || pv.FreedBytes != want {
		t.Fatalf("%s: preview = %d items freeing %d bytes, want %d freeing %d: %+v", p.Name, pv.ItemCount, pv.FreedBytes, items, want, pv)
	}
	res, err := s.Cleanup.RunNamed(context.Background(), p.Name)
	if err != nil || res.Deleted != items || res.Failed != 0 {
		t.Fatalf("%s: run = %+v, %v", p.Name, res, err)
	}
	if freed := collect(t, s); freed.BytesFreed != pv.FreedBytes || freed.Deleted != pv.FreedBlobs {
		t.Fatalf("%s: GC freed %d bytes in %d blobs; the preview said %d in %d", p.Name, freed.BytesFreed, freed.Deleted, pv.FreedBytes, pv.FreedBlobs)
	}
}

// TestPreviewMatchesGCEveryFormat repeats the acceptance test for each
// format, with content shared across repositories and formats.
func TestPreviewMatchesGCEveryFormat(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		shared := []byte(strings.Repeat("shared layer ", 100))
		do(t, s, "PUT", "/raw/files/shared.bin", admin, string(shared), 201) // the layer, also a raw file

		t.Run("oci", func(t *testing.T) {
			push := func(repo string, b []byte) string {
				resp, body := s.Do(t, "POST", "/v2/"+repo+"/blobs/uploads/?digest="+sha(b), admin, bytes.NewReader(b))
				if resp.StatusCode != 201 {
					t.Fatalf("push = %d %s", resp.StatusCode, body)
				}
				return sha(b)
			}
			manifest := func(repo, tag string, cfg []byte, layers ...[]byte) []byte {
				ls := []string{}
				for _, l := range layers {
					ls = append(ls, fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}`, push(repo, l), len(l)))
				}
				m := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[%s]}`,
					push(repo, cfg), len(cfg), strings.Join(ls, ",")))
				if resp, body := s.Do(t, "PUT", "/v2/"+repo+"/manifests/"+tag, admin, bytes.NewReader(m), "Content-Type", "application/vnd.oci.image.manifest.v1+json"); resp.StatusCode != 201 {
					t.Fatalf("manifest = %d %s", resp.StatusCode, body)
				}
				return m
			}
			do(t, s, "POST", "/api/v1/repositories", admin, `{"name":"img-b","format":"oci"}`, 201)
			cfg1, cfg2, l1 := []byte(`{"v":1}`), []byte(`{"v":2}`), []byte(strings.Repeat("layer one", 50))
			manifest("img-b/app", "x", []byte(`{"b":1}`), shared) // shared with another registry repository
			m1 := manifest("library/app", "old", cfg1, l1, shared)
			manifest("library/app", "new", cfg2, l1) // keeps l1
			// keep_last 1: the old manifest goes; its config too; l1 and the shared layer stay.
			checkPolicy(t, s, `{"name":"oci-old","format":"oci","repository":"library","criteria":{"keep_last":1}}`, 1, int64(len(m1)+len(cfg1)))
			do(t, s, "GET", "/v2/library/app/manifests/new", admin, "", 200)
			do(t, s, "GET", "/v2/library/app/blobs/"+sha(l1), admin, "", 200)
			do(t, s, "GET", "/v2/library/app/blobs/"+sha(cfg1), admin, "", 404) // the link went through the registry's delete
		})

		t.Run("pypi", func(t *testing.T) {
			whl, md := wheel(t, s, "pypi-hosted", "1.0rc1", 200)
			wheel(t, s, "pypi-hosted", "1.0", 200)
			// The release candidate goes: its wheel and its METADATA.
			checkPolicy(t, s, `{"name":"pypi-rc","format":"pypi","repository":"pypi-hosted","criteria":{"prerelease":true}}`, 1, int64(len(whl)+len(md)))
			do(t, s, "GET", "/pypi/pypi-hosted/simple/pkg/", admin, "", 200)
		})

		t.Run("npm", func(t *testing.T) {
			publish := func(version, body string) []byte {
				tb := tarGz([2]string{"package/package.json", fmt.Sprintf(`{"name":"pkg","version":%q}`, version)}, [2]string{"package/index.js", body})
				s1, s5 := sha1.Sum(tb), sha512.Sum512(tb)
				doc := map[string]any{"_id": "pkg", "name": "pkg", "dist-tags": map[string]string{"latest": version},
					"versions": map[string]any{version: map[string]any{"name": "pkg", "version": version,
						"dist": map[string]any{"shasum": hex.EncodeToString(s1[:]), "integrity": "sha512-" + base64.StdEncoding.EncodeToString(s5[:])}}},
					"_attachments": map[string]any{"pkg-" + version + ".tgz": map[string]any{"data": base64.StdEncoding.EncodeToString(tb), "length": len(tb)}}}
				b, _ := json.Marshal(doc)
				do(t, s, "PUT", "/npm/npm-hosted/pkg", admin, string(b), 201)
				return tb
			}
			old := publish("1.0.0", "one")
			publish("1.1.0-beta.1", "beta")
			publish("2.0.0", "two")
			checkPolicy(t, s, `{"name":"npm-old","format":"npm","repository":"npm-hosted","criteria":{"keep_last":2}}`, 1, int64(len(old)))
		})

		t.Run("maven", func(t *testing.T) {
			jar1 := strings.Repeat("jar one ", 40)
			do(t, s, "PUT", "/maven/maven-hosted/com/example/lib/1.0/lib-1.0.jar", admin, jar1, 201)
			do(t, s, "PUT", "/maven/maven-hosted/com/example/lib/1.0/lib-1.0.pom", admin, "<project/>", 201)
			do(t, s, "PUT", "/maven/maven-hosted/com/example/lib/2.0/lib-2.0.jar", admin, string(shared), 201)
			do(t, s, "PUT", "/maven/maven-hosted/com/example/lib/2.0/lib-2.0.pom", admin, "<project/>", 201) // same pom bytes
			checkPolicy(t, s, `{"name":"mvn-old","format":"maven","repository":"maven-hosted","criteria":{"keep_last":1}}`, 1, int64(len(jar1)))
		})

		t.Run("go", func(t *testing.T) {
			const mod = "example.com/greet"
			zipOf := func(version, src string) []byte {
				dir := t.TempDir()
				os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+mod+"\n"), 0o644)
				os.WriteFile(filepath.Join(dir, "greet.go"), []byte(src), 0o644)
				var buf bytes.Buffer
				if err := modzip.CreateFromDir(&buf, module.Version{Path: mod, Version: version}, dir); err != nil {
					t.Fatal(err)
				}
				do(t, s, "PUT", "/go/go-hosted/"+mod+"/@v/"+version+".zip", admin, buf.String(), 201)
				return buf.Bytes()
			}
			z1 := zipOf("v1.0.0", "package greet\n")
			zipOf("v1.1.0", "package greet // 1.1\n")
			// The go.mod is the same in both versions: only the zip goes.
			checkPolicy(t, s, `{"name":"go-old","format":"go","repository":"go-hosted","criteria":{"keep_last":1}}`, 1, int64(len(z1)))
		})

		t.Run("helm", func(t *testing.T) {
			chart := func(version string) []byte {
				b := tarGz([2]string{"demo/Chart.yaml", "apiVersion: v2\nname: demo\nversion: " + version + "\n"}, [2]string{"demo/values.yaml", "a: 1\n"})
				do(t, s, "POST", "/helm/helm-hosted/api/charts", admin, string(b), 201)
				return b
			}
			c1 := chart("0.1.0-rc.1")
			chart("0.1.0")
			checkPolicy(t, s, `{"name":"helm-pre","format":"helm","repository":"helm-hosted","criteria":{"prerelease":true}}`, 1, int64(len(c1)))
		})

		t.Run("mlflow", func(t *testing.T) {
			run := func() (id, uri string) {
				var r struct {
					Run struct {
						Info struct {
							RunID       string `json:"run_id"`
							ArtifactURI string `json:"artifact_uri"`
						}
					}
				}
				json.Unmarshal([]byte(do(t, s, "POST", "/mlflow/api/2.0/mlflow/runs/create", admin, `{"experiment_id":"0"}`, 200)), &r)
				if r.Run.Info.RunID == "" {
					t.Fatal("no run created")
				}
				return r.Run.Info.RunID, strings.TrimPrefix(r.Run.Info.ArtifactURI, "mlflow-artifacts:/")
			}
			gone, goneRoot := run()
			_, keptRoot := run()
			model := []byte(strings.Repeat("weights ", 200))
			for _, f := range []struct{ root, name, body string }{
				{goneRoot, "model.bin", string(model)}, {goneRoot, "copy.bin", string(shared)}, {keptRoot, "model.bin", "other weights"},
			} {
				do(t, s, "PUT", "/mlflow/api/2.0/mlflow-artifacts/artifacts/"+f.root+"/"+f.name, admin, f.body, 200)
			}
			do(t, s, "POST", "/mlflow/api/2.0/mlflow/runs/delete", admin, `{"run_id":"`+gone+`"}`, 200)
			checkPolicy(t, s, `{"name":"mlflow-deleted","format":"mlflow","criteria":{"min_size_bytes":1}}`, 1, int64(len(model)))
			do(t, s, "GET", "/mlflow/api/2.0/mlflow-artifacts/artifacts/"+keptRoot+"/model.bin", admin, "", 200)
		})

		t.Run("s3", func(t *testing.T) {
			ts := httptest.NewServer(s.S3Handler())
			defer ts.Close()
			k, secret, err := s.Auth.CreateAccessKey(ctx, "admin", "", "", "test")
			if err != nil {
				t.Fatal(err)
			}
			c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), UsePathStyle: true,
				Credentials: credentials.NewStaticCredentialsProvider(k.ID, secret, "")})
			put := func(key string, b []byte) {
				if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("dvc-storage"), Key: aws.String(key), Body: bytes.NewReader(b)}); err != nil {
					t.Fatal(err)
				}
			}
			tmp := []byte(strings.Repeat("scratch ", 64))
			put("tmp/a", tmp)
			put("tmp/b", shared) // also a raw file, a layer, a jar
			put("keep/c", []byte("kept"))
			checkPolicy(t, s, `{"name":"s3-tmp","format":"s3","repository":"dvc-storage","criteria":{"name":"tmp/*","min_size_bytes":1}}`, 2, int64(len(tmp)))
		})
	})
}

// TestQuotasEveryFormat refuses uploads past quota_bytes in PyPI, npm,
// Go, Helm and OCI with each protocol's error, and audits each refusal
// (raw, Maven and S3 are in internal/usage's tests).
func TestQuotasEveryFormat(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		for _, r := range []string{"pypi-hosted", "npm-hosted", "go-hosted", "helm-hosted", "library"} {
			do(t, s, "PATCH", "/api/v1/repositories/"+r, admin, `{"quota_bytes":20}`, 200)
		}
		wheel(t, s, "pypi-hosted", "1.0", 403)

		tb := tarGz([2]string{"package/package.json", `{"name":"big","version":"1.0.0"}`})
		s1, s5 := sha1.Sum(tb), sha512.Sum512(tb)
		doc, _ := json.Marshal(map[string]any{"_id": "big", "name": "big", "dist-tags": map[string]string{"latest": "1.0.0"},
			"versions": map[string]any{"1.0.0": map[string]any{"name": "big", "version": "1.0.0",
				"dist": map[string]any{"shasum": hex.EncodeToString(s1[:]), "integrity": "sha512-" + base64.StdEncoding.EncodeToString(s5[:])}}},
			"_attachments": map[string]any{"big-1.0.0.tgz": map[string]any{"data": base64.StdEncoding.EncodeToString(tb), "length": len(tb)}}})
		if out := do(t, s, "PUT", "/npm/npm-hosted/big", admin, string(doc), 403); !strings.Contains(out, `"error"`) || !strings.Contains(out, "quota") {
			t.Errorf("npm refusal = %s", out)
		}

		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/big\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "big.go"), []byte("package big\n"), 0o644)
		var z bytes.Buffer
		if err := modzip.CreateFromDir(&z, module.Version{Path: "example.com/big", Version: "v1.0.0"}, dir); err != nil {
			t.Fatal(err)
		}
		do(t, s, "PUT", "/go/go-hosted/example.com/big/@v/v1.0.0.zip", admin, z.String(), 403)

		chart := tarGz([2]string{"big/Chart.yaml", "apiVersion: v2\nname: big\nversion: 1.0.0\n"})
		do(t, s, "POST", "/helm/helm-hosted/api/charts", admin, string(chart), 403)

		layer := []byte(strings.Repeat("l", 50))
		resp, body := s.Do(t, "POST", "/v2/library/big/blobs/uploads/?digest="+sha(layer), admin, bytes.NewReader(layer))
		if resp.StatusCode != 403 || !strings.Contains(body, "DENIED") {
			t.Errorf("OCI push past quota = %d %s", resp.StatusCode, body)
		}

		audit := do(t, s, "GET", "/api/v1/audit?action=quota.exceeded", admin, "", 200)
		for _, r := range []string{"pypi-hosted", "npm-hosted", "go-hosted", "helm-hosted", "library"} {
			if !strings.Contains(audit, `"`+r+`"`) {
				t.Errorf("no quota.exceeded of %s", r)
			}
		}
	})
}
