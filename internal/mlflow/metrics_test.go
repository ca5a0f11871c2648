package mlflow_test

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// history fetches a metric's whole history, page by page when maxResults
// is not 0, and returns its points and the number of pages.
func (c client) history(runID, key string, maxResults int) ([]metric, int) {
	c.t.Helper()
	var all []metric
	token := ""
	for pages := 1; ; pages++ {
		q := "/metrics/get-history?run_id=" + runID + "&metric_key=" + url.QueryEscape(key)
		if maxResults > 0 {
			q += fmt.Sprintf("&max_results=%d", maxResults)
		}
		if token != "" {
			q += "&page_token=" + url.QueryEscape(token)
		}
		var out struct {
			Metrics       []metric `json:"metrics"`
			NextPageToken string   `json:"next_page_token"`
		}
		c.ok("GET", q, nil, &out)
		all = append(all, out.Metrics...)
		if out.NextPageToken == "" {
			return all, pages
		}
		if len(out.Metrics) != maxResults {
			c.t.Fatalf("a page of %d points before the last page (max %d)", len(out.Metrics), maxResults)
		}
		token = out.NextPageToken
	}
}

func steps(ms []metric) string {
	s := ""
	for _, m := range ms {
		s += fmt.Sprintf("%d:%s ", m.Step, m.Value)
	}
	return s
}

func TestMetricHistory(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		c := adminClient(t, s)
		id := c.createRun(c.createExperiment("history")).Info.RunID
		batch := func(key string, pts ...[3]any) {
			ms := make([]map[string]any, len(pts))
			for i, p := range pts {
				ms[i] = map[string]any{"key": key, "step": p[0], "timestamp": p[1], "value": p[2]}
			}
			c.ok("POST", "/runs/log-batch", map[string]any{"run_id": id, "metrics": ms}, nil)
		}
		// Chronological in step order: pages continue from the last point.
		for i := 0; i < 7; i++ {
			batch("loss", [3]any{i, 1000 + i, float64(i) / 4})
		}
		batch("loss", [3]any{7, 2000, "NaN"})
		full, pages := c.history(id, "loss", 0)
		want := "0:0 1:0.25 2:0.5 3:0.75 4:1 5:1.25 6:1.5 7:\"NaN\" "
		if got := steps(full); got != want || pages != 1 {
			t.Fatalf("history: %s (%d pages), want %s", got, pages, want)
		}
		for _, n := range []int{1, 3, 8, 100} {
			paged, pages := c.history(id, "loss", n)
			if got := steps(paged); got != want || pages != (8+n-1)/n {
				t.Fatalf("paged by %d: %s in %d pages", n, got, pages)
			}
		}
		// Out of step order in time: answered by timestamp, then step.
		batch("acc", [3]any{1, 300, 1.0}, [3]any{2, 100, 2.0}, [3]any{3, 200, 3.0}, [3]any{3, 200, 2.5}, [3]any{0, 300, 4.0})
		want = "2:2 3:2.5 3:3 0:4 1:1 "
		if got, _ := c.history(id, "acc", 0); steps(got) != want {
			t.Fatalf("chronological order: %s, want %s", steps(got), want)
		}
		if got, pages := c.history(id, "acc", 2); steps(got) != want || pages != 3 {
			t.Fatalf("chronological order by pages of 2: %s in %d pages", steps(got), pages)
		}
		// MLflow's own page tokens are offsets.
		var out struct {
			Metrics       []metric `json:"metrics"`
			NextPageToken string   `json:"next_page_token"`
		}
		tok := base64.StdEncoding.EncodeToString([]byte(`{"offset": 6}`))
		c.ok("GET", "/metrics/get-history?run_id="+id+"&metric_key=loss&max_results=10&page_token="+url.QueryEscape(tok), nil, &out)
		if steps(out.Metrics) != `6:1.5 7:"NaN" ` || out.NextPageToken != "" {
			t.Fatalf("offset token: %+v", out)
		}
		if got, _ := c.history(id, "nothing", 0); len(got) != 0 {
			t.Fatalf("unknown key: %v", got)
		}
		c.fails("GET", "/metrics/get-history?run_id="+id+"&metric_key=loss&max_results=0", nil, 400, "INVALID_PARAMETER_VALUE")
		c.fails("GET", "/metrics/get-history?run_id="+id+"&metric_key=loss&page_token=@@", nil, 400, "INVALID_PARAMETER_VALUE")
		c.fails("GET", "/metrics/get-history?run_id="+id, nil, 400, "INVALID_PARAMETER_VALUE")
		c.fails("GET", "/metrics/get-history?run_id=nope&metric_key=loss", nil, 404, "RESOURCE_DOES_NOT_EXIST")
	})
}

