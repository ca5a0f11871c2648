package app_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/config"
)

// Reads through a group are checked against the caller's role on the
// member that answers, for every format with groups, through the real
// handlers: a group's readers see the members they may read; a hosted
// member they may not read refuses a name it has (an OCI tag, an npm
// package, a PyPI project with merge: first) rather than letting a later
// member answer it.

const admin = apptest.Admin

// groupRoles are the callers of the read tests: none has a role on the
// secret members, except the global admin and the insider.
var groupRoles = []struct {
	who, cred string
	secret    bool // may read the secret member
}{
	{"anonymous", "", false},
	{"reader", "rita:rita-password", false},
	{"developer", "dave:dave-password", false},
	{"group-admin", "carol:carol-password", false},
	{"insider", "ivan:ivan-password", true}, // reader on the group and the secret member
	{"global-admin", admin, true},
}

// refused is the status a caller gets for a member they may not read.
func refused(cred string) int {
	if cred == "" {
		return http.StatusUnauthorized
	}
	return http.StatusForbidden
}

func mustDo(t *testing.T, s *apptest.Server, method, path, cred, body string, want int, headers ...string) string {
	t.Helper()
	resp, got := s.Do(t, method, path, cred, strings.NewReader(body), headers...)
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, got, want)
	}
	return got
}

