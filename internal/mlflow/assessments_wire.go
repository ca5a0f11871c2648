package mlflow

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"
)

// assessment is MLflow 3's Assessment message (assessments.proto) in the
// JSON the client's protobuf printer writes: feedback, expectation and
// issue are the oneof value, kept as the client sent them (the server
// neither interprets nor reformats values, as MLflow's does not beyond
// storing them).
type assessment struct {
	AssessmentID   string            `json:"assessment_id,omitempty"`
	AssessmentName string            `json:"assessment_name"`
	TraceID        string            `json:"trace_id,omitempty"`
	SpanID         string            `json:"span_id,omitempty"`
	Source         json.RawMessage   `json:"source,omitempty"`
	CreateTime     *protoTimestamp   `json:"create_time,omitempty"`
	LastUpdateTime *protoTimestamp   `json:"last_update_time,omitempty"`
	Feedback       json.RawMessage   `json:"feedback,omitempty"`
	Expectation    json.RawMessage   `json:"expectation,omitempty"`
	Issue          json.RawMessage   `json:"issue,omitempty"`
	Rationale      string            `json:"rationale,omitempty"`
	Error          json.RawMessage   `json:"error,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty"`
	Overrides      string            `json:"overrides,omitempty"`
	Valid          *bool             `json:"valid,omitempty"`
}

// Assessment kinds: which of the oneof value fields is set.
const (
	feedbackKind    = "feedback"
	expectationKind = "expectation"
	issueKind       = "issue"
)

// Limits of what one assessment may carry (MLflow's columns: names of
// 250 characters, ids of 50).
const (
	maxAssessmentName = 250
	maxAssessmentID   = 50
)

// present reports whether a JSON field was given a value other than null.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && !bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// isObject reports whether raw is a JSON object.
func isObject(raw json.RawMessage) bool {
	b := bytes.TrimSpace(raw)
	return len(b) > 0 && b[0] == '{'
}

// parseAssessment reads and checks an Assessment of a create request: it
// has exactly one value (feedback, expectation or issue), each message
// field is an object, and names fit their columns. It returns the
// assessment and its kind. Untrusted input: any bytes.
func parseAssessment(raw json.RawMessage) (assessment, string, error) {
	var a assessment
	if !present(raw) {
		return a, "", invalidParam("Missing value for required parameter 'assessment'.")
	}
	if !isObject(raw) {
		return a, "", invalidParam("Invalid value for parameter 'assessment': want an object")
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return a, "", jsonError(err)
	}
	kind := ""
	for _, v := range []struct {
		name string
		raw  json.RawMessage
	}{{feedbackKind, a.Feedback}, {expectationKind, a.Expectation}, {issueKind, a.Issue}} {
		if !present(v.raw) {
			continue
		}
		if kind != "" {
			return a, "", invalidParam("An assessment has one value: feedback, expectation or issue, not both %s and %s", kind, v.name)
		}
		if !isObject(v.raw) {
			return a, "", invalidParam("Invalid value for parameter '%s': want an object", v.name)
		}
		kind = v.name
	}
	if kind == "" {
		return a, "", invalidParam("Assessment must have either feedback, expectation, or issue value")
	}
	for _, v := range []struct {
		name string
		raw  json.RawMessage
	}{{"source", a.Source}, {"error", a.Error}} {
		if present(v.raw) && !isObject(v.raw) {
			return a, "", invalidParam("Invalid value for parameter '%s': want an object", v.name)
		}
	}
	if len(a.AssessmentName) > maxAssessmentName {
		return a, "", invalidParam("Assessment name is longer than %d characters", maxAssessmentName)
	}
	if len(a.Overrides) > maxAssessmentID {
		return a, "", invalidParam("Invalid value for parameter 'overrides': not an assessment ID")
	}
	return a, kind, nil
}

// parseUpdateMask reads a google.protobuf.FieldMask in JSON: the paths
// in lowerCamelCase joined by commas ("assessmentName,feedback"); it
// returns them in snake_case, as the proto names them.
func parseUpdateMask(s string) []string {
	var paths []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		var b strings.Builder
		for _, r := range p {
			if unicode.IsUpper(r) {
				b.WriteByte('_')
				r = unicode.ToLower(r)
			}
			b.WriteRune(r)
		}
		paths = append(paths, b.String())
	}
	return paths
}

// applyUpdate applies the fields of an UpdateAssessment that its mask
// names to cur, as MLflow's store does: source, span and times other than
// last_update_time never change, metadata merges, and a value may only
// replace one of its own kind.
func applyUpdate(cur assessment, curKind string, upd assessment, mask []string) (assessment, error) {
	has := map[string]bool{}
	for _, p := range mask {
		has[p] = true
	}
	if has["expectation"] && has["feedback"] {
		return cur, invalidParam("Cannot specify both `expectation` and `feedback` parameters.")
	}
	if has["expectation"] && curKind != expectationKind {
		return cur, invalidParam("Cannot update expectation value on a Feedback assessment.")
	}
	if has["feedback"] && curKind != feedbackKind {
		return cur, invalidParam("Cannot update feedback value on an Expectation assessment.")
	}
	if has["assessment_name"] {
		if len(upd.AssessmentName) > maxAssessmentName {
			return cur, invalidParam("Assessment name is longer than %d characters", maxAssessmentName)
		}
		cur.AssessmentName = upd.AssessmentName
	}
	if has["expectation"] {
		if !isObject(upd.Expectation) {
			return cur, invalidParam("Invalid value for parameter 'expectation': want an object")
		}
		cur.Expectation = upd.Expectation
	}
	if has["feedback"] {
		if !isObject(upd.Feedback) {
			return cur, invalidParam("Invalid value for parameter 'feedback': want an object")
		}
		cur.Feedback = upd.Feedback
	}
	if has["rationale"] {
		cur.Rationale = upd.Rationale
	}
	if has["metadata"] && len(upd.Metadata) > 0 {
		merged := make(map[string]string, len(cur.Metadata)+len(upd.Metadata))
		for k, v := range cur.Metadata {
			merged[k] = v
		}
		for k, v := range upd.Metadata {
			merged[k] = v
		}
		cur.Metadata = merged
	}
	return cur, nil
}
