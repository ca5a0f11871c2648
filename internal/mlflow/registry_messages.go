package mlflow

import (
	"strconv"
	"strings"
)

// Model registry messages as MLflow's JSON carries them
// (model_registry.proto): snake_case names, int64 timestamps as numbers,
// version numbers as strings, empty repeated fields left out.

// RegisteredModel is a registered model with its tags, aliases and the
// latest version of each stage.
type RegisteredModel struct {
	Name                 string                 `json:"name"`
	CreationTimestamp    Int64                  `json:"creation_timestamp"`
	LastUpdatedTimestamp Int64                  `json:"last_updated_timestamp"`
	UserID               string                 `json:"user_id,omitempty"`
	Description          string                 `json:"description,omitempty"`
	LatestVersions       []*ModelVersion        `json:"latest_versions,omitempty"`
	Tags                 []RegisteredModelTag   `json:"tags,omitempty"`
	Aliases              []RegisteredModelAlias `json:"aliases,omitempty"`
}

// ModelVersion is one version of a registered model. MLflow always sends
// description, run_id and run_link, empty or not.
type ModelVersion struct {
	Name                 string            `json:"name"`
	Version              string            `json:"version"`
	CreationTimestamp    Int64             `json:"creation_timestamp"`
	LastUpdatedTimestamp Int64             `json:"last_updated_timestamp"`
	UserID               string            `json:"user_id,omitempty"`
	CurrentStage         string            `json:"current_stage"`
	Description          string            `json:"description"`
	Source               string            `json:"source"`
	RunID                string            `json:"run_id"`
	Status               string            `json:"status"`
	StatusMessage        string            `json:"status_message,omitempty"`
	Tags                 []ModelVersionTag `json:"tags,omitempty"`
	RunLink              string            `json:"run_link"`
	Aliases              []string          `json:"aliases,omitempty"`
	ModelID              string            `json:"model_id,omitempty"`
}

// RegisteredModelTag is a tag of a registered model.
type RegisteredModelTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ModelVersionTag is a tag of a model version.
type ModelVersionTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// RegisteredModelAlias names a version of a registered model.
type RegisteredModelAlias struct {
	Alias   string `json:"alias"`
	Version string `json:"version"`
}

// idText is a version number or experiment id as the client sends it:
// protobuf says string ("3"), but a number (3) is accepted too.
type idText string

// UnmarshalJSON accepts "3", 3 and null.
func (v *idText) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	switch {
	case s == "null":
		return nil
	case strings.HasPrefix(s, `"`):
		u, err := strconv.Unquote(s)
		if err != nil {
			return badRequest("malformed version %s", s)
		}
		*v = idText(u)
	default:
		*v = idText(s)
	}
	return nil
}

// tagParam is a key/value pair of a create request.
type tagParam struct {
	Key   *string `json:"key"`
	Value *string `json:"value"`
}

// Model version stages, in their canonical spelling.
const (
	stageNone       = "None"
	stageStaging    = "Staging"
	stageProduction = "Production"
	stageArchived   = "Archived"
)

// stageList names the stages in MLflow's order, for messages.
const stageList = "None, Staging, Production, Archived"

// versionReady is the status of every version arca stores: registration is
// synchronous.
const versionReady = "READY"