// setUpGroup creates, for format f, a private hosted secret-f, a public
// hosted open-f and a public group team-f whose members are both (the
// secret first), and gives the test users their roles on them.
func setUpGroup(t *testing.T, s *apptest.Server, f, groupSettings string) {
	t.Helper()
	ctx := context.Background()
	mustDo(t, s, "POST", "/api/v1/repositories", admin, `{"name":"secret-`+f+`","format":"`+f+`"}`, 201)
	mustDo(t, s, "POST", "/api/v1/repositories", admin, `{"name":"open-`+f+`","format":"`+f+`","visibility":"public"}`, 201)
	mustDo(t, s, "POST", "/api/v1/repositories", admin, `{"name":"team-`+f+`","format":"`+f+`","kind":"group",`+
		`"settings":{"members":["open-`+f+`"]`+groupSettings+`}}`, 201)
	for _, u := range []string{"rita", "dave", "carol", "ivan"} {
		if _, err := s.Auth.GetUser(ctx, u); err != nil {
			if _, err := s.Auth.CreateUser(ctx, u, u+"-password", "", auth.NoRole); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, g := range []struct {
		user, repo string
		role       auth.Role
	}{
		{"rita", "team-" + f, auth.Reader}, {"dave", "team-" + f, auth.Developer}, {"carol", "team-" + f, auth.Admin},
		{"ivan", "team-" + f, auth.Reader}, {"ivan", "secret-" + f, auth.Reader},
		{"dave", "open-" + f, auth.Developer}, {"carol", "open-" + f, auth.Admin},
	} {
		rp, err := s.Repos.Get(ctx, g.repo)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Auth.Grant(ctx, g.user, rp.ID, g.role); err != nil {
			t.Fatal(err)
		}
	}
	// The group's admin cannot add the secret member (issue 22 item 3);
	// the global admin can.
	attack := `{"visibility":"public","settings":{"members":["secret-` + f + `"]` + groupSettings + `}}`
	mustDo(t, s, "PATCH", "/api/v1/repositories/team-"+f, "carol:carol-password", attack, 403)
	mustDo(t, s, "PATCH", "/api/v1/repositories/team-"+f, "ivan:ivan-password", attack, 403)
	mustDo(t, s, "PATCH", "/api/v1/repositories/team-"+f, admin, `{"visibility":"public","settings":{"members":["secret-`+f+`","open-`+f+`"]`+groupSettings+`}}`, 200)
}

func ociDigest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// pushOCI pushes a one-layer image whose layer is content and returns the
// layer's and the manifest's digests.
func pushOCI(t *testing.T, s *apptest.Server, name, tag, content string) (layer, manifest string) {
	t.Helper()
	return pushOCIAs(t, s, admin, name, tag, content, 201)
}

// pushOCIAs pushes as cred, expecting want from the manifest's PUT.
func pushOCIAs(t *testing.T, s *apptest.Server, cred, name, tag, content string, want int) (layer, manifest string) {
	t.Helper()
	for _, b := range []string{"{}", content} {
		mustDo(t, s, "POST", "/v2/"+name+"/blobs/uploads/?digest="+ociDigest([]byte(b)), cred, b, 201)
	}
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":2},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		ociDigest([]byte("{}")), ociDigest([]byte(content)), len(content))
	mustDo(t, s, "PUT", "/v2/"+name+"/manifests/"+tag, cred, m, want, "Content-Type", "application/vnd.oci.image.manifest.v1+json")
	return ociDigest([]byte(content)), ociDigest([]byte(m))
}

func tagList(t *testing.T, body string) string {
	t.Helper()
	var l struct{ Tags []string }
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		t.Fatalf("tag list %q: %v", body, err)
	}
	return strings.Join(l.Tags, " ")
}

func TestGroupReadsOCI(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		setUpGroup(t, s, "oci", "")
		secretLayer, secretManifest := pushOCI(t, s, "secret-oci/app", "v1", "secret layer")
		pushOCI(t, s, "secret-oci/app", "shared", "secret shared layer")
		openLayer, _ := pushOCI(t, s, "open-oci/app", "shared", "open layer")
		pushOCI(t, s, "open-oci/app", "v2", "open layer")
		accept := []string{"Accept", "application/vnd.oci.image.manifest.v1+json"}
		// Shadowing holds through a nested group: outer-oci asks inner-oci
		// (whose only member is the secret one) before open-oci.
		mustDo(t, s, "POST", "/api/v1/repositories", admin, `{"name":"inner-oci","format":"oci","kind":"group","visibility":"public","settings":{"members":["secret-oci"]}}`, 201)
		mustDo(t, s, "POST", "/api/v1/repositories", admin, `{"name":"outer-oci","format":"oci","kind":"group","visibility":"public","settings":{"members":["inner-oci","open-oci"]}}`, 201)
		mustDo(t, s, "GET", "/v2/outer-oci/app/manifests/shared", "", "", 401, accept...)
		mustDo(t, s, "GET", "/v2/outer-oci/app/manifests/v2", "", "", 200, accept...)
		mustDo(t, s, "GET", "/v2/outer-oci/app/manifests/shared", "rita:rita-password", "", 403, accept...) // no role on the secret member
		for _, c := range groupRoles {
			t.Run(c.who, func(t *testing.T) {
				// Content of the public member is served to everyone.
				if body := mustDo(t, s, "GET", "/v2/team-oci/app/blobs/"+openLayer, c.cred, "", 200); body != "open layer" {
					t.Fatalf("open blob through the group = %q", body)
				}
				mustDo(t, s, "GET", "/v2/team-oci/app/manifests/v2", c.cred, "", 200, accept...)
				if !c.secret {
					// The secret member's content is not served: a digest
					// is looked for in the readable members only, a tag of
					// the secret member is refused, also where a later
					// member has the same tag.
					mustDo(t, s, "GET", "/v2/team-oci/app/blobs/"+secretLayer, c.cred, "", 404)
					mustDo(t, s, "HEAD", "/v2/team-oci/app/blobs/"+secretLayer, c.cred, "", 404)
					mustDo(t, s, "GET", "/v2/team-oci/app/manifests/"+secretManifest, c.cred, "", 404, accept...)
					mustDo(t, s, "GET", "/v2/team-oci/app/manifests/v1", c.cred, "", refused(c.cred), accept...)
					mustDo(t, s, "GET", "/v2/team-oci/app/manifests/shared", c.cred, "", refused(c.cred), accept...)
					if tags := tagList(t, mustDo(t, s, "GET", "/v2/team-oci/app/tags/list", c.cred, "", 200)); tags != "shared v2" {
						t.Fatalf("tags through the group = %s", tags)
					}
					return
				}
				if body := mustDo(t, s, "GET", "/v2/team-oci/app/blobs/"+secretLayer, c.cred, "", 200); body != "secret layer" {
					t.Fatalf("secret blob through the group = %q", body)
				}
				mustDo(t, s, "GET", "/v2/team-oci/app/manifests/v1", c.cred, "", 200, accept...)
				if tags := tagList(t, mustDo(t, s, "GET", "/v2/team-oci/app/tags/list", c.cred, "", 200)); tags != "shared v1 v2" {
					t.Fatalf("tags through the group = %s", tags)
				}
			})
		}
	})
}

