package mlflow

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// The JSON of MLflow 3's trace messages (service.proto TraceInfoV3 and
// friends), as the client's protobuf JSON printer writes them: snake_case
// field names, google.protobuf.Timestamp as RFC 3339 text and Duration as
// decimal seconds ("1.500s").

// traceInfo is TraceInfoV3.
type traceInfo struct {
	TraceID           string            `json:"trace_id"`
	ClientRequestID   string            `json:"client_request_id,omitempty"`
	TraceLocation     traceLocation     `json:"trace_location"`
	RequestPreview    string            `json:"request_preview,omitempty"`
	ResponsePreview   string            `json:"response_preview,omitempty"`
	RequestTime       protoTimestamp    `json:"request_time"`
	ExecutionDuration *protoDuration    `json:"execution_duration,omitempty"`
	State             string            `json:"state,omitempty"`
	TraceMetadata     map[string]string `json:"trace_metadata,omitempty"`
	Assessments       json.RawMessage   `json:"assessments,omitempty"`
	Tags              map[string]string `json:"tags,omitempty"`
}

// traceLocation is TraceLocation; arca stores traces in experiments only.
type traceLocation struct {
	Type             string              `json:"type,omitempty"`
	MlflowExperiment *experimentLocation `json:"mlflow_experiment,omitempty"`
}

type experimentLocation struct {
	ExperimentID string `json:"experiment_id"`
}

func experimentTraceLocation(id int64) traceLocation {
	return traceLocation{Type: "MLFLOW_EXPERIMENT", MlflowExperiment: &experimentLocation{ExperimentID: strconv.FormatInt(id, 10)}}
}

// traceMessage is Trace: the info, and spans arca never sends (they are
// the trace's artifact).
type traceMessage struct {
	TraceInfo traceInfo `json:"trace_info"`
}

// protoTimestamp is a google.protobuf.Timestamp in JSON, held as Unix
// milliseconds (MLflow's precision for trace times).
type protoTimestamp int64

// MarshalJSON writes RFC 3339 in UTC with 0 or 3 fractional digits.
func (t protoTimestamp) MarshalJSON() ([]byte, error) {
	tm := time.UnixMilli(int64(t)).UTC()
	layout := "2006-01-02T15:04:05Z"
	if int64(t)%1000 != 0 {
		layout = "2006-01-02T15:04:05.000Z"
	}
	return []byte(`"` + tm.Format(layout) + `"`), nil
}

// UnmarshalJSON reads RFC 3339 text (any offset, up to nanoseconds).
func (t *protoTimestamp) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return invalidParam("a timestamp must be RFC 3339 text, got %s", clipJSON(b))
	}
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return invalidParam("invalid timestamp %q: want RFC 3339", s)
	}
	*t = protoTimestamp(tm.UnixMilli())
	return nil
}

// protoDuration is a google.protobuf.Duration in JSON, held as
// milliseconds.
type protoDuration int64

// MarshalJSON writes decimal seconds with 0 or 3 fractional digits.
func (d protoDuration) MarshalJSON() ([]byte, error) {
	ms := int64(d)
	sign := ""
	if ms < 0 {
		sign, ms = "-", -ms
	}
	s := sign + strconv.FormatInt(ms/1000, 10)
	if ms%1000 != 0 {
		s += "." + strconv.FormatInt(1000+ms%1000, 10)[1:]
	}
	return []byte(`"` + s + `s"`), nil
}

// UnmarshalJSON reads "<seconds>[.<fraction>]s", as protobuf writes it.
func (d *protoDuration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return invalidParam("a duration must be text such as \"1.5s\", got %s", clipJSON(b))
	}
	num, ok := strings.CutSuffix(s, "s")
	f, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || strings.ContainsAny(num, "eEinIN_xXpP") || math.Abs(f) > 315576000000 {
		return invalidParam("invalid duration %q: want seconds such as \"1.5s\"", s)
	}
	*d = protoDuration(math.Round(f * 1000))
	return nil
}

// clipJSON shortens a JSON value for an error message.
func clipJSON(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// Trace states (TraceInfoV3.State).
var traceStates = map[string]bool{"STATE_UNSPECIFIED": true, "OK": true, "ERROR": true, "IN_PROGRESS": true}

// Tags and metadata arca owns.
const (
	traceArtifactLocationTag = "mlflow.artifactLocation"
	traceSpansLocationTag    = "mlflow.trace.spansLocation"
	traceNameTag             = "mlflow.traceName"
)

// Limits of MLflow's tracking store for trace tags.
const (
	maxTraceTagKey   = 250
	maxTraceTagValue = 8000
	maxTraceName     = 4096
	maxTraceLinks    = 100
)
