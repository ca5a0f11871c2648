package mlflow_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
)

func TestSearchRuns(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		c := adminClient(t, s)
		e1, e2 := c.createExperiment("search one"), c.createExperiment("search two")
		var ids []string
		for i := 0; i < 5; i++ {
			var out struct{ Run run }
			c.ok("POST", "/runs/create", map[string]any{"experiment_id": e1, "run_name": fmt.Sprintf("run-%d", i), "start_time": 2000 + i}, &out)
			id := out.Run.Info.RunID
			ids = append(ids, id)
			c.ok("POST", "/runs/log-batch", map[string]any{"run_id": id,
				"metrics": []map[string]any{{"key": "acc", "value": float64(i) / 10, "timestamp": 1}},
				"params":  []kv{{"lr", fmt.Sprint(i % 2)}}, "tags": []kv{{"team", []string{"a", "b"}[i%2]}}}, nil)
		}
		c.ok("POST", "/runs/log-inputs", map[string]any{"run_id": ids[0], "datasets": []any{map[string]any{
			"dataset": map[string]any{"name": "train", "digest": "d", "source_type": "local", "source": "{}"}}}}, nil)
		other := c.createRun(e2).Info.RunID
		c.ok("POST", "/runs/delete", map[string]any{"run_id": ids[4]}, nil)

		search := func(body map[string]any) ([]run, string) {
			t.Helper()
			var out struct {
				Runs          []run  `json:"runs"`
				NextPageToken string `json:"next_page_token"`
			}
			c.ok("POST", "/runs/search", body, &out)
			return out.Runs, out.NextPageToken
		}
		names := func(rs []run) string {
			var n []string
			for _, r := range rs {
				n = append(n, r.Info.RunName)
			}
			return strings.Join(n, ",")
		}
		// Default order: newest start first; deleted runs are left out.
		rs, next := search(map[string]any{"experiment_ids": []string{e1}})
		if names(rs) != "run-3,run-2,run-1,run-0" || next != "" {
			t.Fatalf("default search: %s %q", names(rs), next)
		}
		// Runs come with their data and inputs.
		r0 := rs[3]
		if len(r0.Data.Metrics) != 1 || len(r0.Data.Params) != 1 || len(r0.Data.Tags) != 2 || len(r0.Inputs.DatasetInputs) != 1 || r0.Outputs == nil {
			t.Fatalf("run in a search: %+v", r0)
		}
		for body, want := range map[string]string{
			`{"filter": "metrics.acc > 0.15", "order_by": ["metrics.acc DESC"]}`:                        "run-3,run-2",
			`{"filter": "params.lr = '1' and tags.team = 'b'"}`:                                         "run-3,run-1",
			`{"filter": "attributes.run_name LIKE 'run-%'", "order_by": ["attributes.start_time ASC"]}`: "run-0,run-1,run-2,run-3",
			`{"run_view_type": "DELETED_ONLY"}`:                                                         "run-4",
			`{"run_view_type": "ALL", "filter": "metrics.acc >= 0.3", "order_by": ["start_time"]}`:      "run-3,run-4",
			`{"filter": "datasets.name = 'train'"}`:                                                     "run-0",
		} {
			var b map[string]any
			if err := jsonUnmarshal(body, &b); err != nil {
				t.Fatal(err)
			}
			b["experiment_ids"] = []string{e1}
			if rs, _ := search(b); names(rs) != want {
				t.Errorf("%s: %s, want %s", body, names(rs), want)
			}
		}
		// Pages.
		var all []string
		token := ""
		for pages := 0; ; pages++ {
			body := map[string]any{"experiment_ids": []string{e1, e2}, "max_results": 2, "order_by": []string{"start_time ASC"}}
			if token != "" {
				body["page_token"] = token
			}
			rs, next := search(body)
			all = append(all, names(rs))
			if next == "" {
				break
			}
			token = next
		}
		if strings.Join(all, "|") != c.getRun(other).Info.RunName+",run-0|run-1,run-2|run-3" {
			t.Fatalf("pages: %q", all)
		}
		c.fails("POST", "/runs/search", map[string]any{"experiment_ids": []string{e1}, "filter": "metrics.acc >>> 1"}, 400, "INVALID_PARAMETER_VALUE")
		c.fails("POST", "/runs/search", map[string]any{"experiment_ids": []string{e1}, "max_results": 50001}, 400, "INVALID_PARAMETER_VALUE")
		c.fails("POST", "/runs/search", map[string]any{"experiment_ids": []string{"x"}}, 400, "INVALID_PARAMETER_VALUE")
		c.fails("POST", "/runs/search", map[string]any{"experiment_ids": []string{e1}, "page_token": "???"}, 400, "INVALID_PARAMETER_VALUE")

		// A user finds runs only in experiments the user may read.
		rita := c.as("rita", auth.NoRole)
		var uid int64
		s.App.DB.QueryRowContext(context.Background(), `SELECT id FROM users WHERE name = 'rita'`).Scan(&uid)
		if _, err := s.App.DB.ExecContext(context.Background(), `INSERT INTO mlflow_permissions (resource_kind, resource_id, user_id, permission)
			VALUES ('experiment', $1, $2, 'READ')`, e2, uid); err != nil {
			t.Fatal(err)
		}
		var out struct {
			Runs []run `json:"runs"`
		}
		rita.ok("POST", "/runs/search", map[string]any{"experiment_ids": []string{e1, e2}}, &out)
		if len(out.Runs) != 1 || out.Runs[0].Info.RunID != other {
			t.Fatalf("rita's search: %+v", out.Runs)
		}
		rita.fails("GET", "/runs/get?run_id="+ids[0], nil, 403, "PERMISSION_DENIED")
	})
}

