package mlflow_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// BenchmarkLogBatch: log-batch requests of 1000 metrics (10 keys of 100
// steps, as bench/mlflow.sh sends them) from 4 writers, each into its own
// run, on SQLite. The whole request path: HTTP, decoding, validation, the
// write.
func BenchmarkLogBatch(b *testing.B) {
	s := apptest.Start(b, "", nil)
	post := func(path string, body any) []byte {
		j, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", s.URL+"/mlflow/api/2.0/mlflow"+path, bytes.NewReader(j))
		req.SetBasicAuth("admin", apptest.AdminPassword)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		var out bytes.Buffer
		out.ReadFrom(resp.Body)
		if resp.StatusCode != 200 {
			b.Fatalf("%s: %d %s", path, resp.StatusCode, out.String())
		}
		return out.Bytes()
	}
	var exp struct {
		ExperimentID string `json:"experiment_id"`
	}
	json.Unmarshal(post("/experiments/create", map[string]any{"name": "bench"}), &exp)
	var runs [4]string
	for i := range runs {
		var r struct {
			Run struct {
				Info struct {
					RunID string `json:"run_id"`
				} `json:"info"`
			} `json:"run"`
		}
		json.Unmarshal(post("/runs/create", map[string]any{"experiment_id": exp.ExperimentID}), &r)
		runs[i] = r.Run.Info.RunID
	}
	var next atomic.Int64
	var writer atomic.Int64
	b.SetParallelism(2) // 4 writers on 2 CPUs
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		run := runs[writer.Add(1)%4]
		for pb.Next() {
			batch := next.Add(1)
			ms := make([]map[string]any, 0, 1000)
			for k := range 10 {
				for step := range 100 {
					ms = append(ms, map[string]any{"key": fmt.Sprintf("k%d", k), "value": float64(step) * 0.5,
						"timestamp": 1700000000000 + batch, "step": batch*100 + int64(step)})
				}
			}
			post("/runs/log-batch", map[string]any{"run_id": run, "metrics": ms})
		}
	})
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "metrics/s")
}
