package mlflow_test

import (
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

const (
	codeInvalid  = "INVALID_PARAMETER_VALUE"
	codeExists   = "RESOURCE_ALREADY_EXISTS"
	codeNotFound = "RESOURCE_DOES_NOT_EXIST"
	codeDenied   = "PERMISSION_DENIED"
	codeUnauth   = "UNAUTHENTICATED"
)

func TestRegisteredModels(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		a := apptest.Admin
		out := regOK(t, s, a, "POST", "/registered-models/create", map[string]any{
			"name": "fraud", "description": "catches fraud",
			"tags": []map[string]string{{"key": "team", "value": "risk"}, {"key": "tier", "value": "1"}, {"key": "team", "value": "ml"}},
		})
		rm := regObj(t, out, "registered_model")
		if rm["name"] != "fraud" || rm["description"] != "catches fraud" || rm["user_id"] != "admin" {
			t.Fatalf("created: %v", rm)
		}
		created, _ := rm["creation_timestamp"].(float64)
		if created < 1.7e12 || rm["last_updated_timestamp"] != rm["creation_timestamp"] {
			t.Fatalf("timestamps in ms: %v", rm)
		}
		tags := regList(rm, "tags")
		if len(tags) != 2 || tags[0].(map[string]any)["value"] != "ml" || tags[1].(map[string]any)["key"] != "tier" {
			t.Fatalf("tags (last value of a key wins, sorted): %v", tags)
		}
		if _, ok := rm["latest_versions"]; ok {
			t.Fatalf("no versions yet, no latest_versions: %v", rm)
		}

		// Duplicates and bad names.
		regFails(t, s, a, "POST", "/registered-models/create", map[string]any{"name": "fraud"}, 400, codeExists)
		for _, bad := range []string{"a/b", "a:b", ".", "..x", "   "} {
			regFails(t, s, a, "POST", "/registered-models/create", map[string]any{"name": bad}, 400, codeInvalid)
		}
		e := regFails(t, s, a, "POST", "/registered-models/create", map[string]any{}, 400, codeInvalid)
		if !strings.Contains(e["message"].(string), "'name'") {
			t.Fatalf("missing name message: %v", e)
		}
		regFails(t, s, a, "POST", "/registered-models/create", map[string]any{"name": "t", "tags": []map[string]string{{"key": "../x", "value": "v"}}}, 400, codeInvalid)
		regFails(t, s, a, "POST", "/registered-models/create", map[string]any{"name": "t", "tags": []map[string]string{{"key": strings.Repeat("k", 251), "value": "v"}}}, 400, codeInvalid)
		if n := regCount(t, s, `SELECT COUNT(*) FROM mlflow_registered_models WHERE name = 't'`); n != 0 {
			t.Fatalf("a rejected create wrote a model")
		}
		regOK(t, s, a, "POST", "/registered-models/create", map[string]any{"name": "unicode é 模型 x.y-z_1"})

		// Get.
		got := regObj(t, regOK(t, s, a, "GET", "/registered-models/get", map[string]any{"name": "fraud"}), "registered_model")
		if got["name"] != "fraud" || len(regList(got, "tags")) != 2 {
			t.Fatalf("get: %v", got)
		}
		e = regFails(t, s, a, "GET", "/registered-models/get", map[string]any{"name": "nope"}, 404, codeNotFound)
		if e["message"] != "Registered Model with name=nope not found" {
			t.Fatalf("not found message: %v", e)
		}
		regFails(t, s, a, "GET", "/registered-models/get", nil, 400, codeInvalid)

		// Update: the description is replaced, and cleared when left out.
		up := regObj(t, regOK(t, s, a, "PATCH", "/registered-models/update", map[string]any{"name": "fraud", "description": "v2"}), "registered_model")
		if up["description"] != "v2" {
			t.Fatalf("update: %v", up)
		}
		up = regObj(t, regOK(t, s, a, "PATCH", "/registered-models/update", map[string]any{"name": "fraud"}), "registered_model")
		if _, ok := up["description"]; ok {
			t.Fatalf("description left out clears it: %v", up)
		}
		regFails(t, s, a, "PATCH", "/registered-models/update", map[string]any{"name": "nope", "description": "x"}, 404, codeNotFound)

		// Tags.
		regOK(t, s, a, "POST", "/registered-models/set-tag", map[string]any{"name": "fraud", "key": "tier", "value": "2"})
		regOK(t, s, a, "POST", "/registered-models/set-tag", map[string]any{"name": "fraud", "key": "new key/x", "value": ""})
		regFails(t, s, a, "POST", "/registered-models/set-tag", map[string]any{"name": "fraud", "key": "a//b", "value": "x"}, 400, codeInvalid)
		regFails(t, s, a, "POST", "/registered-models/set-tag", map[string]any{"name": "fraud", "value": "x"}, 400, codeInvalid)
		regFails(t, s, a, "POST", "/registered-models/set-tag", map[string]any{"name": "nope", "key": "k", "value": "x"}, 404, codeNotFound)
		regFails(t, s, a, "POST", "/registered-models/set-tag", map[string]any{"name": "fraud", "key": "big", "value": strings.Repeat("v", 100_001)}, 400, codeInvalid)
		regOK(t, s, a, "DELETE", "/registered-models/delete-tag", map[string]any{"name": "fraud", "key": "team"})
		regOK(t, s, a, "DELETE", "/registered-models/delete-tag", map[string]any{"name": "fraud", "key": "never-set"})
		regFails(t, s, a, "DELETE", "/registered-models/delete-tag", map[string]any{"name": "nope", "key": "k"}, 404, codeNotFound)
		got = regObj(t, regOK(t, s, a, "GET", "/registered-models/get", map[string]any{"name": "fraud"}), "registered_model")
		tags = regList(got, "tags")
		if len(tags) != 2 || tags[0].(map[string]any)["key"] != "new key/x" || tags[1].(map[string]any)["value"] != "2" {
			t.Fatalf("tags after set and delete: %v", tags)
		}

		// Rename keeps versions, tags and aliases.
		regCreateVersion(t, s, a, "fraud", "s3://bucket/fraud/1")
		regOK(t, s, a, "POST", "/registered-models/alias", map[string]any{"name": "fraud", "alias": "champion", "version": "1"})
		regCreateModel(t, s, a, "other")
		regFails(t, s, a, "POST", "/registered-models/rename", map[string]any{"name": "fraud", "new_name": "other"}, 400, codeExists)
		regFails(t, s, a, "POST", "/registered-models/rename", map[string]any{"name": "fraud", "new_name": "a/b"}, 400, codeInvalid)
		regFails(t, s, a, "POST", "/registered-models/rename", map[string]any{"name": "fraud"}, 400, codeInvalid)
		regFails(t, s, a, "POST", "/registered-models/rename", map[string]any{"name": "nope", "new_name": "x"}, 404, codeNotFound)
		ren := regObj(t, regOK(t, s, a, "POST", "/registered-models/rename", map[string]any{"name": "fraud", "new_name": "fraud-v2"}), "registered_model")
		if ren["name"] != "fraud-v2" || len(regList(ren, "latest_versions")) != 1 || len(regList(ren, "aliases")) != 1 || len(regList(ren, "tags")) != 2 {
			t.Fatalf("renamed: %v", ren)
		}
		if regList(ren, "latest_versions")[0].(map[string]any)["name"] != "fraud-v2" {
			t.Fatalf("versions follow the rename: %v", ren)
		}
		regFails(t, s, a, "GET", "/registered-models/get", map[string]any{"name": "fraud"}, 404, codeNotFound)
		mv := regObj(t, regOK(t, s, a, "GET", "/registered-models/alias", map[string]any{"name": "fraud-v2", "alias": "champion"}), "model_version")
		if mv["version"] != "1" || mv["name"] != "fraud-v2" {
			t.Fatalf("alias after rename: %v", mv)
		}

		// Delete takes versions, tags, aliases and permissions with it.
		regFails(t, s, a, "DELETE", "/registered-models/delete", map[string]any{"name": "nope"}, 404, codeNotFound)
		regOK(t, s, a, "DELETE", "/registered-models/delete", map[string]any{"name": "fraud-v2"})
		regFails(t, s, a, "GET", "/registered-models/get", map[string]any{"name": "fraud-v2"}, 404, codeNotFound)
		for _, table := range []string{"mlflow_model_versions", "mlflow_model_version_tags", "mlflow_registered_model_tags", "mlflow_model_aliases"} {
			if n := regCount(t, s, `SELECT COUNT(*) FROM `+table+` WHERE model_id NOT IN (SELECT id FROM mlflow_registered_models)`); n != 0 {
				t.Fatalf("%s keeps %d rows of the deleted model", table, n)
			}
		}
		if n := regCount(t, s, `SELECT COUNT(*) FROM mlflow_permissions WHERE resource_kind = 'registered_model' AND resource_id NOT IN (SELECT id FROM mlflow_registered_models)`); n != 0 {
			t.Fatalf("permissions of the deleted model remain: %d", n)
		}
		regCreateModel(t, s, a, "fraud-v2")
		if v := regCreateVersion(t, s, a, "fraud-v2", "s3://bucket/x"); v["version"] != "1" {
			t.Fatalf("a new model of the same name starts at version 1: %v", v)
		}

		// Audit trail.
		for _, action := range []string{"mlflow.registered_model.create", "mlflow.registered_model.rename", "mlflow.registered_model.delete", "mlflow.model_version.create", "mlflow.alias.set"} {
			if n := regCount(t, s, `SELECT COUNT(*) FROM audit_events WHERE action = $1 AND actor = 'admin' AND repository = 'mlflow'`, action); n == 0 {
				t.Errorf("no audit event %s", action)
			}
		}
	})
}