func TestMetricHistoryBulkInterval(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		c := adminClient(t, s)
		exp := c.createExperiment("bulk")
		r1, r2 := c.createRun(exp).Info.RunID, c.createRun(exp).Info.RunID
		for _, id := range []string{r1, r2} {
			ms := make([]map[string]any, 10)
			for i := range ms {
				ms[i] = map[string]any{"key": "m", "step": i, "timestamp": 1000 + i, "value": float64(i) * 1.5}
			}
			c.ok("POST", "/runs/log-batch", map[string]any{"run_id": id, "metrics": ms}, nil)
		}
		get := func(query string) []metric {
			t.Helper()
			var out struct {
				Metrics []metric `json:"metrics"`
			}
			c.ok("GET", "/metrics/get-history-bulk-interval?metric_key=m&"+query, nil, &out)
			return out.Metrics
		}
		stepsOf := func(ms []metric) string {
			s := ""
			for _, m := range ms {
				s += fmt.Sprintf("%s/%d ", m.RunID[:4], m.Step)
			}
			return s
		}
		// The values MLflow 3.17.2 answers for the same points.
		a, b := r1[:4], r2[:4]
		for query, want := range map[string]string{
			"run_ids=" + r1 + "&max_results=3":                         a + "/0 " + a + "/4 " + a + "/9 ",
			"run_ids=" + r1 + "&max_results=1":                         a + "/9 ",
			"run_ids=" + r1 + "&max_results=4&start_step=2&end_step=8": a + "/2 " + a + "/4 " + a + "/6 " + a + "/8 ",
			"run_ids=" + r2 + "&run_ids=" + r1 + "&max_results=2":      b + "/0 " + b + "/9 " + a + "/0 " + a + "/9 ",
			"run_ids=" + r1 + "&start_step=8&end_step=100":             a + "/8 " + a + "/9 ",
		} {
			if got := stepsOf(get(query)); got != want {
				t.Errorf("%s: %s, want %s", query, got, want)
			}
		}
		if m := get("run_ids=" + r1 + "&max_results=1")[0]; m.Key != "m" || string(m.Value) != "13.5" || m.Timestamp != 1009 || m.RunID != r1 {
			t.Fatalf("sampled point: %+v", m)
		}
		c.fails("GET", "/metrics/get-history-bulk-interval?metric_key=m", nil, 400, "INVALID_PARAMETER_VALUE")
		c.fails("GET", "/metrics/get-history-bulk-interval?run_ids="+r1, nil, 400, "INVALID_PARAMETER_VALUE")
		c.fails("GET", "/metrics/get-history-bulk-interval?metric_key=m&run_ids="+r1+"&max_results=2501", nil, 400, "INVALID_PARAMETER_VALUE")
		c.fails("GET", "/metrics/get-history-bulk-interval?metric_key=m&run_ids="+r1+"&start_step=3", nil, 400, "INVALID_PARAMETER_VALUE")
		c.fails("GET", "/metrics/get-history-bulk-interval?metric_key=m&run_ids="+r1+"&start_step=3&end_step=2", nil, 400, "INVALID_PARAMETER_VALUE")
		c.fails("GET", "/metrics/get-history-bulk-interval?metric_key=m&run_ids=nope", nil, 404, "RESOURCE_DOES_NOT_EXIST")
		many := "metric_key=m"
		for i := 0; i < 101; i++ {
			many += "&run_ids=" + r1
		}
		c.fails("GET", "/metrics/get-history-bulk-interval?"+many, nil, 400, "INVALID_PARAMETER_VALUE")
	})
}
