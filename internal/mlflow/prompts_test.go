package mlflow_test

import (
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// promptTags are the tags MLflow's client sends with a prompt (version).
func promptTags(extra ...map[string]any) []map[string]any {
	tags := []map[string]any{{"key": "mlflow.prompt.is_prompt", "value": "true"}}
	return append(tags, extra...)
}

// TestPromptRegistry drives the calls mlflow.genai.register_prompt,
// load_prompt, set_prompt_alias, search_prompts and delete_prompt make:
// prompts are registered models with the prompt tags.
func TestPromptRegistry(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		u := makeRegUsers(t, s)
		regOK(t, s, u.Developer, "POST", "/registered-models/create", map[string]any{
			"name": "greet", "description": "first", "tags": promptTags(map[string]any{"key": "_mlflow_prompt_type", "value": "text"})})
		for i, text := range []string{"Hello {{name}}", "Hi {{name}}!"} {
			mv := regObj(t, regOK(t, s, u.Developer, "POST", "/model-versions/create", map[string]any{
				"name": "greet", "source": "dummy-source", "description": "v",
				"tags": promptTags(map[string]any{"key": "mlflow.prompt.text", "value": text})}), "model_version")
			if mv["version"] != []string{"1", "2"}[i] || mv["source"] != "dummy-source" || mv["status"] != "READY" {
				t.Fatalf("prompt version %d: %v", i+1, mv)
			}
		}
		// load_prompt("prompts:/greet/1") and ("prompts:/greet@prod").
		mv := regObj(t, regOK(t, s, u.Reader, "GET", "/model-versions/get", map[string]any{"name": "greet", "version": "1"}), "model_version")
		if !hasTag(mv, "mlflow.prompt.text", "Hello {{name}}") {
			t.Fatalf("version 1: %v", mv)
		}
		regOK(t, s, u.Developer, "POST", "/registered-models/alias", map[string]any{"name": "greet", "alias": "prod", "version": "2"})
		mv = regObj(t, regOK(t, s, u.Reader, "GET", "/registered-models/alias", map[string]any{"name": "greet", "alias": "prod"}), "model_version")
		if !hasTag(mv, "mlflow.prompt.text", "Hi {{name}}!") {
			t.Fatalf("version by alias: %v", mv)
		}

		// A prompt source must be a placeholder; a prompt is no model
		// version source.
		out := regFails(t, s, u.Developer, "POST", "/model-versions/create", map[string]any{
			"name": "greet", "source": "s3://bucket/x", "tags": promptTags()}, 400, "INVALID_PARAMETER_VALUE")
		if msg := out["message"].(string); msg != "Invalid prompt source: 's3://bucket/x'. Prompt sources must use an MLflow placeholder." {
			t.Fatalf("message %q", msg)
		}
		regCreateModel(t, s, u.Developer, "model")
		regFails(t, s, u.Developer, "POST", "/model-versions/create", map[string]any{"name": "model", "source": "models:/greet/1"}, 400, "INVALID_PARAMETER_VALUE")
		// Without the prompt tag the placeholder is an ordinary (local,
		// refused) source.
		regFails(t, s, u.Developer, "POST", "/model-versions/create", map[string]any{"name": "model", "source": "dummy-source"}, 400, "INVALID_PARAMETER_VALUE")

		// search_prompts asks for the tag; plain searches leave prompts out.
		names := func(out map[string]any, list, field string) []string {
			var n []string
			for _, m := range regList(out, list) {
				n = append(n, m.(map[string]any)[field].(string))
			}
			return n
		}
		if got := names(regOK(t, s, u.Reader, "GET", "/registered-models/search", map[string]any{"filter": "tags.`mlflow.prompt.is_prompt` = 'true'"}), "registered_models", "name"); len(got) != 1 || got[0] != "greet" {
			t.Fatalf("search prompts: %v", got)
		}
		if got := names(regOK(t, s, u.Reader, "GET", "/registered-models/search", nil), "registered_models", "name"); len(got) != 1 || got[0] != "model" {
			t.Fatalf("search models: %v", got)
		}
		if got := names(regOK(t, s, u.Reader, "GET", "/model-versions/search", map[string]any{"filter": "name = 'greet' AND tag.`mlflow.prompt.is_prompt` = 'true'"}), "model_versions", "version"); len(got) != 2 {
			t.Fatalf("search prompt versions: %v", got)
		}

		// Prompts follow registered-model permissions.
		regFails(t, s, u.Reader, "POST", "/model-versions/create", map[string]any{
			"name": "greet", "source": "dummy-source", "tags": promptTags()}, 403, "PERMISSION_DENIED")
		regFails(t, s, u.Outsider, "GET", "/model-versions/get", map[string]any{"name": "greet", "version": "1"}, 403, "PERMISSION_DENIED")
		regFails(t, s, u.Reader, "DELETE", "/registered-models/delete", map[string]any{"name": "greet"}, 403, "PERMISSION_DENIED")

		// Tags, then delete_prompt_alias, delete_prompt_version and
		// delete_prompt (the creator manages it).
		regOK(t, s, u.Developer, "POST", "/registered-models/set-tag", map[string]any{"name": "greet", "key": "team", "value": "a"})
		regOK(t, s, u.Developer, "DELETE", "/registered-models/alias", map[string]any{"name": "greet", "alias": "prod"})
		regOK(t, s, u.Developer, "DELETE", "/model-versions/delete", map[string]any{"name": "greet", "version": "1"})
		regOK(t, s, u.Developer, "DELETE", "/registered-models/delete", map[string]any{"name": "greet"})
		regFails(t, s, u.Reader, "GET", "/registered-models/get", map[string]any{"name": "greet"}, 404, "RESOURCE_DOES_NOT_EXIST")
	})
}

// hasTag reports whether a decoded message has tag key=value.
func hasTag(msg map[string]any, key, value string) bool {
	for _, t := range regList(msg, "tags") {
		if m, _ := t.(map[string]any); m["key"] == key && m["value"] == value {
			return true
		}
	}
	return false
}
