package lineage_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/lineage"
)

func digestOf(b string) string {
	sum := sha256.Sum256([]byte(b))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// extractAll runs the extraction of every audited event that lineage
// wants, as the jobs the subscriber queued would, and checks that they
// were queued.
func extractAll(t *testing.T, s *apptest.Server) {
	t.Helper()
	ctx := context.Background()
	events, err := s.Audit.List(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	wanted := 0
	for i := len(events) - 1; i >= 0; i-- {
		if lineage.Wants(events[i]) {
			wanted++
			if _, err := s.Lineage.Extract(ctx, events[i]); err != nil {
				t.Fatalf("extracting %s %s: %v", events[i].Action, events[i].Subject, err)
			}
		}
	}
	body := do(t, s, "GET", "/api/v1/jobs?kind=lineage_extract&limit=1000", apptest.Admin, "", http.StatusOK)
	if n := strings.Count(body, `"lineage_extract"`); n < wanted {
		t.Errorf("%d lineage_extract jobs queued, want one for each of the %d events: %s", n, wanted, body)
	}
}

// TestExtract: links recorded from what arrives — a DVC object and .dvc
// file in a raw repository, an MLflow run using a dataset whose source is
// that object, a registered model version from the run, an image whose
// annotation names the model by alias and whose config label names the
// data, and a referrer naming the run.
func TestExtract(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		const md5 = "0123456789abcdef0123456789abcdef"
		object := "store/files/md5/01/23456789abcdef0123456789abcdef"
		do(t, s, "PUT", "/raw/files/"+object, apptest.Admin, "id,label\n1,cat\n", http.StatusCreated)
		do(t, s, "PUT", "/raw/files/proj/data.csv.dvc", apptest.Admin, "outs:\n- md5: "+md5+"\n  size: 15\n  hash: md5\n  path: data.csv\n", http.StatusCreated)
		do(t, s, "PUT", "/raw/files/proj/readme.txt", apptest.Admin, "not lineage", http.StatusCreated)

		ml := "/mlflow/api/2.0/mlflow/"
		var exp struct {
			ExperimentID string `json:"experiment_id"`
		}
		json.Unmarshal([]byte(do(t, s, "POST", ml+"experiments/create", apptest.Admin, `{"name":"iris"}`, http.StatusOK)), &exp)
		var run struct {
			Run struct {
				Info struct {
					RunID string `json:"run_id"`
				} `json:"info"`
			} `json:"run"`
		}
		json.Unmarshal([]byte(do(t, s, "POST", ml+"runs/create", apptest.Admin, fmt.Sprintf(`{"experiment_id":%q}`, exp.ExperimentID), http.StatusOK)), &run)
		runID := run.Run.Info.RunID
		source, _ := json.Marshal(fmt.Sprintf(`{"url": "http://arca.example/raw/files/%s"}`, object))
		do(t, s, "POST", ml+"runs/log-inputs", apptest.Admin, fmt.Sprintf(`{"run_id":%q,"datasets":[{"tags":[{"key":"mlflow.data.context","value":"training"}],`+
			`"dataset":{"name":"iris","digest":"d1g35t","source_type":"http","source":%s}}]}`, runID, source), http.StatusOK)
		do(t, s, "POST", ml+"registered-models/create", apptest.Admin, `{"name":"iris-clf"}`, http.StatusOK)
		do(t, s, "POST", ml+"model-versions/create", apptest.Admin, fmt.Sprintf(`{"name":"iris-clf","source":"runs:/%s/model","run_id":%q}`, runID, runID), http.StatusOK)
		do(t, s, "POST", ml+"registered-models/alias", apptest.Admin, `{"name":"iris-clf","alias":"champion","version":"1"}`, http.StatusOK)

		// The image: the model by alias in an annotation, the data in a label.
		cfg := `{"architecture":"amd64","os":"linux","config":{"Labels":{"dev.arca.dataset":"dvc-md5:` + md5 + `"}},"rootfs":{"type":"layers","diff_ids":[]}}`
		layer := "layer bytes"
		for _, b := range []string{cfg, layer} {
			do(t, s, "POST", "/v2/library/serve/blobs/uploads/?digest="+digestOf(b), apptest.Admin, b, http.StatusCreated)
		}
		m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
			`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
			`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}],`+
			`"annotations":{"dev.arca.model":"models:/iris-clf@champion","org.opencontainers.image.source":"https://git.example/iris"}}`,
			digestOf(cfg), len(cfg), digestOf(layer), len(layer))
		resp, body := s.Do(t, "PUT", "/v2/library/serve/manifests/v1", apptest.Admin, strings.NewReader(m), "Content-Type", "application/vnd.oci.image.manifest.v1+json")
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("manifest PUT = %d %s", resp.StatusCode, body)
		}
		image := "oci:library/serve@" + digestOf(m)
		// A referrer of the image naming the run.
		empty := "{}"
		do(t, s, "POST", "/v2/library/serve/blobs/uploads/?digest="+digestOf(empty), apptest.Admin, empty, http.StatusCreated)
		ref := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.arca.lineage",`+
			`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},"layers":[],`+
			`"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%d},`+
			`"annotations":{"dev.arca.model":"runs:/%s/model"}}`, digestOf(empty), digestOf(m), len(m), runID)
		resp, body = s.Do(t, "PUT", "/v2/library/serve/manifests/"+digestOf(ref), apptest.Admin, strings.NewReader(ref), "Content-Type", "application/vnd.oci.image.manifest.v1+json")
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("referrer PUT = %d %s", resp.StatusCode, body)
		}

		extractAll(t, s)
		extractAll(t, s) // twice: nothing recorded twice

		run1 := "mlflow-run:" + runID
		obj := "raw:files/" + object
		want := map[string]string{ // edges of the graph up from the image
			"model:iris-clf/1>" + image:                  "packaged",
			"dvc-md5:" + md5 + ">" + image:               "packaged",
			run1 + ">" + image:                           "packaged",
			run1 + ">model:iris-clf/1":                   "registered",
			"dataset:d1g35t>" + run1:                     "input",
			obj + ">dataset:d1g35t":                      "source",
			"dvc-md5:" + md5 + ">" + obj:                 "stored_at",
			"raw:files/proj/data.csv.dvc>dvc-md5:" + md5: "declares",
		}
		g, _ := walk(t, s, apptest.Admin, "oci:library/serve:v1", 6, "up", http.StatusOK)
		if g.Root != image {
			t.Errorf("root = %s, want the tag resolved to %s", g.Root, image)
		}
		got := map[string]string{}
		for _, e := range g.Edges {
			got[e.From+">"+e.To] = e.Relation
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("edges up from the image:\n got %v\nwant %v", got, want)
		}
		// And the reverse: from the data down to the image.
		g, _ = walk(t, s, apptest.Admin, "dvc-md5:"+md5, 4, "down", http.StatusOK)
		if !ids(g)[image] || !ids(g)["dataset:d1g35t"] || !ids(g)["model:iris-clf/1"] {
			t.Errorf("walk down from the data = %v, want the dataset, the model and the image", ids(g))
		}

		// A reader of the image and the files, without MLflow: its nodes
		// are hidden, the rest is shown.
		do(t, s, "POST", "/api/v1/users", apptest.Admin, `{"name":"vera","password":"vera-Passw0rd-long"}`, http.StatusCreated)
		for _, r := range []string{"library", "files"} {
			do(t, s, "PUT", "/api/v1/repositories/"+r+"/roles/vera", apptest.Admin, `{"role":"reader"}`, http.StatusOK)
		}
		g, body = walk(t, s, "vera:vera-Passw0rd-long", "oci:library/serve:v1", 6, "up", http.StatusOK)
		seen := ids(g)
		if !seen[image] || !seen[obj] || !seen["dvc-md5:"+md5] || !seen["hidden"] || seen[run1] || seen["model:iris-clf/1"] || seen["dataset:d1g35t"] {
			t.Errorf("vera's walk = %v, want the image and files, the MLflow nodes hidden", seen)
		}
		for _, secret := range []string{runID, "iris-clf", "d1g35t"} {
			if strings.Contains(body, secret) {
				t.Errorf("vera's walk names %s: %s", secret, body)
			}
		}
		// vera may not see the model's graph at all.
		walk(t, s, "vera:vera-Passw0rd-long", "model:iris-clf/1", 3, "both", http.StatusNotFound)
	})
}
