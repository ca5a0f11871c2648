package mlflow

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"sort"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/meta"
)

// What runs use and produce: datasets and logged models as inputs
// (log-inputs), logged models as outputs (outputs), and the run's model
// history tag (log-model).

// datasetIn, inputTagIn and datasetInputIn are log-inputs' dataset
// inputs as clients send them (required fields are pointers).
type datasetIn struct {
	Name       *string `json:"name"`
	Digest     *string `json:"digest"`
	SourceType *string `json:"source_type"`
	Source     *string `json:"source"`
	Schema     string  `json:"schema"`
	Profile    string  `json:"profile"`
}

type inputTagIn struct {
	Key   *string `json:"key"`
	Value *string `json:"value"`
}

type datasetInputIn struct {
	Tags    []inputTagIn `json:"tags"`
	Dataset *datasetIn   `json:"dataset"`
}

// logInputs: POST runs/log-inputs records the datasets (and logged
// models) a run used. A dataset is stored once per experiment (by name
// and digest); an input already recorded keeps its tags.
func (h *Handler) logInputs(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID    string           `json:"run_id"`
		Datasets []datasetInputIn `json:"datasets"`
		Models   []ModelInput     `json:"models"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := required("run_id", req.RunID); err != nil {
		return err
	}
	if !validRunID(req.RunID) {
		return invalidParam("invalid value %q for parameter 'run_id'", req.RunID)
	}
	models := make([]string, 0, len(req.Models))
	for _, m := range req.Models {
		if m.ModelID != "" {
			models = append(models, m.ModelID)
		}
	}
	ctx := r.Context()
	run, err := h.writableRun(ctx, req.RunID, "", models)
	if err != nil {
		return err
	}
	for i := range req.Datasets {
		if err := validateDatasetInput("datasets["+itoa(int64(i))+"]", &req.Datasets[i]); err != nil {
			return err
		}
	}
	inputs := dedupeDatasetInputs(req.Datasets)
	err = h.logTx(ctx, run, func(tx *sql.Tx) error {
		if err := writeDatasetInputs(ctx, h.tx(tx), run, inputs); err != nil {
			return err
		}
		if len(models) == 0 {
			return nil
		}
		return h.tx(tx).insertRows(ctx, `INSERT INTO mlflow_run_models (run_id, model_id, direction, step) VALUES`,
			`ON CONFLICT DO NOTHING`, 4, len(models), func(i int, args []any) []any {
				return append(args, run.ID, models[i], directionInput, 0)
			})
	})
	if err != nil {
		return err
	}
	if len(inputs) > 0 || len(models) > 0 {
		h.auditRunLineage(r, "mlflow.run.log_inputs", run)
	}
	return reply(w, nil)
}

// auditRunLineage records what a run used or produced (lineage reads the
// rows when it hears of it).
func (h *Handler) auditRunLineage(r *http.Request, action string, run *runRow) {
	h.audit.Record(r.Context(), audit.Event{Action: action, Repository: h.space, Subject: run.UUID, RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"experiment_id": itoa(run.ExperimentID)}})
}

// dedupeDatasetInputs keeps the first input of each (name, digest).
func dedupeDatasetInputs(in []datasetInputIn) []datasetInputIn {
	seen := make(map[[2]string]bool, len(in))
	out := in[:0:0]
	for _, d := range in {
		k := [2]string{*d.Dataset.Name, *d.Dataset.Digest}
		if !seen[k] {
			seen[k] = true
			out = append(out, d)
		}
	}
	return out
}

// writeDatasetInputs stores datasets in the run's experiment (an existing
// one is reused as it is) and links them to the run.
func writeDatasetInputs(ctx context.Context, tx dbq, run *runRow, inputs []datasetInputIn) error {
	if len(inputs) == 0 {
		return nil
	}
	err := tx.insertRows(ctx, `INSERT INTO mlflow_datasets (experiment_id, name, digest, source_type, source, schema, profile) VALUES`,
		`ON CONFLICT (experiment_id, name, digest) DO NOTHING`, 7, len(inputs), func(i int, args []any) []any {
			d := inputs[i].Dataset
			return append(args, run.ExperimentID, *d.Name, *d.Digest, *d.SourceType, *d.Source, d.Schema, d.Profile)
		})
	if err != nil {
		return err
	}
	names := make([]any, 0, len(inputs)+1)
	names = append(names, run.ExperimentID)
	for _, in := range inputs {
		names = append(names, *in.Dataset.Name)
	}
	ids := make(map[[2]string]int64, len(inputs))
	err = eachRow(ctx, tx, `SELECT id, name, digest FROM mlflow_datasets WHERE experiment_id = $1 AND name IN (`+tx.inList(2, len(inputs))+`)`,
		names, func(rs *sql.Rows) error {
			var id int64
			var name, digest string
			err := rs.Scan(&id, &name, &digest)
			ids[[2]string{name, digest}] = id
			return err
		})
	if err != nil {
		return err
	}
	return tx.insertRows(ctx, `INSERT INTO mlflow_run_inputs (run_id, dataset_id, context, tags) VALUES`,
		`ON CONFLICT DO NOTHING`, 4, len(inputs), func(i int, args []any) []any {
			in := inputs[i]
			tags := make([]InputTag, 0, len(in.Tags))
			context := ""
			for _, t := range in.Tags {
				tags = append(tags, InputTag{Key: *t.Key, Value: *t.Value})
				if *t.Key == tagDatasetContext {
					context = *t.Value
				}
			}
			b, _ := json.Marshal(tags)
			return append(args, run.ID, ids[[2]string{*in.Dataset.Name, *in.Dataset.Digest}], context, string(b))
		})
}

// logOutputs: POST runs/outputs records the logged models a run produced.
func (h *Handler) logOutputs(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID  string        `json:"run_id"`
		Models []ModelOutput `json:"models"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	if err := required("run_id", req.RunID); err != nil {
		return err
	}
	if req.Models == nil {
		return invalidParam("missing value for required parameter 'models'")
	}
	models := make([]string, 0, len(req.Models))
	for _, m := range req.Models {
		if m.ModelID != "" {
			models = append(models, m.ModelID)
		}
	}
	run, err := h.writableRun(ctx, req.RunID, "", models)
	if err != nil {
		return err
	}
	err = h.logTx(ctx, run, func(tx *sql.Tx) error {
		if len(req.Models) == 0 {
			return nil
		}
		return h.tx(tx).insertRows(ctx, `INSERT INTO mlflow_run_models (run_id, model_id, direction, step) VALUES`,
			`ON CONFLICT DO NOTHING`, 4, len(req.Models), func(i int, args []any) []any {
				return append(args, run.ID, req.Models[i].ModelID, directionOutput, int64(req.Models[i].Step))
			})
	})
	if err != nil {
		return err
	}
	if len(req.Models) > 0 {
		h.auditRunLineage(r, "mlflow.run.log_outputs", run)
	}
	return reply(w, nil)
}

