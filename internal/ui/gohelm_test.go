package ui_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/arcaproject/arca/internal/app/apptest"
)

func TestGoAndHelmRepositoryPages(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		// A module in go-hosted and a chart in helm-hosted (default repositories).
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/ui/mod\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "m.go"), []byte("package mod\n"), 0o644)
		var zb bytes.Buffer
		if err := modzip.CreateFromDir(&zb, module.Version{Path: "example.com/ui/mod", Version: "v1.2.0"}, dir); err != nil {
			t.Fatal(err)
		}
		if resp, b := s.Do(t, "PUT", "/go/go-hosted/example.com/ui/mod/@v/v1.2.0.zip", apptest.Admin, &zb); resp.StatusCode != 201 {
			t.Fatalf("publish = %d %s", resp.StatusCode, b)
		}
		var cb bytes.Buffer
		gz := gzip.NewWriter(&cb)
		tw := tar.NewWriter(gz)
		y := "apiVersion: v2\nname: uichart\nversion: 0.3.0\nappVersion: \"9.9\"\ndescription: the UI chart\n"
		tw.WriteHeader(&tar.Header{Name: "uichart/Chart.yaml", Mode: 0o644, Size: int64(len(y)), Typeflag: tar.TypeReg})
		tw.Write([]byte(y))
		tw.Close()
		gz.Close()
		if resp, b := s.Do(t, "POST", "/helm/helm-hosted/api/charts", apptest.Admin, &cb); resp.StatusCode != 201 {
			t.Fatalf("upload = %d %s", resp.StatusCode, b)
		}

		b := newBrowser(t, s)
		b.login("admin", apptest.AdminPassword)
		page := b.get("/ui/repositories/go-hosted", http.StatusOK)
		for _, want := range []string{"example.com/ui/mod", "go env -w GOPROXY=" + s.URL + "/go/go-hosted", "arca go publish", "GONOSUMDB"} {
			if !strings.Contains(page, want) {
				t.Errorf("the go repository page lacks %q", want)
			}
		}
		if !strings.Contains(page, `href="/ui/repositories/go-hosted/packages/example.com/ui/mod"`) {
			t.Errorf("the go repository page does not link the module")
		}
		mod := b.get("/ui/repositories/go-hosted/packages/example.com/ui/mod", http.StatusOK)
		for _, want := range []string{"go get example.com/ui/mod@v1.2.0", "h1:", "v1.2.0"} {
			if !strings.Contains(mod, want) {
				t.Errorf("the module page lacks %q", want)
			}
		}
		b.get("/ui/repositories/go-hosted/packages/example.com/none", http.StatusNotFound)

		page = b.get("/ui/repositories/helm-hosted", http.StatusOK)
		for _, want := range []string{"uichart", "helm repo add helm-hosted " + s.URL + "/helm/helm-hosted", "/api/charts"} {
			if !strings.Contains(page, want) {
				t.Errorf("the helm repository page lacks %q", want)
			}
		}
		chart := b.get("/ui/repositories/helm-hosted/packages/uichart", http.StatusOK)
		for _, want := range []string{"the UI chart", "0.3.0", "9.9", "helm pull helm-hosted/uichart --version 0.3.0"} {
			if !strings.Contains(chart, want) {
				t.Errorf("the chart page lacks %q", want)
			}
		}
		b.get("/ui/repositories/helm-hosted/packages/none", http.StatusNotFound)
		if q := b.get("/ui/repositories/helm-hosted?q=nothing-like-it", http.StatusOK); strings.Contains(q, `packages/uichart"`) {
			t.Errorf("the search filter kept a chart it does not match")
		}
		if oci := b.get("/ui/repositories/library", http.StatusOK); !strings.Contains(oci, "helm push mychart-0.1.0.tgz oci://") {
			t.Errorf("the OCI repository page does not show helm push")
		}
		dash := b.get("/", http.StatusOK)
		for _, want := range []string{"modules", "charts"} {
			if !strings.Contains(dash, want) {
				t.Errorf("the dashboard does not count %s", want)
			}
		}
	})
}