func TestLatestVersions(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		a := apptest.Admin
		regCreateModel(t, s, a, "m")
		for i := 0; i < 5; i++ {
			regCreateVersion(t, s, a, "m", "s3://b/m")
		}
		stage := func(v, st string) {
			regOK(t, s, a, "POST", "/model-versions/transition-stage", map[string]any{"name": "m", "version": v, "stage": st})
		}
		stage("1", "production")
		stage("2", "Staging")
		stage("3", "PRODUCTION")
		stage("4", "archived")
		// None: 5; Staging: 2; Production: 3; Archived: 4.
		latest := func(stages ...string) map[string]string {
			body := map[string]any{"name": "m"}
			if len(stages) > 0 {
				body["stages"] = stages
			}
			out := regOK(t, s, a, "GET", "/registered-models/get-latest-versions", body)
			got := map[string]string{}
			for _, v := range regList(out, "model_versions") {
				mv := v.(map[string]any)
				got[mv["current_stage"].(string)] = mv["version"].(string)
			}
			return got
		}
		if got := latest(); len(got) != 4 || got["None"] != "5" || got["Staging"] != "2" || got["Production"] != "3" || got["Archived"] != "4" {
			t.Fatalf("latest of every stage: %v", got)
		}
		if got := latest("production", "Staging"); len(got) != 2 || got["Production"] != "3" || got["Staging"] != "2" {
			t.Fatalf("latest of two stages: %v", got)
		}
		// POST carries the stages in the body.
		out := regOK(t, s, a, "POST", "/registered-models/get-latest-versions", map[string]any{"name": "m", "stages": []string{"Archived"}})
		if vs := regList(out, "model_versions"); len(vs) != 1 || vs[0].(map[string]any)["version"] != "4" {
			t.Fatalf("POST get-latest-versions: %v", out)
		}
		regFails(t, s, a, "GET", "/registered-models/get-latest-versions", map[string]any{"name": "m", "stages": []string{"Live"}}, 400, codeInvalid)
		regFails(t, s, a, "GET", "/registered-models/get-latest-versions", map[string]any{"name": "nope"}, 404, codeNotFound)
		rm := regObj(t, regOK(t, s, a, "GET", "/registered-models/get", map[string]any{"name": "m"}), "registered_model")
		if len(regList(rm, "latest_versions")) != 4 {
			t.Fatalf("registered model's latest_versions: %v", rm)
		}
		// Deleting the latest of a stage makes the previous one latest.
		stage("1", "Production")
		regOK(t, s, a, "DELETE", "/model-versions/delete", map[string]any{"name": "m", "version": "3"})
		if got := latest("Production"); got["Production"] != "1" {
			t.Fatalf("after deleting version 3: %v", got)
		}
		regOK(t, s, a, "DELETE", "/model-versions/delete", map[string]any{"name": "m", "version": "1"})
		if got := latest("Production"); len(got) != 0 {
			t.Fatalf("no production version left: %v", got)
		}
	})
}
