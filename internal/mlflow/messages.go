package mlflow

import (
	"bytes"
	"strconv"
)

// JSON messages of MLflow's service.proto that the tracking endpoints
// answer with. Field names are the proto's (snake_case); a field MLflow
// leaves unset is omitted, so clients read the proto default.

// Experiment is mlflow.Experiment.
type Experiment struct {
	ExperimentID     string          `json:"experiment_id"`
	Name             string          `json:"name"`
	ArtifactLocation string          `json:"artifact_location"`
	LifecycleStage   string          `json:"lifecycle_stage"`
	LastUpdateTime   Int64           `json:"last_update_time,omitempty"`
	CreationTime     Int64           `json:"creation_time,omitempty"`
	Tags             []ExperimentTag `json:"tags,omitempty"`
}

// ExperimentTag is mlflow.ExperimentTag.
type ExperimentTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Run is mlflow.Run. Outputs is nil where MLflow sends none (create-run).
type Run struct {
	Info    RunInfo     `json:"info"`
	Data    RunData     `json:"data"`
	Inputs  RunInputs   `json:"inputs"`
	Outputs *RunOutputs `json:"outputs,omitempty"`
}

// RunInfo is mlflow.RunInfo. run_uuid repeats run_id for old clients.
type RunInfo struct {
	RunUUID        string `json:"run_uuid"`
	ExperimentID   string `json:"experiment_id"`
	RunName        string `json:"run_name"`
	UserID         string `json:"user_id"`
	Status         string `json:"status"`
	StartTime      Int64  `json:"start_time"`
	EndTime        Int64  `json:"end_time,omitempty"`
	ArtifactURI    string `json:"artifact_uri,omitempty"`
	LifecycleStage string `json:"lifecycle_stage"`
	RunID          string `json:"run_id"`
}

// RunData is mlflow.RunData: the latest value of each metric, params and
// tags.
type RunData struct {
	Metrics []Metric `json:"metrics,omitempty"`
	Params  []Param  `json:"params,omitempty"`
	Tags    []RunTag `json:"tags,omitempty"`
}

// Metric is mlflow.Metric (and MetricWithRunId, which adds run_id). Key,
// value, timestamp and step are always present, as MLflow sets them.
type Metric struct {
	Key           string `json:"key"`
	Value         Float  `json:"value"`
	Timestamp     Int64  `json:"timestamp"`
	Step          Int64  `json:"step"`
	DatasetName   string `json:"dataset_name,omitempty"`
	DatasetDigest string `json:"dataset_digest,omitempty"`
	ModelID       string `json:"model_id,omitempty"`
	RunID         string `json:"run_id,omitempty"`
}

// Param is mlflow.Param.
type Param struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// RunTag is mlflow.RunTag.
type RunTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Dataset is mlflow.Dataset.
type Dataset struct {
	Name       string `json:"name"`
	Digest     string `json:"digest"`
	SourceType string `json:"source_type"`
	Source     string `json:"source"`
	Schema     string `json:"schema,omitempty"`
	Profile    string `json:"profile,omitempty"`
}

// DatasetInput is mlflow.DatasetInput: a dataset a run used, with the
// input's tags (e.g. mlflow.data.context).
type DatasetInput struct {
	Tags    []InputTag `json:"tags,omitempty"`
	Dataset Dataset    `json:"dataset"`
}

// InputTag is mlflow.InputTag.
type InputTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ModelInput is mlflow.ModelInput: a logged model a run used.
type ModelInput struct {
	ModelID string `json:"model_id"`
}

// ModelOutput is mlflow.ModelOutput: a logged model a run produced, at a
// step.
type ModelOutput struct {
	ModelID string `json:"model_id"`
	Step    Int64  `json:"step"`
}

// RunInputs is mlflow.RunInputs.
type RunInputs struct {
	DatasetInputs []DatasetInput `json:"dataset_inputs,omitempty"`
	ModelInputs   []ModelInput   `json:"model_inputs,omitempty"`
}

// RunOutputs is mlflow.RunOutputs.
type RunOutputs struct {
	ModelOutputs []ModelOutput `json:"model_outputs,omitempty"`
}

// LoggedModel is mlflow.LoggedModel (MLflow 3).
type LoggedModel struct {
	Info LoggedModelInfo `json:"info"`
	Data LoggedModelData `json:"data"`
}

// LoggedModelInfo is mlflow.LoggedModelInfo.
type LoggedModelInfo struct {
	ModelID                string           `json:"model_id"`
	ExperimentID           string           `json:"experiment_id"`
	Name                   string           `json:"name"`
	CreationTimestampMs    Int64            `json:"creation_timestamp_ms,omitempty"`
	LastUpdatedTimestampMs Int64            `json:"last_updated_timestamp_ms,omitempty"`
	ArtifactURI            string           `json:"artifact_uri"`
	Status                 string           `json:"status"`
	ModelType              string           `json:"model_type,omitempty"`
	SourceRunID            string           `json:"source_run_id,omitempty"`
	StatusMessage          string           `json:"status_message,omitempty"`
	Tags                   []LoggedModelTag `json:"tags,omitempty"`
}

// LoggedModelData is mlflow.LoggedModelData: params, and every metric
// point logged for the model.
type LoggedModelData struct {
	Params  []LoggedModelParameter `json:"params,omitempty"`
	Metrics []Metric               `json:"metrics,omitempty"`
}

// LoggedModelTag is mlflow.LoggedModelTag.
type LoggedModelTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// LoggedModelParameter is mlflow.LoggedModelParameter.
type LoggedModelParameter struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Lifecycle stages of experiments, runs and logged models.
const (
	stageActive  = "active"
	stageDeleted = "deleted"
)

// enumNames are the values of one protobuf enum, by number.
type enumNames map[int64]string

var (
	runStatuses = enumNames{1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
	viewTypes   = enumNames{1: "ACTIVE_ONLY", 2: "DELETED_ONLY", 3: "ALL"}
	modelStates = enumNames{0: "LOGGED_MODEL_STATUS_UNSPECIFIED", 1: "LOGGED_MODEL_PENDING",
		2: "LOGGED_MODEL_READY", 3: "LOGGED_MODEL_UPLOAD_FAILED"}
)

// parse reads an enum as protobuf's JSON does: its name or its number
// (possibly quoted, as query strings carry it). It returns the name.
func (e enumNames) parse(field string, b []byte) (string, error) {
	s := string(bytes.Trim(b, `"`))
	for _, n := range e {
		if n == s {
			return n, nil
		}
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n, ok := e[v]; ok {
			return n, nil
		}
	}
	return "", invalidParam("invalid value %s for enum field '%s'", string(b), field)
}

// RunStatus is mlflow.RunStatus, held by name.
type RunStatus string

func (s *RunStatus) UnmarshalJSON(b []byte) error {
	n, err := runStatuses.parse("status", b)
	*s = RunStatus(n)
	return err
}

// ViewType is mlflow.ViewType, held by name; "" is the default
// (ACTIVE_ONLY).
type ViewType string

func (v *ViewType) UnmarshalJSON(b []byte) error {
	n, err := viewTypes.parse("view_type", b)
	*v = ViewType(n)
	return err
}

// ModelStatus is mlflow.LoggedModelStatus, held by name.
type ModelStatus string

func (s *ModelStatus) UnmarshalJSON(b []byte) error {
	n, err := modelStates.parse("status", b)
	*s = ModelStatus(n)
	return err
}
