package mlflow_test

import (
	"fmt"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// names lists the "name" fields of a search answer's entries.
func regNames(out map[string]any, key string) []string {
	var names []string
	for _, e := range regList(out, key) {
		names = append(names, e.(map[string]any)["name"].(string))
	}
	return names
}

func TestSearchRegisteredModels(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		a := apptest.Admin
		u := makeRegUsers(t, s)
		for i := 0; i < 7; i++ {
			regCreateModel(t, s, a, fmt.Sprintf("model-%d", i))
		}
		regOK(t, s, a, "POST", "/registered-models/set-tag", map[string]any{"name": "model-3", "key": "team", "value": "risk"})
		regCreateVersion(t, s, a, "model-3", "s3://b/3")

		out := regOK(t, s, a, "GET", "/registered-models/search", nil)
		if got := regNames(out, "registered_models"); len(got) != 7 || got[0] != "model-0" || got[6] != "model-6" {
			t.Fatalf("all models by name: %v", got)
		}
		if _, ok := out["next_page_token"]; ok {
			t.Fatalf("one page only: %v", out)
		}
		m3 := regList(out, "registered_models")[3].(map[string]any)
		if len(regList(m3, "latest_versions")) != 1 || len(regList(m3, "tags")) != 1 {
			t.Fatalf("search answers whole models: %v", m3)
		}
		out = regOK(t, s, a, "GET", "/registered-models/search", map[string]any{"filter": "tags.team = 'risk'"})
		if got := regNames(out, "registered_models"); len(got) != 1 || got[0] != "model-3" {
			t.Fatalf("filter by tag: %v", got)
		}
		out = regOK(t, s, a, "GET", "/registered-models/search", map[string]any{"filter": "name LIKE 'model-%'", "order_by": []string{"name DESC"}, "max_results": 3})
		if got := regNames(out, "registered_models"); len(got) != 3 || got[0] != "model-6" {
			t.Fatalf("order by name DESC, 3 per page: %v", got)
		}
		// Paging through everything, 3 at a time.
		var all []string
		token := ""
		for pages := 0; ; pages++ {
			body := map[string]any{"max_results": 3}
			if token != "" {
				body["page_token"] = token
			}
			out = regOK(t, s, a, "GET", "/registered-models/search", body)
			all = append(all, regNames(out, "registered_models")...)
			token, _ = out["next_page_token"].(string)
			if token == "" || pages > 5 {
				break
			}
		}
		if len(all) != 7 || all[6] != "model-6" {
			t.Fatalf("paged: %v", all)
		}
		regFails(t, s, a, "GET", "/registered-models/search", map[string]any{"filter": "name = "}, 400, codeInvalid)
		regFails(t, s, a, "GET", "/registered-models/search", map[string]any{"max_results": 1001}, 400, codeInvalid)
		regFails(t, s, a, "GET", "/registered-models/search", map[string]any{"max_results": 0}, 400, codeInvalid)
		regFails(t, s, a, "GET", "/registered-models/search", map[string]any{"page_token": "not a token"}, 400, codeInvalid)
		regFails(t, s, a, "GET", "/registered-models/search", map[string]any{"order_by": []string{"colour"}}, 400, codeInvalid)

		// Only models the caller may read are found, and pages are refilled.
		const rmp = "/registered-models/permissions/"
		for _, n := range []string{"model-0", "model-1", "model-2", "model-4"} {
			regOK(t, s, a, "POST", rmp+"create", map[string]any{"name": n, "username": "dave", "permission": "NO_PERMISSIONS"})
		}
		regOK(t, s, a, "POST", rmp+"create", map[string]any{"name": "model-5", "username": "nora", "permission": "READ"})
		out = regOK(t, s, u.Developer, "GET", "/registered-models/search", map[string]any{"max_results": 2})
		if got := regNames(out, "registered_models"); len(got) != 2 || got[0] != "model-3" || got[1] != "model-5" {
			t.Fatalf("dave's first page: %v", got)
		}
		token, _ = out["next_page_token"].(string)
		if token == "" {
			t.Fatalf("dave has another page: %v", out)
		}
		out = regOK(t, s, u.Developer, "GET", "/registered-models/search", map[string]any{"max_results": 2, "page_token": token})
		if got := regNames(out, "registered_models"); len(got) != 1 || got[0] != "model-6" || out["next_page_token"] != nil {
			t.Fatalf("dave's second page: %v", out)
		}
		if got := regNames(regOK(t, s, u.Outsider, "GET", "/registered-models/search", nil), "registered_models"); len(got) != 1 || got[0] != "model-5" {
			t.Fatalf("a user without a role finds what they were granted: %v", got)
		}
		if got := regNames(regOK(t, s, u.Reader, "GET", "/registered-models/search", nil), "registered_models"); len(got) != 7 {
			t.Fatalf("a reader finds everything: %v", got)
		}
		regFails(t, s, "", "GET", "/registered-models/search", nil, 401, codeUnauth)
	})
}

