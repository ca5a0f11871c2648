// Package search parses MLflow's search grammars — filter strings
// (`metrics.acc > 0.9 AND params.lr = '0.1'`), order_by clauses and page
// tokens — and compiles them to SQL over arca's mlflow_* tables (see
// internal/meta/migrations/*/00006_mlflow.sql). The SQL is the same for
// SQLite and PostgreSQL ($N placeholders). Errors are errs.Invalid with
// MLflow's code INVALID_PARAMETER_VALUE and a message saying what is wrong
// and where.
package search

import "github.com/arcaproject/arca/internal/errs"

// Query is one SQL statement and its arguments.
type Query struct {
	SQL  string
	Args []any
}

// View types of runs and experiments searches.
const (
	ActiveOnly  = "ACTIVE_ONLY" // the default
	DeletedOnly = "DELETED_ONLY"
	All         = "ALL"
)

// RunsRequest is a search_runs call.
type RunsRequest struct {
	ExperimentIDs []int64
	ViewType      string // ActiveOnly when ""
	Filter        string
	OrderBy       []string
	Offset, Limit int
}

// Runs compiles a runs search to a query that selects mlflow_runs.id of
// one page, in order (default: start_time DESC, run_uuid).
func Runs(req RunsRequest) (Query, error) { return Query{}, unimplemented() }

// ExperimentsRequest is a search_experiments call.
type ExperimentsRequest struct {
	ViewType      string
	Filter        string
	OrderBy       []string
	Offset, Limit int
}

// Experiments compiles an experiments search to a query that selects
// mlflow_experiments.id of one page, in order (default: last_update_time
// DESC, id).
func Experiments(req ExperimentsRequest) (Query, error) { return Query{}, unimplemented() }

// RegisteredModelsRequest is a search_registered_models call.
type RegisteredModelsRequest struct {
	Filter        string
	OrderBy       []string
	Offset, Limit int
}

// RegisteredModels compiles a registered models search to a query that
// selects mlflow_registered_models.id of one page, in order (default:
// name).
func RegisteredModels(req RegisteredModelsRequest) (Query, error) { return Query{}, unimplemented() }

// ModelVersionsRequest is a search_model_versions call.
type ModelVersionsRequest struct {
	Filter        string
	OrderBy       []string
	Offset, Limit int
}

// ModelVersions compiles a model versions search to a query that selects
// (mlflow_model_versions.model_id, version) of one page, in order
// (default: name, version DESC). Deleted versions are never found.
func ModelVersions(req ModelVersionsRequest) (Query, error) { return Query{}, unimplemented() }

// LoggedModelOrder is one order_by entry of search_logged_models.
type LoggedModelOrder struct {
	FieldName     string // e.g. creation_timestamp, name, metrics.<key>
	Ascending     bool
	DatasetName   string
	DatasetDigest string
}

// LoggedModelDataset restricts metric filters and orders to one dataset.
type LoggedModelDataset struct {
	DatasetName   string
	DatasetDigest string
}

// LoggedModelsRequest is a search_logged_models call.
type LoggedModelsRequest struct {
	ExperimentIDs []int64
	Filter        string
	Datasets      []LoggedModelDataset
	OrderBy       []LoggedModelOrder
	Offset, Limit int
}

// LoggedModels compiles a logged models search to a query that selects
// mlflow_logged_models.id of one page, in order (default:
// creation_timestamp DESC, id). Deleted models are never found.
func LoggedModels(req LoggedModelsRequest) (Query, error) { return Query{}, unimplemented() }

// TracesRequest is a search_traces call.
type TracesRequest struct {
	ExperimentIDs []int64
	Filter        string
	OrderBy       []string
	Offset, Limit int
}

// Traces compiles a traces search to a query that selects
// mlflow_traces.trace_id of one page, in order (default: request_time
// DESC, trace_id).
func Traces(req TracesRequest) (Query, error) { return Query{}, unimplemented() }

// EncodePageToken returns the page token of the page that starts at
// offset.
func EncodePageToken(offset int) string { return "" }

// DecodePageToken reads a page token; "" is offset 0.
func DecodePageToken(token string) (offset int, err error) { return 0, unimplemented() }

func unimplemented() error { return errs.E(errs.Unsupported, "search is not implemented yet") }
