package mlflow_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// Tests of the assessment endpoints, with bodies as MLflow 3.17's
// log_feedback, log_expectation, update_assessment, override_feedback and
// delete_assessment send them.

type asmt struct {
	AssessmentID   string            `json:"assessment_id"`
	AssessmentName string            `json:"assessment_name"`
	TraceID        string            `json:"trace_id"`
	Source         map[string]string `json:"source"`
	CreateTime     string            `json:"create_time"`
	LastUpdateTime string            `json:"last_update_time"`
	Feedback       json.RawMessage   `json:"feedback"`
	Expectation    json.RawMessage   `json:"expectation"`
	Rationale      string            `json:"rationale"`
	Metadata       map[string]string `json:"metadata"`
	Overrides      string            `json:"overrides"`
	Valid          *bool             `json:"valid"`
}

// asmtCall sends an assessment request and decodes {"assessment": ...}.
func asmtCall(t *testing.T, s *apptest.Server, user, method, path, body string, want int) (asmt, string) {
	t.Helper()
	resp, out := s.Do(t, method, trcV3+path, user, strings.NewReader(body), "Content-Type", "application/json")
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, out, want)
	}
	var r struct{ Assessment asmt }
	json.Unmarshal([]byte(out), &r)
	return r.Assessment, out
}

const feedbackBody = `{"assessment": {"assessment_name": "quality", "trace_id": "%s",
	"source": {"source_type": "HUMAN", "source_id": "me"}, "create_time": "2026-01-02T03:04:05.678Z",
	"last_update_time": "2026-01-02T03:04:05.678Z", "feedback": {"value": true}, "rationale": "ok",
	"metadata": {"a": "b"}, "valid": true}}`

