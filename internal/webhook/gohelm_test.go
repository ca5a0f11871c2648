package webhook_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"testing"
)

// goZip is a module zip of mod@version with a go.mod and one file.
func goZip(t *testing.T, mod, version string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range map[string]string{"go.mod": "module " + mod + "\n", "x.go": "package x\n"} {
		w, _ := zw.Create(mod + "@" + version + "/" + name)
		w.Write([]byte(body))
	}
	zw.Close()
	return buf.String()
}

// helmChart is a chart archive holding only Chart.yaml.
func helmChart(t *testing.T, name, version string) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	y := "apiVersion: v2\nname: " + name + "\nversion: " + version + "\n"
	tw.WriteHeader(&tar.Header{Name: name + "/Chart.yaml", Mode: 0o644, Size: int64(len(y)), Typeflag: tar.TypeReg})
	tw.Write([]byte(y))
	tw.Close()
	gz.Close()
	return buf.String()
}
