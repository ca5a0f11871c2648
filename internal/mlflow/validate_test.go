package mlflow

import (
	"encoding/json"
	"path"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidateKeyName(t *testing.T) {
	for name, ok := range map[string]bool{
		"acc": true, "train/loss": true, "a.b-c_d e:f": true, "ünïcödé": true, "数字": true, "x1": true,
		"": false, "a/../b": false, "../a": false, "/abs": false, "a/": false, "a//b": false, ".": false, "./a": false,
		"a!": false, "tab\t": false, "new\nline": false, "q?": false, "..": false, "a/./b": false,
	} {
		if err := validateKeyName("key", name); (err == nil) != ok {
			t.Errorf("%q: %v, want ok=%v", name, err, ok)
		}
	}
}

func TestTruncate(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{{"abc", 5, "abc"}, {"abcdef", 3, "abc"}, {"ééé", 2, "éé"}, {"", 0, ""}, {"ab", 0, ""}} {
		if got := truncate(c.in, c.n); got != c.want {
			t.Errorf("truncate(%q, %d) = %q", c.in, c.n, got)
		}
	}
}

func TestSample(t *testing.T) {
	pts := func(n int) []histPoint {
		out := make([]histPoint, n)
		for i := range out {
			out[i].step = int64(i)
		}
		return out
	}
	steps := func(ps []histPoint) []int64 {
		var s []int64
		for _, p := range ps {
			s = append(s, p.step)
		}
		return s
	}
	for _, c := range []struct {
		n, max int
		want   string
	}{
		{10, 3, "[0 4 9]"}, {10, 1, "[9]"}, {7, 4, "[0 2 4 6]"}, {3, 5, "[0 1 2]"}, {0, 5, "[]"}, {10, 10, "[0 1 2 3 4 5 6 7 8 9]"},
		{11, 10, "[0 2 3 4 5 6 7 8 9 10]"},
	} {
		if got := steps(sample(pts(c.n), c.max)); jsonString(got) != c.want {
			t.Errorf("sample(%d, %d) = %v, want %s", c.n, c.max, got, c.want)
		}
	}
}

func jsonString(s []int64) string {
	out := "["
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += itoa(v)
	}
	return out + "]"
}

// FuzzLogBatch feeds arbitrary request bodies through log-batch's decoding
// and validation: nothing panics, and what validation lets through keeps
// MLflow's limits.
func FuzzLogBatch(f *testing.F) {
	for _, seed := range []string{
		`{"run_id": "abc", "metrics": [{"key": "m", "value": 1, "timestamp": 2, "step": 3}], "params": [{"key": "p", "value": "v"}], "tags": [{"key": "t", "value": "x"}]}`,
		`{"metrics": [{"key": "m", "value": "NaN", "timestamp": "2"}]}`,
		`{"metrics": [{"key": "../m", "value": 1, "timestamp": 2}]}`,
		`{"params": [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]}`,
		`{"metrics": [{"key": "m", "value": "-Infinity", "timestamp": 1e3, "step": -1}]}`,
		`{"tags": [{"key": "mlflow.runName", "value": "x"}, {"key": "mlflow.runName", "value": "y"}]}`,
		`{"metrics": [{"key": "m", "value": true, "timestamp": null}]}`,
		`[]`, `null`, `{"metrics": {}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var b batchRequest
		if err := json.Unmarshal(body, &b); err != nil {
			jsonError(err)
			return
		}
		params, tags, err := b.validate()
		if err != nil {
			return
		}
		if len(b.Metrics) > maxMetricsPerBatch || len(params) > maxParamsTagsPerBatch || len(tags) > maxParamsTagsPerBatch ||
			len(b.Metrics)+len(params)+len(b.Tags) > maxEntitiesPerBatch {
			t.Fatalf("over the limits: %d metrics, %d params, %d tags", len(b.Metrics), len(params), len(tags))
		}
		seen := map[string]bool{}
		for _, p := range params {
			if validateKeyName("key", p.Key) != nil || chars(p.Value) > maxParamValueLength || seen[p.Key] {
				t.Fatalf("param %q let through", p.Key)
			}
			seen[p.Key] = true
		}
		for _, tg := range tags {
			if validateKeyName("key", tg.Key) != nil || chars(tg.Value) > maxTagValueLength {
				t.Fatalf("tag %q let through", tg.Key)
			}
		}
		for _, p := range pointsOf(b.Metrics) {
			if validateKeyName("key", p.key) != nil || p.ts < 0 || (p.isNaN && p.value != 0) {
				t.Fatalf("point %+v let through", p)
			}
		}
	})
}

// FuzzKeyName checks that accepted keys name themselves as relative paths
// and hold only the allowed characters.
func FuzzKeyName(f *testing.F) {
	for _, s := range []string{"acc", "a/b", "a/../b", "/x", "x/", ". ", "é", "a:b c", "\x00", "..a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if validateKeyName("key", s) != nil {
			return
		}
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 accepted: %q", s)
		}
		if path.Clean(s) != s || strings.HasPrefix(s, "/") || strings.HasPrefix(s, "..") || s == "." {
			t.Fatalf("%q accepted but does not name itself", s)
		}
		if strings.ContainsAny(s, "\\\t\n\r\x00?*!\"'<>|") {
			t.Fatalf("%q accepted with a forbidden character", s)
		}
	})
}

// FuzzHistoryToken checks that page tokens of get-history never panic and
// that positions survive a round trip.
func FuzzHistoryToken(f *testing.F) {
	f.Add(historyToken{Offset: 3}.encode())
	f.Add("eyJvZmZzZXQiOiA0fQ==")
	f.Add("")
	f.Add("not base64!")
	f.Add("eyJvZmZzZXQiOiAxLCAiYWZ0ZXIiOiB7InN0ZXAiOiAxLCAidmFsdWUiOiAwLjV9fQ==")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := decodeHistoryToken(s)
		if err != nil {
			return
		}
		if tok.Offset < 0 {
			t.Fatalf("negative offset from %q", s)
		}
		if tok.After != nil {
			again, err := decodeHistoryToken(tok.encode())
			if err != nil || again.After == nil || *again.After != *tok.After || again.Offset != tok.Offset {
				t.Fatalf("round trip of %q: %+v, %v", s, again, err)
			}
		}
	})
}

// FuzzModelSummary feeds arbitrary model_json to log-model's reader.
func FuzzModelSummary(f *testing.F) {
	f.Add(`{"run_id": "r", "artifact_path": "m", "utc_time_created": "t", "flavors": {"sklearn": {"config": 1, "v": 2}}}`)
	f.Add(`{"run_id": null, "artifact_path": "m", "utc_time_created": "t", "flavors": []}`)
	f.Add(`{"flavors": {"x": 3}, "run_id": 1, "artifact_path": 2, "utc_time_created": 3, "model_uuid": null}`)
	f.Fuzz(func(t *testing.T, s string) {
		out, err := modelSummary(s)
		if err != nil {
			return
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(out, &m) != nil || m["flavors"] == nil {
			t.Fatalf("summary of %q is %s", s, out)
		}
	})
}

// FuzzEnum checks that enums parse only to their names.
func FuzzEnum(f *testing.F) {
	for _, s := range []string{`"RUNNING"`, `3`, `"5"`, `"KILLED"`, `"nope"`, `9`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var st RunStatus
		if st.UnmarshalJSON([]byte(s)) != nil {
			return
		}
		found := false
		for _, n := range runStatuses {
			found = found || string(st) == n
		}
		if !found {
			t.Fatalf("%q parsed to %q", s, st)
		}
	})
}