// logModel: POST runs/log-model appends a model's summary (run_id,
// artifact_path, utc_time_created, model_uuid and flavors without their
// config) to the run's mlflow.log-model.history tag, a JSON list.
func (h *Handler) logModel(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID     string `json:"run_id"`
		ModelJSON string `json:"model_json"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	run, err := h.writableRun(ctx, req.RunID, "", nil)
	if err != nil {
		return err
	}
	if err := required("model_json", req.ModelJSON); err != nil {
		return err
	}
	summary, err := modelSummary(req.ModelJSON)
	if err != nil {
		return err
	}
	err = h.logTx(ctx, run, func(tx *sql.Tx) error {
		var history []json.RawMessage
		var old string
		err := tx.QueryRowContext(ctx, `SELECT value FROM mlflow_run_tags WHERE run_id = $1 AND key = $2`, run.ID, tagLoggedModels).Scan(&old)
		switch {
		case err == sql.ErrNoRows:
		case err != nil:
			return meta.Err(err)
		default:
			if json.Unmarshal([]byte(old), &history) != nil {
				history = nil
			}
		}
		b, _ := json.Marshal(append(history, summary))
		value, err := validateTag("", tagLoggedModels, string(b))
		if err != nil {
			return err
		}
		return insertRunTags(ctx, h.tx(tx), run.ID, []RunTag{{Key: tagLoggedModels, Value: value}})
	})
	if err != nil {
		return err
	}
	return reply(w, nil)
}

// modelSummary reads an MLmodel document (as JSON) and returns what the
// run's model history keeps of it.
func modelSummary(modelJSON string) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(modelJSON), &m); err != nil {
		return nil, invalidParam("malformed model info: model_json is not a valid JSON object")
	}
	var missing []string
	for _, f := range []string{"artifact_path", "flavors", "utc_time_created", "run_id"} {
		if _, ok := m[f]; !ok {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, invalidParam("model json is missing mandatory fields: %v", missing)
	}
	out := map[string]any{}
	for _, k := range []string{"run_id", "artifact_path", "utc_time_created", "model_uuid"} {
		if v, ok := m[k]; ok && !(k != "model_uuid" && string(v) == "null") {
			out[k] = v
		}
	}
	var flavors map[string]json.RawMessage
	if err := json.Unmarshal(m["flavors"], &flavors); err != nil {
		return nil, invalidParam("malformed model info: flavors must be an object")
	}
	trimmed := make(map[string]any, len(flavors))
	for name, conf := range flavors {
		var fields map[string]json.RawMessage
		if json.Unmarshal(conf, &fields) == nil && fields != nil {
			delete(fields, "config")
			trimmed[name] = fields
		} else {
			trimmed[name] = conf
		}
	}
	out["flavors"] = trimmed
	b, err := json.Marshal(out)
	return b, err
}