// uploadSdist uploads a source distribution of name as twine does.
func uploadSdist(t *testing.T, s *apptest.Server, repo, name, version string) string {
	t.Helper()
	resp, got := uploadSdistAs(t, s, admin, repo, name, version)
	if resp.StatusCode != 200 {
		t.Fatalf("upload %s %s to %s = %d %s", name, version, repo, resp.StatusCode, got)
	}
	return name + "-" + version + ".tar.gz"
}

// uploadSdistAs uploads as cred.
func uploadSdistAs(t *testing.T, s *apptest.Server, cred, repo, name, version string) (*http.Response, string) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	md := "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\nSummary: " + repo + "\n"
	for fn, b := range map[string]string{name + "-" + version + "/PKG-INFO": md, name + "-" + version + "/setup.py": ""} {
		tw.WriteHeader(&tar.Header{Name: fn, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write([]byte(b))
	}
	tw.Close()
	gz.Close()
	data := buf.Bytes()
	sum, md5sum := sha256.Sum256(data), md5.Sum(data)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range map[string]string{":action": "file_upload", "protocol_version": "1", "metadata_version": "2.1",
		"name": name, "version": version, "filetype": "sdist", "pyversion": "source",
		"sha256_digest": hex.EncodeToString(sum[:]), "md5_digest": hex.EncodeToString(md5sum[:])} {
		mw.WriteField(k, v)
	}
	filename := name + "-" + version + ".tar.gz"
	fw, _ := mw.CreateFormFile("content", filename)
	fw.Write(data)
	mw.Close()
	return s.Do(t, "POST", "/pypi/"+repo+"/", cred, &body, "Content-Type", mw.FormDataContentType())
}

func TestGroupReadsPyPI(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		setUpGroup(t, s, "pypi", "")
		secretFile := uploadSdist(t, s, "secret-pypi", "inside", "1.0")
		sharedSecret := uploadSdist(t, s, "secret-pypi", "shared", "9.0")
		sharedOpen := uploadSdist(t, s, "open-pypi", "shared", "1.0")
		// A second group shadows by project.
		mustDo(t, s, "POST", "/api/v1/repositories", admin, `{"name":"first-pypi","format":"pypi","kind":"group","visibility":"public",`+
			`"settings":{"members":["secret-pypi","open-pypi"],"merge":"first"}}`, 201)
		for _, g := range []struct{ user, role string }{{"rita", "reader"}, {"dave", "developer"}, {"carol", "admin"}, {"ivan", "reader"}} {
			mustDo(t, s, "PUT", "/api/v1/repositories/first-pypi/roles/"+g.user, admin, `{"role":"`+g.role+`"}`, 200)
		}
		for _, c := range groupRoles {
			t.Run(c.who, func(t *testing.T) {
				index := mustDo(t, s, "GET", "/pypi/team-pypi/simple/", c.cred, "", 200)
				page := mustDo(t, s, "GET", "/pypi/team-pypi/simple/shared/", c.cred, "", 200)
				if !strings.Contains(page, sharedOpen) {
					t.Fatalf("merged page lacks the open member's file: %s", page)
				}
				mustDo(t, s, "GET", "/pypi/team-pypi/files/shared/"+sharedOpen, c.cred, "", 200)
				if !c.secret {
					if strings.Contains(index, "inside") || strings.Contains(page, sharedSecret) {
						t.Fatalf("secret member listed through the group: %s %s", index, page)
					}
					mustDo(t, s, "GET", "/pypi/team-pypi/simple/inside/", c.cred, "", 404)
					mustDo(t, s, "GET", "/pypi/team-pypi/files/inside/"+secretFile, c.cred, "", 404)
					mustDo(t, s, "GET", "/pypi/team-pypi/files/shared/"+sharedSecret, c.cred, "", 404)
					// merge: first — the secret member's project shadows
					// the open member's.
					mustDo(t, s, "GET", "/pypi/first-pypi/simple/shared/", c.cred, "", refused(c.cred))
					mustDo(t, s, "GET", "/pypi/first-pypi/files/shared/"+sharedOpen, c.cred, "", refused(c.cred))
					return
				}
				if !strings.Contains(index, "inside") || !strings.Contains(page, sharedSecret) {
					t.Fatalf("secret member not listed through the group for a reader of it: %s %s", index, page)
				}
				mustDo(t, s, "GET", "/pypi/team-pypi/files/inside/"+secretFile, c.cred, "", 200)
				if page := mustDo(t, s, "GET", "/pypi/first-pypi/simple/shared/", c.cred, "", 200); !strings.Contains(page, sharedSecret) || strings.Contains(page, sharedOpen) {
					t.Fatalf("merge: first page = %s", page)
				}
			})
		}
	})
}

