package fault

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
)

// goPublish publishes a Go module version (a module zip) to go-hosted.
func goPublish(c *client, _ *ledger, rnd *rand.Rand, n int) ([]*item, error) {
	mod := fmt.Sprintf("example.com/fault/m%d", n)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range [][2]string{{"go.mod", "module " + mod + "\n"},
		{"data.go", fmt.Sprintf("package m%d\n\nconst Data = %q\n", n, randomBytes(rnd, 1<<10+rnd.IntN(32<<10)))}} {
		w, _ := zw.Create(mod + "@v1.0.0/" + f[0])
		w.Write([]byte(f[1]))
	}
	zw.Close()
	z := buf.Bytes()
	path := "/go/go-hosted/" + mod + "/@v/v1.0.0.zip"
	st, b, _, err := c.do("PUT", path, z)
	if err != nil {
		return nil, err
	} else if err := want(st, 200, 201); err != nil {
		return nil, fmt.Errorf("%w %s", err, clip(b))
	}
	return []*item{{kind: "go", what: path, sum: sum(z), size: len(z), read: func(c *client) ([]byte, error) { return c.get(path) }}}, nil
}

// helmUpload uploads a chart to helm-hosted through the ChartMuseum API.
func helmUpload(c *client, _ *ledger, rnd *rand.Rand, n int) ([]*item, error) {
	name := fmt.Sprintf("fault%d", n)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range [][2]string{{name + "/Chart.yaml", "apiVersion: v2\nname: " + name + "\nversion: 1.0.0\n"},
		{name + "/values.yaml", fmt.Sprintf("data: %q\n", randomBytes(rnd, 1<<10+rnd.IntN(32<<10)))}} {
		tw.WriteHeader(&tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(f[1])), Typeflag: tar.TypeReg})
		tw.Write([]byte(f[1]))
	}
	tw.Close()
	gz.Close()
	tgz := buf.Bytes()
	st, b, _, err := c.do("POST", "/helm/helm-hosted/api/charts", tgz)
	if err != nil {
		return nil, err
	} else if err := want(st, 200, 201); err != nil {
		return nil, fmt.Errorf("%w %s", err, clip(b))
	}
	path := "/helm/helm-hosted/charts/" + name + "-1.0.0.tgz"
	return []*item{{kind: "helm", what: path, sum: sum(tgz), size: len(tgz), read: func(c *client) ([]byte, error) { return c.get(path) }}}, nil
}
