package mlflow

import (
	"encoding/json"
	"testing"

	"github.com/arcaproject/arca/internal/errs"
)

// FuzzAssessment feeds any bytes to the parsers of CreateAssessment and
// UpdateAssessment bodies: they never panic, refuse with
// INVALID_PARAMETER_VALUE or BAD_REQUEST, and what they accept has one
// value and survives the store's JSON round trip and any update.
func FuzzAssessment(f *testing.F) {
	for _, s := range []string{
		`{"assessment_name": "q", "feedback": {"value": true}, "source": {"source_type": "HUMAN"}}`,
		`{"assessment_name": "e", "expectation": {"serialized_value": {"value": "{}"}}, "create_time": "2026-01-02T03:04:05.678Z"}`,
		`{"feedback": {"value": null, "error": {"error_code": "E"}}, "metadata": {"a": "b"}, "overrides": "a-1", "valid": false}`,
		`{"issue": {"issue_name": "x"}}`, `{"feedback": 1}`, `{"feedback": {}, "expectation": {}}`, `null`, `[]`, `{"create_time": 5}`,
		`{"feedback": {"value": 1}, "create_time": "not a time"}`, `{"assessment_name": 7}`,
	} {
		f.Add([]byte(s), "assessmentName,feedback,metadata")
	}
	f.Fuzz(func(t *testing.T, body []byte, mask string) {
		a, kind, err := parseAssessment(body)
		if err != nil {
			if c := errs.CodeOf(err); c != codeInvalidParameter && c != codeBadRequest {
				t.Fatalf("%q: error code %q: %v", body, c, err)
			}
			return
		}
		n := 0
		for _, raw := range []json.RawMessage{a.Feedback, a.Expectation, a.Issue} {
			if present(raw) {
				n++
			}
		}
		if n != 1 || kind == "" {
			t.Fatalf("%q accepted with %d values, kind %q", body, n, kind)
		}
		stored, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("%q: marshal: %v", body, err)
		}
		var back assessment
		if err := json.Unmarshal(stored, &back); err != nil {
			t.Fatalf("%q: stored %s does not read back: %v", body, stored, err)
		}
		var upd assessment
		json.Unmarshal(body, &upd)
		if out, err := applyUpdate(back, kind, upd, parseUpdateMask(mask)); err == nil {
			if _, err := json.Marshal(out); err != nil {
				t.Fatalf("%q + %q: updated assessment does not marshal: %v", body, mask, err)
			}
		} else if errs.CodeOf(err) != codeInvalidParameter {
			t.Fatalf("%q + %q: update error %v", body, mask, err)
		}
	})
}