// publishNPM publishes name@version to repo.
func publishNPM(t *testing.T, s *apptest.Server, repo, name, version string) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	pj := fmt.Sprintf(`{"name":%q,"version":%q}`, name, version)
	tw.WriteHeader(&tar.Header{Name: "package/package.json", Mode: 0o644, Size: int64(len(pj)), Typeflag: tar.TypeReg})
	tw.Write([]byte(pj))
	tw.Close()
	gz.Close()
	tarball := buf.Bytes()
	s512, s1 := sha512.Sum512(tarball), sha1.Sum(tarball)
	doc, _ := json.Marshal(map[string]any{
		"_id": name, "name": name, "dist-tags": map[string]string{"latest": version},
		"versions": map[string]any{version: map[string]any{"name": name, "version": version, "_id": name + "@" + version,
			"description": repo,
			"dist": map[string]any{"shasum": hex.EncodeToString(s1[:]), "integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]),
				"tarball": "http://localhost/" + name + "/-/" + name + "-" + version + ".tgz"}}},
		"_attachments": map[string]any{name + "-" + version + ".tgz": map[string]any{
			"content_type": "application/octet-stream", "data": base64.StdEncoding.EncodeToString(tarball), "length": len(tarball)}},
	})
	mustDo(t, s, "PUT", "/npm/"+repo+"/"+name, admin, string(doc), 201, "Content-Type", "application/json")
}

func TestGroupReadsNPM(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		setUpGroup(t, s, "npm", "")
		publishNPM(t, s, "secret-npm", "inside", "1.0.0")
		publishNPM(t, s, "secret-npm", "shared", "9.0.0")
		publishNPM(t, s, "open-npm", "shared", "1.0.0")
		publishNPM(t, s, "open-npm", "outside", "1.0.0")
		for _, c := range groupRoles {
			t.Run(c.who, func(t *testing.T) {
				mustDo(t, s, "GET", "/npm/team-npm/outside", c.cred, "", 200)
				mustDo(t, s, "GET", "/npm/team-npm/outside/-/outside-1.0.0.tgz", c.cred, "", 200)
				search := mustDo(t, s, "GET", "/npm/team-npm/-/v1/search?text=e", c.cred, "", 200)
				if !c.secret {
					// A package of the secret member is refused, and
					// shadows the open member's package of the same name.
					mustDo(t, s, "GET", "/npm/team-npm/inside", c.cred, "", refused(c.cred))
					mustDo(t, s, "GET", "/npm/team-npm/inside/-/inside-1.0.0.tgz", c.cred, "", refused(c.cred))
					mustDo(t, s, "GET", "/npm/team-npm/shared", c.cred, "", refused(c.cred))
					mustDo(t, s, "GET", "/npm/team-npm/shared/-/shared-1.0.0.tgz", c.cred, "", refused(c.cred))
					if strings.Contains(search, "inside") || strings.Contains(search, "secret-npm") {
						t.Fatalf("search through the group shows the secret member: %s", search)
					}
					return
				}
				if doc := mustDo(t, s, "GET", "/npm/team-npm/shared", c.cred, "", 200); !strings.Contains(doc, "9.0.0") || strings.Contains(doc, `"1.0.0"`) {
					t.Fatalf("shared through the group = %s", doc)
				}
				mustDo(t, s, "GET", "/npm/team-npm/inside/-/inside-1.0.0.tgz", c.cred, "", 200)
				if !strings.Contains(search, "inside") {
					t.Fatalf("search through the group lacks the secret member's package: %s", search)
				}
			})
		}
	})
}

// Groups in the configuration are created after the other repositories,
// since members must exist.
func TestBootstrapCreatesGroupsLast(t *testing.T) {
	s := apptest.Start(t, "", func(c *config.Config) {
		c.Repositories = append([]config.Repository{{Name: "npm-all", Format: "npm", Kind: "group",
			Settings: map[string]any{"members": []any{"npm-internal", "npm-hosted"}}}}, c.Repositories...)
		c.Repositories = append(c.Repositories, config.Repository{Name: "npm-internal", Format: "npm", Kind: "hosted"})
	})
	body := mustDo(t, s, "GET", "/api/v1/repositories/npm-all", admin, "", 200)
	if !strings.Contains(body, "npm-internal") {
		t.Fatalf("npm-all = %s", body)
	}
}
