package pypi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// fakeIndex is an upstream index with three wheels of demo: 1.0 with a
// metadata file, 1.1 without one, 1.2 announcing one it does not serve.
// Upload times have microseconds, as PyPI's do.
func fakeIndex(t *testing.T) (*httptest.Server, dist) {
	w10, w11, w12 := wheel(t, "demo", "1.0"), wheel(t, "demo", "1.1"), wheel(t, "demo", "1.2")
	files := map[string][]byte{w10.filename: w10.data, w10.filename + ".metadata": w10.metadata, w11.filename: w11.data, w12.filename: w12.data}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /simple/demo/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
		fmt.Fprintf(w, `{"meta":{"api-version":"1.1"},"name":"demo","versions":["1.0","1.1","1.2"],"files":[
 {"filename":%q,"url":"../../files/%s","hashes":{"sha256":%q},"core-metadata":{"sha256":%q},"size":%d,"upload-time":"2024-03-05T10:20:30.123456Z"},
 {"filename":%q,"url":"../../files/%s","hashes":{"sha256":%q},"size":%d,"upload-time":"2024-03-06T10:20:30.654321Z"},
 {"filename":%q,"url":"../../files/%s","hashes":{"sha256":%q},"core-metadata":true,"size":%d,"upload-time":"2024-03-07T12:20:30.5+02:00"}]}`,
			w10.filename, w10.filename, hexSum(w10.data), hexSum(w10.metadata), len(w10.data),
			w11.filename, w11.filename, hexSum(w11.data), len(w11.data),
			w12.filename, w12.filename, hexSum(w12.data), len(w12.data))
	})
	mux.HandleFunc("GET /files/{name}", func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.PathValue("name")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts, w10
}

// TestProxyDetails is issue 23 item 6: a missing metadata file of a
// served wheel is reported as such, the JSON API's info of a proxied
// release has the upstream's summary and requires_dist, and upload times
// keep the upstream's precision.
func TestProxyDetails(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		up, w10 := fakeIndex(t)
		createRepo(t, s, fmt.Sprintf(`{"name":"pp","format":"pypi","kind":"proxy","settings":{"upstream":{"url":%q}}}`, up.URL+"/simple/"))
		createRepo(t, s, `{"name":"pg","format":"pypi","kind":"group","settings":{"members":["pp"]}}`)

		// Upload times: the upstream's microseconds, in the simple page
		// and the JSON API; an offset is turned into UTC.
		p := jsonPage(t, s, "/pypi/pp/simple/demo/")
		times := map[string]string{}
		for _, f := range p.Files {
			times[f.Filename] = f.UploadTime
		}
		if times[w10.filename] != "2024-03-05T10:20:30.123456Z" || times["demo-1.1-py3-none-any.whl"] != "2024-03-06T10:20:30.654321Z" ||
			times["demo-1.2-py3-none-any.whl"] != "2024-03-07T10:20:30.5Z" {
			t.Fatalf("upload times: %v", times)
		}

		// The JSON API's info comes from the release's core metadata.
		resp, body := s.Do(t, "GET", "/pypi/pp/pypi/demo/1.0/json", admin, nil)
		var api struct {
			Info struct {
				Summary        *string  `json:"summary"`
				RequiresDist   []string `json:"requires_dist"`
				RequiresPython *string  `json:"requires_python"`
			} `json:"info"`
			URLs []struct {
				UploadTimeISO string `json:"upload_time_iso_8601"`
				UploadTime    string `json:"upload_time"`
			} `json:"urls"`
		}
		if err := json.Unmarshal([]byte(body), &api); err != nil || resp.StatusCode != 200 {
			t.Fatalf("JSON API = %d %s", resp.StatusCode, body)
		}
		if api.Info.Summary == nil || *api.Info.Summary != "test package demo" || len(api.Info.RequiresDist) != 1 || api.Info.RequiresDist[0] != "idna" ||
			api.Info.RequiresPython == nil || *api.Info.RequiresPython != ">=3.8" {
			t.Fatalf("proxied JSON API info lacks the upstream's metadata: %s", body)
		}
		if len(api.URLs) != 1 || api.URLs[0].UploadTimeISO != "2024-03-05T10:20:30.123456Z" || api.URLs[0].UploadTime != "2024-03-05T10:20:30" {
			t.Fatalf("JSON API upload times: %s", body)
		}
		// Through the group too.
		if _, body := s.Do(t, "GET", "/pypi/pg/pypi/demo/1.0/json", admin, nil); !strings.Contains(body, `"summary": "test package demo"`) {
			t.Fatalf("group JSON API info: %s", body)
		}
		// A release without a metadata file still answers, without those fields.
		if resp, body := s.Do(t, "GET", "/pypi/pp/pypi/demo/1.1/json", admin, nil); resp.StatusCode != 200 || !strings.Contains(body, `"summary": null`) {
			t.Fatalf("JSON API of a release without metadata = %d %s", resp.StatusCode, body)
		}

		// The wheel without a metadata file is served; its .metadata is a
		// 404 that says the metadata is missing, not the wheel.
		for _, repo := range []string{"pp", "pg"} {
			if resp, _ := s.Do(t, "GET", "/pypi/"+repo+"/files/demo/demo-1.1-py3-none-any.whl", admin, nil); resp.StatusCode != 200 {
				t.Fatalf("%s: wheel = %d", repo, resp.StatusCode)
			}
			resp, body := s.Do(t, "GET", "/pypi/"+repo+"/files/demo/demo-1.1-py3-none-any.whl.metadata", admin, nil)
			if resp.StatusCode != 404 || !strings.Contains(body, "metadata file for demo-1.1-py3-none-any.whl") || strings.Contains(body, "not found") {
				t.Fatalf("%s: metadata of a wheel without one = %d %q", repo, resp.StatusCode, body)
			}
		}
		resp, body = s.Do(t, "GET", "/pypi/pp/files/demo/demo-1.2-py3-none-any.whl.metadata", admin, nil)
		if resp.StatusCode != 404 || !strings.Contains(body, "the upstream has no metadata file for demo-1.2-py3-none-any.whl") {
			t.Fatalf("metadata the upstream announces but lacks = %d %q", resp.StatusCode, body)
		}
		if resp, body := s.Do(t, "GET", "/pypi/pp/files/demo/"+w10.filename+".metadata", admin, nil); resp.StatusCode != 200 || body != string(w10.metadata) {
			t.Fatalf("metadata = %d %q", resp.StatusCode, body)
		}
	})
}
