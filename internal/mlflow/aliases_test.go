package mlflow_test

import (
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

func TestAliases(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		a := apptest.Admin
		regCreateModel(t, s, a, "m")
		for i := 0; i < 3; i++ {
			regCreateVersion(t, s, a, "m", "s3://b/m")
		}
		set := func(alias string, version any) {
			regOK(t, s, a, "POST", "/registered-models/alias", map[string]any{"name": "m", "alias": alias, "version": version})
		}
		byAlias := func(alias string) map[string]any {
			return regObj(t, regOK(t, s, a, "GET", "/registered-models/alias", map[string]any{"name": "m", "alias": alias}), "model_version")
		}
		set("champion", "1")
		set("challenger", 2)
		set("Prod_2-b", "1")
		mv := byAlias("champion")
		if mv["version"] != "1" {
			t.Fatalf("champion: %v", mv)
		}
		if al := regList(mv, "aliases"); len(al) != 2 || al[0] != "Prod_2-b" || al[1] != "champion" {
			t.Fatalf("a version lists its aliases: %v", mv)
		}
		rm := regObj(t, regOK(t, s, a, "GET", "/registered-models/get", map[string]any{"name": "m"}), "registered_model")
		if al := regList(rm, "aliases"); len(al) != 3 || al[0].(map[string]any)["alias"] != "Prod_2-b" || al[1].(map[string]any)["version"] != "2" {
			t.Fatalf("the model lists its aliases: %v", rm)
		}
		if v := regObj(t, regOK(t, s, a, "GET", "/model-versions/get", map[string]any{"name": "m", "version": "2"}), "model_version"); len(regList(v, "aliases")) != 1 {
			t.Fatalf("get version shows aliases: %v", v)
		}
		// "latest" always means the highest version.
		if mv := byAlias("latest"); mv["version"] != "3" {
			t.Fatalf("latest: %v", mv)
		}
		if mv := byAlias("LATEST"); mv["version"] != "3" {
			t.Fatalf("LATEST: %v", mv)
		}
		// Moving an alias.
		set("champion", "3")
		if mv := byAlias("champion"); mv["version"] != "3" {
			t.Fatalf("moved champion: %v", mv)
		}

		// Bad input.
		for _, bad := range []string{"latest", "Latest", "v3", "V12", "a b", "a/b", "a.b", ""} {
			regFails(t, s, a, "POST", "/registered-models/alias", map[string]any{"name": "m", "alias": bad, "version": "1"}, 400, codeInvalid)
		}
		long := make([]byte, 256)
		for i := range long {
			long[i] = 'a'
		}
		regFails(t, s, a, "POST", "/registered-models/alias", map[string]any{"name": "m", "alias": string(long), "version": "1"}, 400, codeInvalid)
		regOK(t, s, a, "POST", "/registered-models/alias", map[string]any{"name": "m", "alias": string(long[:255]), "version": "1"})
		regOK(t, s, a, "POST", "/registered-models/alias", map[string]any{"name": "m", "alias": "vérsion_ü", "version": "1"})
		regFails(t, s, a, "POST", "/registered-models/alias", map[string]any{"name": "m", "alias": "x", "version": "9"}, 404, codeNotFound)
		regFails(t, s, a, "POST", "/registered-models/alias", map[string]any{"name": "m", "alias": "x", "version": "one"}, 400, codeInvalid)
		regFails(t, s, a, "POST", "/registered-models/alias", map[string]any{"name": "m", "alias": "x"}, 400, codeInvalid)
		regFails(t, s, a, "POST", "/registered-models/alias", map[string]any{"name": "nope", "alias": "x", "version": "1"}, 404, codeNotFound)
		e := regFails(t, s, a, "GET", "/registered-models/alias", map[string]any{"name": "m", "alias": "nope"}, 400, codeInvalid)
		if e["message"] != "Registered model alias nope not found." {
			t.Fatalf("message: %v", e)
		}
		regFails(t, s, a, "GET", "/registered-models/alias", map[string]any{"name": "nope", "alias": "x"}, 404, codeNotFound)
		regFails(t, s, a, "GET", "/registered-models/alias", map[string]any{"name": "m", "alias": "a b"}, 400, codeInvalid)

		// Deleting a version drops its aliases; deleting an alias twice is fine.
		regOK(t, s, a, "DELETE", "/model-versions/delete", map[string]any{"name": "m", "version": "3"})
		regFails(t, s, a, "GET", "/registered-models/alias", map[string]any{"name": "m", "alias": "champion"}, 400, codeInvalid)
		if mv := byAlias("latest"); mv["version"] != "2" {
			t.Fatalf("latest after deleting 3: %v", mv)
		}
		regOK(t, s, a, "DELETE", "/registered-models/alias", map[string]any{"name": "m", "alias": "challenger"})
		regOK(t, s, a, "DELETE", "/registered-models/alias", map[string]any{"name": "m", "alias": "challenger"})
		regFails(t, s, a, "GET", "/registered-models/alias", map[string]any{"name": "m", "alias": "challenger"}, 400, codeInvalid)
		regFails(t, s, a, "DELETE", "/registered-models/alias", map[string]any{"name": "nope", "alias": "x"}, 404, codeNotFound)
		rm = regObj(t, regOK(t, s, a, "GET", "/registered-models/get", map[string]any{"name": "m"}), "registered_model")
		if al := regList(rm, "aliases"); len(al) != 3 {
			t.Fatalf("aliases left (Prod_2-b, the long one, vérsion_ü): %v", al)
		}
		// Deleting every version leaves "latest" with nothing to name.
		regOK(t, s, a, "DELETE", "/model-versions/delete", map[string]any{"name": "m", "version": "1"})
		regOK(t, s, a, "DELETE", "/model-versions/delete", map[string]any{"name": "m", "version": "2"})
		regFails(t, s, a, "GET", "/registered-models/alias", map[string]any{"name": "m", "alias": "latest"}, 404, codeNotFound)
		if n := regCount(t, s, `SELECT COUNT(*) FROM mlflow_model_aliases`); n != 0 {
			t.Fatalf("aliases of deleted versions remain: %d", n)
		}
		for _, action := range []string{"mlflow.alias.set", "mlflow.alias.delete"} {
			if n := regCount(t, s, `SELECT COUNT(*) FROM audit_events WHERE action = $1`, action); n == 0 {
				t.Errorf("no audit event %s", action)
			}
		}
		if n := regCount(t, s, `SELECT COUNT(*) FROM audit_events WHERE action = 'mlflow.alias.delete'`); n != 1 {
			t.Errorf("deleting a missing alias is not audited: %d events", n)
		}
	})
}