func TestSearchExperiments(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		c := adminClient(t, s)
		var ids []string
		for i := 0; i < 5; i++ {
			ids = append(ids, c.createExperiment(fmt.Sprintf("team-%d", i)))
		}
		c.ok("POST", "/experiments/set-experiment-tag", map[string]any{"experiment_id": ids[1], "key": "owner", "value": "x"}, nil)
		c.ok("POST", "/experiments/delete", map[string]any{"experiment_id": ids[4]}, nil)
		search := func(method, query string, body map[string]any) ([]string, string) {
			t.Helper()
			var out struct {
				Experiments   []experiment `json:"experiments"`
				NextPageToken string       `json:"next_page_token"`
			}
			c.ok(method, "/experiments/search"+query, body, &out)
			var n []string
			for _, e := range out.Experiments {
				n = append(n, e.Name)
			}
			return n, out.NextPageToken
		}
		got, _ := search("POST", "", map[string]any{"max_results": 100, "filter": "name LIKE 'team-%'", "order_by": []string{"name"}})
		if strings.Join(got, ",") != "team-0,team-1,team-2,team-3" {
			t.Fatalf("active: %v", got)
		}
		got, _ = search("GET", "?max_results=100&view_type=DELETED_ONLY", nil)
		if strings.Join(got, ",") != "team-4" {
			t.Fatalf("deleted: %v", got)
		}
		got, _ = search("GET", "?max_results=10&filter="+strings.ReplaceAll("tags.owner = 'x'", " ", "%20"), nil)
		if strings.Join(got, ",") != "team-1" {
			t.Fatalf("by tag: %v", got)
		}
		var all []string
		token := ""
		for {
			body := map[string]any{"max_results": 2, "order_by": []string{"name DESC"}, "view_type": "ALL"}
			if token != "" {
				body["page_token"] = token
			}
			page, next := search("POST", "", body)
			all = append(all, strings.Join(page, ","))
			if next == "" {
				break
			}
			token = next
		}
		if strings.Join(all, "|") != "team-4,team-3|team-2,team-1|team-0,Default" {
			t.Fatalf("pages: %q", all)
		}
		c.fails("GET", "/experiments/search", nil, 400, "INVALID_PARAMETER_VALUE")
		c.fails("POST", "/experiments/search", map[string]any{"max_results": 10, "filter": "nme = 'x'"}, 400, "INVALID_PARAMETER_VALUE")

		// A user with no role finds only what the user may read, and pages
		// stay whole.
		rita := client{t, s, ""}.as("rita", auth.NoRole)
		rita.t = t
		var uid int64
		s.App.DB.QueryRowContext(context.Background(), `SELECT id FROM users WHERE name = 'rita'`).Scan(&uid)
		for _, id := range []string{ids[0], ids[2], ids[3]} {
			s.App.DB.ExecContext(context.Background(), `INSERT INTO mlflow_permissions (resource_kind, resource_id, user_id, permission)
				VALUES ('experiment', $1, $2, 'READ')`, id, uid)
		}
		var pages []string
		token = ""
		for {
			var out struct {
				Experiments   []experiment `json:"experiments"`
				NextPageToken string       `json:"next_page_token"`
			}
			body := map[string]any{"max_results": 2, "order_by": []string{"name"}}
			if token != "" {
				body["page_token"] = token
			}
			rita.ok("POST", "/experiments/search", body, &out)
			var n []string
			for _, e := range out.Experiments {
				n = append(n, e.Name)
			}
			pages = append(pages, strings.Join(n, ","))
			if out.NextPageToken == "" {
				break
			}
			token = out.NextPageToken
		}
		if strings.Join(pages, "|") != "team-0,team-2|team-3" {
			t.Fatalf("rita's pages: %q", pages)
		}
	})
}

func TestSearchLoggedModels(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		c := adminClient(t, s)
		exp := c.createExperiment("models")
		for _, name := range []string{"a", "b", "c"} {
			c.ok("POST", "/logged-models", map[string]any{"experiment_id": exp, "name": name}, nil)
		}
		var out struct {
			Models        []loggedModel `json:"models"`
			NextPageToken string        `json:"next_page_token"`
		}
		c.ok("POST", "/logged-models/search", map[string]any{"experiment_ids": []string{exp}, "max_results": 2,
			"order_by": []map[string]any{{"field_name": "name"}}}, &out)
		if len(out.Models) != 2 || out.Models[0].Info.Name != "a" || out.Models[1].Info.Name != "b" || out.NextPageToken == "" {
			t.Fatalf("first page: %+v", out)
		}
		token := out.NextPageToken
		out.NextPageToken = ""
		c.ok("POST", "/logged-models/search", map[string]any{"experiment_ids": []string{exp}, "max_results": 2,
			"order_by": []map[string]any{{"field_name": "name"}}, "page_token": token}, &out)
		if len(out.Models) != 1 || out.Models[0].Info.Name != "c" || out.NextPageToken != "" {
			t.Fatalf("second page: %+v", out)
		}
		c.ok("POST", "/logged-models/search", map[string]any{"experiment_ids": []string{exp}, "filter": "name = 'b'"}, &out)
		if len(out.Models) != 1 || out.Models[0].Info.Name != "b" {
			t.Fatalf("filtered: %+v", out)
		}
		c.fails("POST", "/logged-models/search", map[string]any{}, 400, "INVALID_PARAMETER_VALUE")
	})
}
