package mlflow

import (
	"math"
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MLflow's limits (mlflow/utils/validation.py), which its server enforces
// and clients rely on: a request over them is INVALID_PARAMETER_VALUE and
// writes nothing. Lengths count characters, not bytes.
const (
	maxMetricsPerBatch          = 1000
	maxParamsTagsPerBatch       = 100
	maxEntitiesPerBatch         = 1000
	maxEntityKeyLength          = 250
	maxParamValueLength         = 6000 // longer values are truncated, as MLflow's server does
	maxTagValueLength           = 8000 // longer values are truncated, as MLflow's server does
	maxExperimentNameLength     = 500
	maxExperimentTagKeyLength   = 250
	maxExperimentTagValueLength = 20000
	maxCustomViews              = 50
	maxArtifactLocationLength   = 2048
	maxDatasetNameLength        = 500
	maxDatasetDigestLength      = 36
	maxDatasetSourceLength      = 65535
	maxDatasetSchemaLength      = 1048575
	maxDatasetProfileLength     = 16777215
	maxInputTagKeyLength        = 255
	maxInputTagValueLength      = 500
	maxSearchResults            = 50000 // search_runs and search_experiments page size
	defaultSearchRunsResults    = 1000
	defaultSearchModelsResults  = 50
	maxHistoryRunIDs            = 100  // get-history-bulk-interval run_ids
	maxHistoryResultsPerRun     = 2500 // get-history-bulk-interval max_results
)

// Reserved tags that the server keeps in sync with run fields.
const (
	tagRunName         = "mlflow.runName"
	tagLoggedModels    = "mlflow.log-model.history"
	tagDatasetContext  = "mlflow.data.context"
	customViewTagStart = "mlflow.customView.view"
)

// required refuses an absent or empty required field.
func required(field, value string) error {
	if value == "" {
		return invalidParam("missing value for required parameter '%s'", field)
	}
	return nil
}

// chars counts characters as MLflow (Python) does.
func chars(s string) int { return utf8.RuneCountInString(s) }

// truncate keeps the first n characters of s.
func truncate(s string, n int) string {
	if chars(s) <= n {
		return s
	}
	i := 0
	for k := range s {
		if i == n {
			return s[:k]
		}
		i++
	}
	return s
}

// validateKeyName checks a metric, param or tag key: letters, digits, and
// _ - . / : and space only, and it must name itself when read as a relative
// path (no "..", no leading "/", no empty or "." segments), because keys
// become file names in some stores.
func validateKeyName(field, name string) error {
	if name == "" {
		return invalidParam("missing value for required parameter '%s': a key name must be given", field)
	}
	for _, r := range name {
		if !(unicode.IsLetter(r) || unicode.IsNumber(r) || strings.ContainsRune("_-./: ", r)) {
			return invalidParam("invalid value %q for parameter '%s': names may only contain letters, digits, underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/)", name, field)
		}
	}
	if clean := path.Clean(name); clean != name || clean == "." || strings.HasPrefix(clean, "..") || strings.HasPrefix(clean, "/") {
		return invalidParam("invalid value %q for parameter '%s': a name must not resolve to another name when read as a path (this one reads as %q)", name, field, path.Clean(name))
	}
	return nil
}

func tooLong(field string, limit int) error {
	return invalidParam("'%s' exceeds the maximum length of %d characters", field, limit)
}

// join names a field inside an element of a repeated field, e.g.
// metrics[3].key.
func join(prefix, field string) string {
	if prefix == "" {
		return field
	}
	return prefix + "." + field
}

// metricIn is a metric point as a client sends it; Value and Timestamp are
// required.
type metricIn struct {
	Key           string `json:"key"`
	Value         *Float `json:"value"`
	Timestamp     *Int64 `json:"timestamp"`
	Step          Int64  `json:"step"`
	ModelID       string `json:"model_id"`
	DatasetName   string `json:"dataset_name"`
	DatasetDigest string `json:"dataset_digest"`
}

// validateMetric checks one metric point; prefix names it in messages
// ("" for log-metric, "metrics[i]" in a batch).
func validateMetric(prefix string, m *metricIn) error {
	if err := validateKeyName(join(prefix, "name"), m.Key); err != nil {
		return err
	}
	if m.Value == nil {
		return invalidParam("missing value for required parameter '%s'", join(prefix, "value"))
	}
	if m.Timestamp == nil {
		return invalidParam("missing value for required parameter '%s'", join(prefix, "timestamp"))
	}
	if *m.Timestamp < 0 {
		return invalidParam("invalid value %d for parameter '%s': metric %q needs a nonnegative timestamp (64-bit integer)", *m.Timestamp, join(prefix, "timestamp"), m.Key)
	}
	if chars(m.Key) > maxEntityKeyLength {
		return tooLong("Metric name", maxEntityKeyLength)
	}
	return nil
}

// validateParam checks a param and returns its value, truncated to
// MLflow's limit.
func validateParam(prefix, key, value string) (string, error) {
	if err := validateKeyName(join(prefix, "key"), key); err != nil {
		return "", err
	}
	if chars(key) > maxEntityKeyLength {
		return "", tooLong("Param key", maxEntityKeyLength)
	}
	return truncate(value, maxParamValueLength), nil
}

// validateTag checks a run tag and returns its value, truncated to
// MLflow's limit.
func validateTag(prefix, key, value string) (string, error) {
	if err := validateKeyName(join(prefix, "key"), key); err != nil {
		return "", err
	}
	if chars(key) > maxEntityKeyLength {
		return "", tooLong(join(prefix, "key"), maxEntityKeyLength)
	}
	return truncate(value, maxTagValueLength), nil
}

// validateExperimentTag checks an experiment tag; experiment tags are
// never truncated.
func validateExperimentTag(key, value string) error {
	if err := validateKeyName("key", key); err != nil {
		return err
	}
	if chars(key) > maxExperimentTagKeyLength {
		return tooLong("key", maxExperimentTagKeyLength)
	}
	if chars(value) > maxExperimentTagValueLength {
		return tooLong("value", maxExperimentTagValueLength)
	}
	return nil
}

func validateExperimentName(name string) error {
	if name == "" {
		return invalidParam("invalid experiment name: '%s'", name)
	}
	if chars(name) > maxExperimentNameLength {
		return tooLong("name", maxExperimentNameLength)
	}
	return nil
}

// validateArtifactLocation checks an experiment's artifact location given
// by its creator.
func validateArtifactLocation(loc string) error {
	if strings.ContainsAny(loc, "#;") {
		return invalidParam("'artifact_location' URL can't include fragments or params")
	}
	if strings.HasPrefix(loc, "runs:") {
		return invalidParam("the artifact location cannot be a runs:/ URI; given: '%s'", loc)
	}
	if chars(loc) > maxArtifactLocationLength {
		return invalidParam("the artifact location cannot be longer than %d characters", maxArtifactLocationLength)
	}
	return nil
}

// validateLoggedModelName checks the name of a logged model; "" means the
// server picks one.
func validateLoggedModelName(name string) error {
	if strings.ContainsAny(name, `/:.%"'`) {
		return invalidParam("invalid model name (%q): a model name cannot contain / : . %% \" or '", name)
	}
	return nil
}

// validateDatasetInput checks one dataset input of log-inputs.
func validateDatasetInput(prefix string, d *datasetInputIn) error {
	ds := d.Dataset
	if ds == nil {
		return invalidParam("%s: a dataset input needs a dataset", prefix)
	}
	for _, f := range []struct {
		name  string
		value *string
		limit int
	}{
		{"name", ds.Name, maxDatasetNameLength},
		{"digest", ds.Digest, maxDatasetDigestLength},
		{"source_type", ds.SourceType, math.MaxInt},
		{"source", ds.Source, maxDatasetSourceLength},
	} {
		if f.value == nil {
			return invalidParam("%s: the dataset's %s is missing", prefix, f.name)
		}
		if chars(*f.value) > f.limit {
			return tooLong(f.name, f.limit)
		}
	}
	if chars(ds.Schema) > maxDatasetSchemaLength {
		return tooLong("schema", maxDatasetSchemaLength)
	}
	if chars(ds.Profile) > maxDatasetProfileLength {
		return tooLong("profile", maxDatasetProfileLength)
	}
	for _, t := range d.Tags {
		if t.Key == nil || t.Value == nil {
			return invalidParam("%s: an input tag needs a key and a value", prefix)
		}
		if chars(*t.Key) > maxInputTagKeyLength {
			return tooLong("key", maxInputTagKeyLength)
		}
		if chars(*t.Value) > maxInputTagValueLength {
			return tooLong("value", maxInputTagValueLength)
		}
	}
	return nil
}

// batchLimit refuses a batch with more than limit entities of one kind.
func batchLimit(what string, limit, n int) error {
	if n > limit {
		return invalidParam("a batch logging request can contain at most %d %s; got %d: split them across several requests", limit, what, n)
	}
	return nil
}

// parseExperimentID reads an experiment id; "" is the Default experiment.
func parseExperimentID(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, invalidParam("invalid experiment ID '%s': an experiment ID must be an integer", s)
	}
	return id, nil
}

// parseExperimentIDs reads a list of experiment ids.
func parseExperimentIDs(ss []string) ([]int64, error) {
	ids := make([]int64, 0, len(ss))
	for _, s := range ss {
		if s == "" {
			return nil, invalidParam("invalid experiment ID '': an experiment ID must be an integer")
		}
		id, err := parseExperimentID(s)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// validRunID reports whether s has the shape of a run id.
func validRunID(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i, r := range s {
		alnum := r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r))
		if !alnum && (i == 0 || (r != '_' && r != '-')) {
			return false
		}
	}
	return true
}

// pageSize checks a search's max_results: absent is def, and it must be
// 1..limit.
func pageSize(v *Int64, def, limit int) (int, error) {
	if v == nil {
		return def, nil
	}
	n := int64(*v)
	if n < 1 {
		return 0, invalidParam("invalid value %d for parameter 'max_results' supplied: it must be a positive integer", n)
	}
	if n > int64(limit) {
		return 0, invalidParam("invalid value %d for parameter 'max_results' supplied: it must be at most %d", n, limit)
	}
	return int(n), nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
