package gc_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"net/http"
)

// goRepublish publishes a Go module version, deletes it, and publishes
// the same zip again while GC may be collecting its zip and go.mod.
func (r *racer) goRepublish(i int) (ack, error) {
	mod := fmt.Sprintf("example.com/race/m%d", i)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range map[string]string{"go.mod": "module " + mod + "\n", "a.go": fmt.Sprintf("package m%d\n", i)} {
		w, _ := zw.Create(mod + "@v1.0.0/" + name)
		w.Write([]byte(body))
	}
	zw.Close()
	c := buf.Bytes()
	path := "/go/go-hosted/" + mod + "/@v/v1.0.0.zip"
	r.s.Do(r.t, "PUT", path, admin, bytes.NewReader(c))
	r.s.Do(r.t, "DELETE", "/go/go-hosted/"+mod+"/@v/v1.0.0", admin, nil)
	r.ageBlob(c)
	jitter()
	resp, body := r.s.Do(r.t, "PUT", path, admin, bytes.NewReader(c))
	switch resp.StatusCode {
	case http.StatusCreated:
	case http.StatusServiceUnavailable:
		return ack{}, errors.New(body)
	default:
		r.t.Errorf("go republish = %d %s", resp.StatusCode, body)
		return ack{}, errors.New(body)
	}
	return ack{content: c, what: "go " + path, read: func() ([]byte, error) {
		resp, body := r.s.Do(r.t, "GET", path, admin, nil)
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("GET = %d", resp.StatusCode)
		}
		if m, _ := r.s.Do(r.t, "GET", "/go/go-hosted/"+mod+"/@v/v1.0.0.mod", admin, nil); m.StatusCode != 200 {
			return nil, fmt.Errorf("GET .mod = %d", m.StatusCode)
		}
		return []byte(body), nil
	}}, nil
}

// helmReupload uploads a chart, deletes it, and uploads the same archive
// again while GC may be collecting it.
func (r *racer) helmReupload(i int) (ack, error) {
	name := fmt.Sprintf("race%d", i)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	y := "apiVersion: v2\nname: " + name + "\nversion: 1.0.0\n"
	tw.WriteHeader(&tar.Header{Name: name + "/Chart.yaml", Mode: 0o644, Size: int64(len(y)), Typeflag: tar.TypeReg})
	tw.Write([]byte(y))
	tw.Close()
	gz.Close()
	c := buf.Bytes()
	r.s.Do(r.t, "POST", "/helm/helm-hosted/api/charts", admin, bytes.NewReader(c))
	r.s.Do(r.t, "DELETE", "/helm/helm-hosted/api/charts/"+name+"/1.0.0", admin, nil)
	r.ageBlob(c)
	jitter()
	resp, body := r.s.Do(r.t, "PUT", "/helm/helm-hosted/charts/"+name+"-1.0.0.tgz", admin, bytes.NewReader(c))
	switch resp.StatusCode {
	case http.StatusCreated:
	case http.StatusServiceUnavailable:
		return ack{}, errors.New(body)
	default:
		r.t.Errorf("helm reupload = %d %s", resp.StatusCode, body)
		return ack{}, errors.New(body)
	}
	path := "/helm/helm-hosted/charts/" + name + "-1.0.0.tgz"
	return ack{content: c, what: "helm " + path, read: func() ([]byte, error) {
		resp, body := r.s.Do(r.t, "GET", path, admin, nil)
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("GET = %d", resp.StatusCode)
		}
		return []byte(body), nil
	}}, nil
}
