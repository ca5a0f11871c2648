package ui_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// npmTarball is a package tarball as npm pack writes it.
func npmTarball(name, version string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	pj := fmt.Sprintf(`{"name":%q,"version":%q}`, name, version)
	tw.WriteHeader(&tar.Header{Name: "package/package.json", Mode: 0o644, Size: int64(len(pj)), Typeflag: tar.TypeReg})
	tw.Write([]byte(pj))
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func TestNPMPackagePage(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		name := "@demo/widget"
		var sums []string
		for _, version := range []string{"1.0.0", "1.1.0"} {
			tgz := npmTarball(name, version)
			sum := sha512.Sum512(tgz)
			sums = append(sums, "sha512-"+base64.StdEncoding.EncodeToString(sum[:]))
			doc, _ := json.Marshal(map[string]any{
				"_id": name, "name": name, "dist-tags": map[string]string{"latest": version},
				"versions": map[string]any{version: map[string]any{
					"name": name, "version": version, "description": "a widget", "license": "MIT",
					"dependencies": map[string]string{"left-pad": "^1.3.0"},
					"dist":         map[string]any{"integrity": sums[len(sums)-1], "tarball": "http://x/" + name + "/-/widget-" + version + ".tgz"},
				}},
				"_attachments": map[string]any{"widget-" + version + ".tgz": map[string]any{
					"content_type": "application/octet-stream", "data": base64.StdEncoding.EncodeToString(tgz), "length": len(tgz)}},
			})
			resp, body := s.Do(t, "PUT", "/npm/npm-hosted/@demo%2fwidget", apptest.Admin, bytes.NewReader(doc), "Content-Type", "application/json")
			if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
				t.Fatalf("publish %s: %d %s", version, resp.StatusCode, body)
			}
		}
		b := newBrowser(t, s)
		b.login("admin", apptest.AdminPassword)
		list := b.get("/ui/repositories/npm-hosted", http.StatusOK)
		if !strings.Contains(list, `href="/ui/repositories/npm-hosted/packages/@demo/widget"`) || !strings.Contains(list, "1.1.0") ||
			!strings.Contains(list, "registry="+s.URL+"/npm/npm-hosted/") ||
			!strings.Contains(list, strings.TrimPrefix(s.URL, "http:")+"/npm/npm-hosted/:always-auth=true") {
			t.Fatalf("package list:\n%s", excerpt(list))
		}
		page := b.get("/ui/repositories/npm-hosted/packages/@demo/widget", http.StatusOK)
		for _, want := range []string{"a widget", "MIT", "left-pad ^1.3.0", "latest: 1.1.0", sums[0], sums[1],
			"npm install --registry " + s.URL + "/npm/npm-hosted/ @demo/widget@1.0.0"} {
			if !strings.Contains(page, want) && !strings.Contains(page, strings.ReplaceAll(want, "+", "&#43;")) {
				t.Errorf("package page lacks %q", want)
			}
		}
		if older := b.get("/ui/repositories/npm-hosted/packages/@demo/widget?version=1.0.0", http.StatusOK); !strings.Contains(older, "<dd>1.0.0</dd>") {
			t.Errorf("?version=1.0.0 does not show that version")
		}
		b.get("/ui/repositories/npm-hosted/packages/@demo/nothing", http.StatusNotFound)
	})
}

// putObject stores an S3 object the way the S3 surface does: the blob
// first, then its row.
func putObject(t *testing.T, s *apptest.Server, rp *repo.Repository, key, content string) {
	t.Helper()
	ctx := context.Background()
	info, err := s.Blobs.Put(ctx, strings.NewReader(content), blob.Expect{}, blob.MD5)
	if err != nil {
		t.Fatal(err)
	}
	err = s.DB.WithTx(ctx, func(tx *sql.Tx) error {
		if err := gc.Record(ctx, tx, s.Blobs, gc.BlobOf(info)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO s3_objects (repository_id, key, digest, size, etag, content_type, modified_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, rp.ID, key, string(info.Digest), info.Size, info.MD5, "text/html", meta.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBucketBrowser(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		rp, err := s.Repos.Get(ctx, "backups")
		if err != nil {
			t.Fatal(err)
		}
		// 130 objects under one prefix, some sub-prefixes, and keys that a
		// path would not allow.
		want := map[string]bool{}
		for i := range 130 {
			k := fmt.Sprintf("logs/2026/day-%03d.log", i)
			putObject(t, s, rp, k, "log "+k)
			want[fmt.Sprintf("day-%03d.log", i)] = true
		}
		for _, k := range []string{"logs/2026/archive/a.gz", "logs/2026/archive/b.gz", "logs/2026/z/x", "logs/top.txt", "odd//key/../x", "page.html"} {
			putObject(t, s, rp, k, "<script>alert(1)</script> "+k)
		}
		want["archive/"], want["z/"] = true, true

		b := newBrowser(t, s)
		b.login("admin", apptest.AdminPassword)
		root := b.get("/ui/repositories/backups", http.StatusOK)
		for _, w := range []string{"logs/", "odd/", "page.html", "aws --endpoint-url"} {
			if !strings.Contains(root, w) {
				t.Errorf("bucket root lacks %q", w)
			}
		}
		// Page through logs/2026/ with the Next links: every entry once.
		nextRe := regexp.MustCompile(`<a href="([^"]+)" rel="next">`)
		entryRe := regexp.MustCompile(`>(?:📁 )?((?:day-\d+\.log)|archive/|z/)</a>`)
		seen := map[string]int{}
		path := "/ui/repositories/backups?prefix=logs/2026/"
		for pages := 0; path != ""; pages++ {
			if pages > 10 {
				t.Fatalf("too many pages")
			}
			body := b.get(path, http.StatusOK)
			for _, m := range entryRe.FindAllStringSubmatch(body, -1) {
				seen[m[1]]++
			}
			path = ""
			if m := nextRe.FindStringSubmatch(body); m != nil {
				path = strings.ReplaceAll(m[1], "&amp;", "&")
			}
		}
		for k := range want {
			if seen[k] != 1 {
				t.Errorf("%s listed %d times", k, seen[k])
			}
		}
		if len(seen) != len(want) {
			t.Errorf("listed %d entries, want %d", len(seen), len(want))
		}
		// Downloads come from the blob store, as attachments that cannot
		// run as this site, for any key.
		for _, k := range []string{"page.html", "odd//key/../x"} {
			resp, body := b.do("GET", "/ui/repositories/backups/download?path="+strings.ReplaceAll(k, "/", "%2F"), nil)
			if resp.StatusCode != 200 || body != "<script>alert(1)</script> "+k {
				t.Fatalf("download %s: %d %q", k, resp.StatusCode, body)
			}
			if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") ||
				!strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") {
				t.Errorf("download %s: Content-Disposition %q, CSP %q", k, cd, resp.Header.Get("Content-Security-Policy"))
			}
		}
		// Ranges work (resumable downloads).
		resp, body := b.do("GET", "/ui/repositories/backups/download?path=logs/top.txt", nil, "Range", "bytes=0-7")
		if resp.StatusCode != http.StatusPartialContent || body != "<script>" {
			t.Fatalf("range: %d %q", resp.StatusCode, body)
		}
		// Anonymous visitors of a private bucket are sent to sign in.
		newBrowser(t, s).redirectsToLogin("/ui/repositories/backups/download?path=page.html")
	})
}
