package importer

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRewriteSource(t *testing.T) {
	im := &mlflowImport{runs: map[string]string{"aaa": "bbb", "same": "same"}, models: map[string]string{"m-1": "m-2"},
		roots: map[string]string{}}
	im.mapRoot("mlflow-artifacts:/1/aaa/artifacts", "mlflow-artifacts:/5/bbb/artifacts")
	im.mapRoot("mlflow-artifacts://host:5000/1/models/m-1/artifacts", "mlflow-artifacts:/5/models/m-2/artifacts")
	im.mapRoot("s3://bucket/mlruns/1/ccc/artifacts/", "mlflow-artifacts:/1/ccc/artifacts")
	for _, c := range []struct{ in, want string }{
		{"runs:/aaa/model", "runs:/bbb/model"},
		{"runs:/same/model", "runs:/same/model"},
		{"runs:/unknown/model", "runs:/unknown/model"},
		{"models:/m-1", "models:/m-2"},
		{"models:/m-1/sub", "models:/m-2/sub"},
		{"models:/name/3", "models:/name/3"},
		{"mlflow-artifacts:/1/aaa/artifacts/model", "mlflow-artifacts:/5/bbb/artifacts/model"},
		{"mlflow-artifacts:/1/aaa/artifacts", "mlflow-artifacts:/5/bbb/artifacts"},
		{"mlflow-artifacts:/1/aaa/artifactsX", "mlflow-artifacts:/1/aaa/artifactsX"},
		{"mlflow-artifacts:/1/models/m-1/artifacts", "mlflow-artifacts:/5/models/m-2/artifacts"},
		{"s3://bucket/mlruns/1/ccc/artifacts/model", "mlflow-artifacts:/1/ccc/artifacts/model"},
		{"s3://other/x", "s3://other/x"},
	} {
		if got := im.rewriteSource(c.in); got != c.want {
			t.Errorf("rewriteSource(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzArtifactListing: whatever a source answers to an artifact listing,
// the paths accepted are relative and clean (they become object keys
// below an arca run's root).
func FuzzArtifactListing(f *testing.F) {
	f.Add([]byte(`{"files":[{"path":"a.txt","is_dir":false,"file_size":3},{"path":"d","is_dir":true}]}`), "")
	f.Add([]byte(`{"files":[{"path":"../x","file_size":"12"}]}`), "d")
	f.Add([]byte(`{"files":[{"path":"/etc/passwd"},{"path":"a/./b"}]}`), "")
	f.Fuzz(func(t *testing.T, body []byte, rel string) {
		var list struct {
			Files []fileInfo `json:"files"`
		}
		if json.Unmarshal(body, &list) != nil {
			return
		}
		var out []artifactFile
		for _, fi := range list.Files {
			p := fi.Path
			if rel != "" {
				p = rel + "/" + p
			}
			addFile(&out, fi, p, func(string) error { return nil })
		}
		for _, a := range out {
			if a.Path == "" || strings.HasPrefix(a.Path, "/") || strings.Contains("/"+a.Path+"/", "/../") ||
				strings.Contains("/"+a.Path+"/", "/./") {
				t.Fatalf("accepted path %q", a.Path)
			}
		}
	})
}