func TestTraceAssessments(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		u := makeRegUsers(t, s)
		trcStart(t, s, admin, "tr-a1", "0", "2026-01-02T03:04:05Z", "1s", "OK", nil, nil)
		fb, _ := asmtCall(t, s, u.Developer, "POST", "/tr-a1/assessments", strings.ReplaceAll(feedbackBody, "%s", "tr-a1"), 200)
		if !strings.HasPrefix(fb.AssessmentID, "a-") || fb.TraceID != "tr-a1" || string(fb.Feedback) != `{"value":true}` ||
			fb.CreateTime != "2026-01-02T03:04:05.678Z" || fb.Source["source_id"] != "me" || fb.Valid == nil || !*fb.Valid {
			t.Fatalf("created feedback: %+v", fb)
		}
		ex, _ := asmtCall(t, s, u.Developer, "POST", "/tr-a1/assessments", `{"assessment": {"assessment_name": "expected",
			"trace_id": "tr-a1", "source": {"source_type": "HUMAN", "source_id": "default"},
			"expectation": {"serialized_value": {"serialization_format": "JSON_FORMAT", "value": "{\"x\": [1, 2]}"}}}}`, 200)
		if !strings.Contains(string(ex.Expectation), "JSON_FORMAT") || ex.CreateTime == "" {
			t.Fatalf("created expectation: %+v", ex)
		}

		// Read back alone and inside the trace's info.
		got, _ := asmtCall(t, s, u.Reader, "GET", "/tr-a1/assessments/"+fb.AssessmentID, "", 200)
		if got.AssessmentID != fb.AssessmentID || got.Rationale != "ok" || got.Metadata["a"] != "b" {
			t.Fatalf("get: %+v", got)
		}
		info := trcAssessments(t, s, u.Reader, "tr-a1")
		if len(info) != 2 || info[0].AssessmentID != fb.AssessmentID || info[1].AssessmentID != ex.AssessmentID {
			t.Fatalf("trace info assessments: %+v", info)
		}

		// Update by mask: the name and value change, metadata merges,
		// source and create time stay.
		upd, _ := asmtCall(t, s, u.Developer, "PATCH", "/tr-a1/assessments/"+fb.AssessmentID, `{"assessment": {"assessment_id": "`+fb.AssessmentID+`",
			"trace_id": "tr-a1", "assessment_name": "quality2", "feedback": {"value": 0.5}, "metadata": {"c": "d"}, "rationale": "ignored"},
			"update_mask": "assessmentName,feedback,metadata"}`, 200)
		if upd.AssessmentName != "quality2" || string(upd.Feedback) != `{"value":0.5}` || upd.Rationale != "ok" ||
			upd.Metadata["a"] != "b" || upd.Metadata["c"] != "d" || upd.Source["source_id"] != "me" ||
			upd.CreateTime != fb.CreateTime || upd.LastUpdateTime == fb.LastUpdateTime {
			t.Fatalf("updated: %+v", upd)
		}
		asmtCall(t, s, u.Developer, "PATCH", "/tr-a1/assessments/"+ex.AssessmentID, `{"assessment": {"feedback": {"value": 1}}, "update_mask": "feedback"}`, 400)
		asmtCall(t, s, u.Developer, "PATCH", "/tr-a1/assessments/"+fb.AssessmentID, `{"assessment": {"feedback": {"value": 1}}}`, 400)
		asmtCall(t, s, u.Developer, "PATCH", "/tr-a1/assessments/a-none", `{"assessment": {}, "update_mask": "rationale"}`, 404)

		// Overriding makes the original invalid; deleting the override
		// makes it valid again.
		ov, _ := asmtCall(t, s, u.Developer, "POST", "/tr-a1/assessments", `{"assessment": {"assessment_name": "quality2", "trace_id": "tr-a1",
			"feedback": {"value": false}, "overrides": "`+fb.AssessmentID+`", "valid": true}}`, 200)
		if got, _ := asmtCall(t, s, u.Reader, "GET", "/tr-a1/assessments/"+fb.AssessmentID, "", 200); *got.Valid {
			t.Fatalf("overridden assessment still valid: %+v", got)
		}
		asmtCall(t, s, u.Developer, "POST", "/tr-a1/assessments", `{"assessment": {"assessment_name": "x", "feedback": {"value": 1}, "overrides": "a-none"}}`, 404)
		asmtCall(t, s, u.Developer, "DELETE", "/tr-a1/assessments/"+ov.AssessmentID, "", 200)
		asmtCall(t, s, u.Developer, "DELETE", "/tr-a1/assessments/"+ov.AssessmentID, "", 200) // idempotent
		if got, _ := asmtCall(t, s, u.Reader, "GET", "/tr-a1/assessments/"+fb.AssessmentID, "", 200); !*got.Valid {
			t.Fatalf("restored assessment invalid: %+v", got)
		}
		asmtCall(t, s, u.Reader, "GET", "/tr-a1/assessments/"+ov.AssessmentID, "", 404)

		// Bad bodies, unknown traces.
		for _, body := range []string{`{}`, `{"assessment": {"assessment_name": "x"}}`, `{"assessment": 3}`,
			`{"assessment": {"feedback": {"value": 1}, "expectation": {"value": 1}}}`, `{"assessment": {"feedback": 5}}`} {
			_, out := asmtCall(t, s, u.Developer, "POST", "/tr-a1/assessments", body, 400)
			if !strings.Contains(out, "INVALID_PARAMETER_VALUE") {
				t.Fatalf("%s: %s", body, out)
			}
		}
		asmtCall(t, s, u.Developer, "POST", "/tr-none/assessments", strings.ReplaceAll(feedbackBody, "%s", "tr-none"), 404)

		// Permissions: the trace's experiment's.
		_, out := asmtCall(t, s, u.Reader, "POST", "/tr-a1/assessments", strings.ReplaceAll(feedbackBody, "%s", "tr-a1"), 403)
		if !strings.Contains(out, "PERMISSION_DENIED") {
			t.Fatalf("reader creates: %s", out)
		}
		asmtCall(t, s, u.Reader, "PATCH", "/tr-a1/assessments/"+fb.AssessmentID, `{"assessment": {}, "update_mask": "rationale"}`, 403)
		asmtCall(t, s, u.Reader, "DELETE", "/tr-a1/assessments/"+fb.AssessmentID, "", 403)
		asmtCall(t, s, u.Outsider, "GET", "/tr-a1/assessments/"+fb.AssessmentID, "", 403)
		asmtCall(t, s, "", "GET", "/tr-a1/assessments/"+fb.AssessmentID, "", 401)

		// Deleting the trace deletes its assessments.
		resp, body := s.Do(t, "POST", trcV3+"/delete-traces", admin, strings.NewReader(`{"experiment_id": "0", "request_ids": ["tr-a1"]}`), "Content-Type", "application/json")
		if resp.StatusCode != 200 {
			t.Fatalf("delete trace: %d %s", resp.StatusCode, body)
		}
		if n := regCount(t, s, `SELECT COUNT(*) FROM mlflow_assessments`); n != 0 {
			t.Fatalf("%d assessments left after their trace", n)
		}
	})
}

// trcAssessments returns the assessments of a trace's info.
func trcAssessments(t *testing.T, s *apptest.Server, user, id string) []asmt {
	t.Helper()
	resp, out := s.Do(t, "GET", trcV3+"/"+id, user, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("get trace %s: %d %s", id, resp.StatusCode, out)
	}
	var r struct {
		Trace struct {
			TraceInfo struct {
				Assessments []asmt `json:"assessments"`
			} `json:"trace_info"`
		} `json:"trace"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	return r.Trace.TraceInfo.Assessments
}
