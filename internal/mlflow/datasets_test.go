package mlflow_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// Tests of the evaluation dataset endpoints, with bodies as MLflow
// 3.17's mlflow.genai.datasets sends them.

const dsAPI = "/mlflow/api/3.0/mlflow/datasets"

type evalDS struct {
	DatasetID      string   `json:"dataset_id"`
	Name           string   `json:"name"`
	Tags           string   `json:"tags"`
	Schema         string   `json:"schema"`
	Profile        string   `json:"profile"`
	Digest         string   `json:"digest"`
	CreatedTime    int64    `json:"created_time"`
	LastUpdateTime int64    `json:"last_update_time"`
	CreatedBy      string   `json:"created_by"`
	ExperimentIDs  []string `json:"experiment_ids"`
}

// dsCall sends a request and decodes the answer into out (when not nil).
func dsCall(t *testing.T, s *apptest.Server, user, method, path, body string, want int, out any) string {
	t.Helper()
	resp, text := s.Do(t, method, dsAPI+path, user, strings.NewReader(body), "Content-Type", "application/json")
	if resp.StatusCode != want {
		t.Fatalf("%s %s %s: %d %s, want %d", method, path, body, resp.StatusCode, text, want)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(text), out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, text)
		}
	}
	return text
}

func TestEvaluationDatasets(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		u := makeRegUsers(t, s)
		regFixtureExperiment(t, s, 7, "seven")
		var created struct{ Dataset evalDS }
		dsCall(t, s, u.Developer, "POST", "/create", `{"name": "ds1", "experiment_ids": ["7"], "tags": "{\"team\": \"a\", \"mlflow.user\": \"dave\"}"}`, 200, &created)
		d := created.Dataset
		if !strings.HasPrefix(d.DatasetID, "d-") || d.Name != "ds1" || len(d.Digest) != 8 || d.CreatedBy != "dave" ||
			d.Tags != `{"mlflow.user":"dave","team":"a"}` || len(d.ExperimentIDs) != 1 || d.ExperimentIDs[0] != "7" {
			t.Fatalf("created: %+v", d)
		}

		// Upsert: new inputs insert, the same inputs (any key order) merge.
		var counts struct {
			Inserted int `json:"inserted_count"`
			Updated  int `json:"updated_count"`
		}
		recs, _ := json.Marshal(`[{"inputs": {"q": "1+1?", "n": 1}, "expectations": {"answer": "2"}},
			{"inputs": {"q": "France?"}, "outputs": "Paris", "expectations": {"answer": "Paris"}, "tags": {"mlflow.user": "dave"},
			 "source": {"source_type": "TRACE", "source_data": {"trace_id": "tr-1"}}}]`)
		dsCall(t, s, u.Developer, "POST", "/"+d.DatasetID+"/records", `{"records": `+string(recs)+`}`, 200, &counts)
		if counts.Inserted != 2 || counts.Updated != 0 {
			t.Fatalf("first upsert: %+v", counts)
		}
		recs, _ = json.Marshal(`[{"inputs": {"n": 1, "q": "1+1?"}, "expectations": {"note": "easy"}, "outputs": {"a": 2.5}}]`)
		dsCall(t, s, u.Developer, "POST", "/"+d.DatasetID+"/records", `{"records": `+string(recs)+`}`, 200, &counts)
		if counts.Inserted != 0 || counts.Updated != 1 {
			t.Fatalf("second upsert: %+v", counts)
		}

		// Records, a page at a time (both were inserted at once: the
		// order between them is their ids').
		var page struct {
			Records       string `json:"records"`
			NextPageToken string `json:"next_page_token"`
		}
		dsCall(t, s, u.Reader, "GET", "/"+d.DatasetID+"/records?max_results=1", "", 200, &page)
		var all []map[string]any
		json.Unmarshal([]byte(page.Records), &all)
		if len(all) != 1 || page.NextPageToken == "" {
			t.Fatalf("first page: %s %q", page.Records, page.NextPageToken)
		}
		token := page.NextPageToken
		page.NextPageToken = ""
		dsCall(t, s, u.Reader, "GET", "/"+d.DatasetID+"/records?max_results=1&page_token="+url.QueryEscape(token), "", 200, &page)
		var more []map[string]any
		json.Unmarshal([]byte(page.Records), &more)
		if len(more) != 1 || page.NextPageToken != "" {
			t.Fatalf("second page: %s %q", page.Records, page.NextPageToken)
		}
		all = append(all, more...)
		byQ := map[string]map[string]any{}
		for _, r := range all {
			byQ[r["inputs"].(map[string]any)["q"].(string)] = r
		}
		merged, france := byQ["1+1?"], byQ["France?"]
		if merged == nil || france == nil {
			t.Fatalf("records: %v", all)
		}
		exp := merged["expectations"].(map[string]any)
		if exp["answer"] != "2" || exp["note"] != "easy" || merged["outputs"].(map[string]any)["a"] != 2.5 {
			t.Fatalf("merged record: %v", merged)
		}
		if france["source_id"] != "tr-1" || france["source_type"] != "TRACE" || france["outputs"] != "Paris" || france["created_by"] != "dave" {
			t.Fatalf("record with a source: %v", france)
		}

		// Schema, profile and digest follow the records.
		var got struct{ Dataset evalDS }
		dsCall(t, s, u.Reader, "GET", "/"+d.DatasetID, "", 200, &got)
		if got.Dataset.Profile != `{"num_records": 2}` || got.Dataset.Digest == d.Digest ||
			!strings.Contains(got.Dataset.Schema, `"inputs":{"n":"integer","q":"string"}`) || !strings.Contains(got.Dataset.Schema, `"outputs":"string"`) {
			t.Fatalf("after upserts: %+v", got.Dataset)
		}

		// Tags merge and delete; experiments link and unlink.
		dsCall(t, s, u.Developer, "PATCH", "/"+d.DatasetID+"/tags", `{"tags": "{\"k\": \"v\"}"}`, 200, nil)
		dsCall(t, s, u.Developer, "DELETE", "/"+d.DatasetID+"/tags/team", "", 200, nil)
		dsCall(t, s, u.Reader, "GET", "/"+d.DatasetID, "", 200, &got)
		if got.Dataset.Tags != `{"k":"v","mlflow.user":"dave"}` {
			t.Fatalf("tags: %s", got.Dataset.Tags)
		}
		var ids struct {
			ExperimentIDs []string `json:"experiment_ids"`
		}
		dsCall(t, s, u.Developer, "POST", "/"+d.DatasetID+"/add-experiments", `{"experiment_ids": ["0"]}`, 200, nil)
		dsCall(t, s, u.Reader, "GET", "/"+d.DatasetID+"/experiment-ids", "", 200, &ids)
		if strings.Join(ids.ExperimentIDs, ",") != "0,7" {
			t.Fatalf("experiments: %v", ids.ExperimentIDs)
		}
		dsCall(t, s, u.Developer, "POST", "/"+d.DatasetID+"/remove-experiments", `{"experiment_ids": ["0"]}`, 200, nil)
		dsCall(t, s, u.Developer, "POST", "/"+d.DatasetID+"/add-experiments", `{"experiment_ids": ["999"]}`, 404, nil)

		// Search: by experiment, by filter, and only what the caller reads.
		var found struct {
			Datasets []evalDS `json:"datasets"`
		}
		dsCall(t, s, u.Developer, "POST", "/create", `{"name": "other", "experiment_ids": ["0"]}`, 200, nil)
		dsCall(t, s, u.Reader, "POST", "/search", `{"experiment_ids": ["7"]}`, 200, &found)
		if len(found.Datasets) != 1 || found.Datasets[0].Name != "ds1" {
			t.Fatalf("search in 7: %+v", found)
		}
		dsCall(t, s, u.Reader, "POST", "/search", `{"filter_string": "name LIKE 'o%'", "order_by": ["name ASC"]}`, 200, &found)
		if len(found.Datasets) != 1 || found.Datasets[0].Name != "other" {
			t.Fatalf("search by filter: %+v", found)
		}
		dsCall(t, s, u.Reader, "POST", "/search", `{"filter_string": "nope = 'x'"}`, 400, nil)
		regExec(t, s, `INSERT INTO mlflow_permissions (resource_kind, resource_id, user_id, permission) VALUES ('experiment', 7, $1, 'NO_PERMISSIONS')`, u.IDs["rita"])
		dsCall(t, s, u.Reader, "POST", "/search", `{}`, 200, &found)
		if len(found.Datasets) != 1 || found.Datasets[0].Name != "other" {
			t.Fatalf("search without 7: %+v", found)
		}
		dsCall(t, s, u.Reader, "POST", "/search", `{"experiment_ids": ["7"]}`, 403, nil)
		dsCall(t, s, u.Reader, "GET", "/"+d.DatasetID, "", 403, nil)

		// Permissions follow the experiments.
		dsCall(t, s, u.Outsider, "POST", "/create", `{"name": "x", "experiment_ids": ["0"]}`, 403, nil)
		dsCall(t, s, u.Outsider, "GET", "/"+d.DatasetID+"/records", "", 403, nil)
		dsCall(t, s, "", "GET", "/"+d.DatasetID, "", 401, nil)
		dsCall(t, s, u.Developer, "DELETE", "/"+d.DatasetID, "", 403, nil) // MANAGE needed
		dsCall(t, s, u.Developer, "POST", "/"+d.DatasetID+"/records", `{"records": "[{\"inputs\": 5}]"}`, 400, nil)
		dsCall(t, s, u.Developer, "POST", "/"+d.DatasetID+"/records", `{"records": "not json"}`, 400, nil)

		// Records go; the dataset goes with its records.
		var del struct {
			Deleted int `json:"deleted_count"`
		}
		second0 := france["dataset_record_id"].(string)
		dsCall(t, s, u.Developer, "DELETE", "/"+d.DatasetID+"/records", `{"dataset_record_ids": ["`+second0+`", "dr-none"]}`, 200, &del)
		if del.Deleted != 1 {
			t.Fatalf("deleted %d records", del.Deleted)
		}
		dsCall(t, s, u.Maintainer, "DELETE", "/"+d.DatasetID, "", 200, nil)
		dsCall(t, s, u.Maintainer, "DELETE", "/"+d.DatasetID, "", 200, nil) // gone already: fine, as in MLflow
		dsCall(t, s, u.Maintainer, "GET", "/"+d.DatasetID, "", 404, nil)
		if n := regCount(t, s, `SELECT COUNT(*) FROM mlflow_eval_dataset_records`); n != 0 {
			t.Fatalf("%d records left", n)
		}
	})
}