func TestSearchModelVersions(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		a := apptest.Admin
		u := makeRegUsers(t, s)
		const runID = "abcdefabcdefabcdefabcdefabcdef12"
		regFixtureRun(t, s, 0, runID)
		for _, n := range []string{"a", "b"} {
			regCreateModel(t, s, a, n)
			for i := 0; i < 3; i++ {
				regCreateVersion(t, s, a, n, "s3://b/"+n)
			}
		}
		regOK(t, s, a, "POST", "/model-versions/create", map[string]any{"name": "b", "source": "s3://b/run", "run_id": runID})
		regOK(t, s, a, "POST", "/registered-models/alias", map[string]any{"name": "a", "alias": "champion", "version": "2"})
		regOK(t, s, a, "DELETE", "/model-versions/delete", map[string]any{"name": "a", "version": "3"})

		versions := func(out map[string]any) []string {
			var vs []string
			for _, e := range regList(out, "model_versions") {
				mv := e.(map[string]any)
				vs = append(vs, mv["name"].(string)+"/"+mv["version"].(string))
			}
			return vs
		}
		out := regOK(t, s, a, "GET", "/model-versions/search", map[string]any{"filter": "name = 'a'"})
		if got := versions(out); len(got) != 2 {
			t.Fatalf("a's versions without the deleted one: %v", got)
		}
		for _, e := range regList(out, "model_versions") {
			if mv := e.(map[string]any); mv["version"] == "2" && len(regList(mv, "aliases")) != 1 {
				t.Fatalf("found versions carry their aliases: %v", mv)
			}
		}
		out = regOK(t, s, a, "GET", "/model-versions/search", map[string]any{"filter": "run_id = '" + runID + "'"})
		if got := versions(out); len(got) != 1 || got[0] != "b/4" {
			t.Fatalf("by run_id: %v", got)
		}
		out = regOK(t, s, a, "GET", "/model-versions/search", map[string]any{"order_by": []string{"name ASC", "version_number ASC"}, "max_results": 4})
		if got := versions(out); len(got) != 4 || got[0] != "a/1" || got[1] != "a/2" || got[2] != "b/1" {
			t.Fatalf("ordered page: %v", got)
		}
		token, _ := out["next_page_token"].(string)
		out = regOK(t, s, a, "GET", "/model-versions/search", map[string]any{"order_by": []string{"name ASC", "version_number ASC"}, "max_results": 4, "page_token": token})
		if got := versions(out); len(got) != 2 || got[0] != "b/3" || got[1] != "b/4" {
			t.Fatalf("second page: %v", got)
		}
		regFails(t, s, a, "GET", "/model-versions/search", map[string]any{"filter": "bogus = 1"}, 400, codeInvalid)
		regFails(t, s, a, "GET", "/model-versions/search", map[string]any{"max_results": 200_001}, 400, codeInvalid)

		// Versions of models the caller may not read are left out.
		regOK(t, s, a, "POST", "/registered-models/permissions/create", map[string]any{"name": "b", "username": "dave", "permission": "NO_PERMISSIONS"})
		if got := versions(regOK(t, s, u.Developer, "GET", "/model-versions/search", nil)); len(got) != 2 || got[0][0] != 'a' || got[1][0] != 'a' {
			t.Fatalf("dave sees a's versions only: %v", got)
		}
		if got := versions(regOK(t, s, u.Outsider, "GET", "/model-versions/search", nil)); len(got) != 0 {
			t.Fatalf("nora sees nothing: %v", got)
		}
	})
}
