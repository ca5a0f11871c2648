package mlflow

import (
	"context"
	"database/sql"
	"strings"

	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/mlflow/search"
)

// MLflow 3's prompt registry has no endpoints of its own: a prompt is a
// registered model tagged mlflow.prompt.is_prompt=true, and each prompt
// version a model version with the same tag, its template in the tag
// mlflow.prompt.text and a placeholder for a source (the client's
// register_prompt, load_prompt, set_prompt_alias, search_prompts and
// delete_prompt are the registry's calls; mlflow/store/model_registry/
// abstract_store.py). So prompts follow registered-model permissions, and
// what the server adds is MLflow's own rules for them:
//
//   - a prompt version's source must be one of MLflow's placeholders, and
//     names no run or logged model to check (handlers.py
//     _validate_prompt_source);
//   - a prompt version cannot be the source of a model version;
//   - registry searches leave prompts out unless the filter asks for them
//     (search.PromptTag).

// promptSourcePlaceholders are the sources MLflow's senders give prompt
// versions: the client's and the store's.
func isPromptSourcePlaceholder(source string) bool {
	return source == "dummy-source" || source == "prompt-template"
}

// isPromptRequest reports whether a create request's tags make it a
// prompt: the last mlflow.prompt.is_prompt tag is "true" in any case, as
// MLflow reads them.
func isPromptRequest(tags []tagParam) bool {
	v := "false"
	for _, t := range tags {
		if t.Key != nil && *t.Key == search.PromptTag && t.Value != nil {
			v = *t.Value
		}
	}
	return strings.EqualFold(v, "true")
}

// promptOrigin is the origin of a new prompt version: its placeholder
// source, nothing stored, and the run it names kept as given.
func promptOrigin(source string, runID *string) (versionOrigin, error) {
	if !isPromptSourcePlaceholder(source) {
		return versionOrigin{}, invalidParam("Invalid prompt source: '%s'. Prompt sources must use an MLflow placeholder.", source)
	}
	o := versionOrigin{Source: source, StorageLocation: source}
	if runID != nil {
		o.RunID = *runID
	}
	return o, nil
}

// isPromptModel reports whether registered model id is a prompt.
func isPromptModel(ctx context.Context, q meta.Querier, id int64) (bool, error) {
	var v string
	err := q.QueryRowContext(ctx, `SELECT value FROM mlflow_registered_model_tags WHERE model_id = $1 AND key = $2`, id, search.PromptTag).Scan(&v)
	if err == sql.ErrNoRows {
		return false, nil
	}
	if err != nil {
		return false, meta.Err(err)
	}
	return strings.EqualFold(v, "true"), nil
}
