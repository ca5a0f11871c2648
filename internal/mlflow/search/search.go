// Package search parses MLflow's search grammars — filter strings
// (`metrics.acc > 0.9 AND params.lr = '0.1'`), order_by clauses and page
// tokens — and compiles them to SQL over arca's mlflow_* tables (see
// internal/meta/migrations/*/00006_mlflow.sql). The SQL is the same for
// SQLite and PostgreSQL ($N placeholders), except for trace metadata
// (see TracesRequest.Postgres). Errors are errs.Invalid with MLflow's
// code INVALID_PARAMETER_VALUE and a message saying what is wrong and
// where.
//
// One grammar (ParseFilter, ParseOrderBy) serves every entity; each
// entity then checks keys, operators and value types as MLflow's
// SearchUtils, SearchExperimentsUtils, SearchModelUtils,
// SearchModelVersionUtils, SearchLoggedModelsUtils and SearchTraceUtils
// do, and compiles the comparisons to EXISTS subqueries on its key-value
// tables, so that a row matches a key comparison only if it has the key.
//
// String semantics, identical on both engines: = and != compare bytes;
// LIKE is case-sensitive and ILIKE folds ASCII letters; both take '\' as
// the escape character (see sql.go). Numbers compare numerically, NaN
// metric values (stored with is_nan = 1) satisfy only !=.
//
// Each compiler returns the ids of one page (Offset, Limit; a Limit of 0
// or less is no limit). To know whether a next page exists, callers ask
// for Limit+1 rows, as MLflow does, and answer EncodePageToken(Offset +
// Limit) when they get them. search_runs should call RunIDs, which runs
// the query itself and plans it with one cheap probe; the indexes the
// searches rely on are in migration 00010_mlflow_search.sql.
package search

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

// ExperimentsRequest is a search_experiments call.
type ExperimentsRequest struct {
	ViewType      string
	Filter        string
	OrderBy       []string
	Offset, Limit int
}

// RegisteredModelsRequest is a search_registered_models call.
type RegisteredModelsRequest struct {
	Filter        string
	OrderBy       []string
	Offset, Limit int
}

// ModelVersionsRequest is a search_model_versions call.
type ModelVersionsRequest struct {
	Filter        string
	OrderBy       []string
	Offset, Limit int
}

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

// TracesRequest is a search_traces call.
type TracesRequest struct {
	ExperimentIDs []int64
	Filter        string
	OrderBy       []string
	Offset, Limit int

	// Postgres selects PostgreSQL's JSON syntax for metadata.<key>
	// comparisons and order_by: mlflow_traces.trace_metadata is JSON
	// text, read with json_extract on SQLite and CAST(... AS jsonb) ->>
	// on PostgreSQL. Set it to db.Dialect == meta.Postgres; nothing
	// else depends on it.
	Postgres bool
}
