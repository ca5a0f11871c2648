package mlflow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
)

// api is the tracking API's path below the server.
const api = "/mlflow/api/2.0/mlflow"

// client calls the MLflow API of a test server as one user.
type client struct {
	t    *testing.T
	s    *apptest.Server
	user string // "name:password", "" for anonymous
}

func adminClient(t *testing.T, s *apptest.Server) client { return client{t, s, admin} }

// as returns a client for a new user with the given global role.
func (c client) as(name string, role auth.Role) client {
	c.t.Helper()
	pw := name + "-password-123"
	if _, err := c.s.App.Auth.CreateUser(context.Background(), name, pw, "", role); err != nil {
		c.t.Fatalf("create user %s: %v", name, err)
	}
	return client{c.t, c.s, name + ":" + pw}
}

// do sends a request; body is JSON-encoded unless it is a string.
func (c client) do(method, path string, body any) (int, string) {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	resp, out := c.s.Do(c.t, method, api+path, c.user, r, "Content-Type", "application/json")
	return resp.StatusCode, out
}

// ok sends a request that must succeed and decodes its answer into out
// (when not nil).
func (c client) ok(method, path string, body, out any) {
	c.t.Helper()
	status, resp := c.do(method, path, body)
	if status != 200 {
		c.t.Fatalf("%s %s: %d %s", method, path, status, resp)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(resp), out); err != nil {
			c.t.Fatalf("%s %s: decoding %q: %v", method, path, resp, err)
		}
	}
}

// fails sends a request that must fail with status and MLflow error code.
func (c client) fails(method, path string, body any, status int, code string) string {
	c.t.Helper()
	got, resp := c.do(method, path, body)
	var e struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}
	json.Unmarshal([]byte(resp), &e)
	if got != status || e.ErrorCode != code {
		c.t.Fatalf("%s %s: want %d %s, got %d %s", method, path, status, code, got, resp)
	}
	return e.Message
}

func (c client) createExperiment(name string) string {
	c.t.Helper()
	var out struct {
		ExperimentID string `json:"experiment_id"`
	}
	c.ok("POST", "/experiments/create", map[string]any{"name": name}, &out)
	return out.ExperimentID
}

// run is the part of a Run message tests look at.
type run struct {
	Info struct {
		RunID          string `json:"run_id"`
		RunUUID        string `json:"run_uuid"`
		ExperimentID   string `json:"experiment_id"`
		RunName        string `json:"run_name"`
		UserID         string `json:"user_id"`
		Status         string `json:"status"`
		StartTime      int64  `json:"start_time"`
		EndTime        int64  `json:"end_time"`
		ArtifactURI    string `json:"artifact_uri"`
		LifecycleStage string `json:"lifecycle_stage"`
	} `json:"info"`
	Data struct {
		Metrics []metric `json:"metrics"`
		Params  []kv     `json:"params"`
		Tags    []kv     `json:"tags"`
	} `json:"data"`
	Inputs struct {
		DatasetInputs []struct {
			Tags    []kv              `json:"tags"`
			Dataset map[string]string `json:"dataset"`
		} `json:"dataset_inputs"`
		ModelInputs []struct {
			ModelID string `json:"model_id"`
		} `json:"model_inputs"`
	} `json:"inputs"`
	Outputs *struct {
		ModelOutputs []struct {
			ModelID string `json:"model_id"`
			Step    int64  `json:"step"`
		} `json:"model_outputs"`
	} `json:"outputs"`
}

type kv struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// metric keeps value as raw JSON: "NaN" is a string.
type metric struct {
	Key       string          `json:"key"`
	Value     json.RawMessage `json:"value"`
	Timestamp int64           `json:"timestamp"`
	Step      int64           `json:"step"`
	RunID     string          `json:"run_id"`
	ModelID   string          `json:"model_id"`
}

func (m metric) String() string {
	return fmt.Sprintf("%s=%s@%d/%d", m.Key, m.Value, m.Step, m.Timestamp)
}

func (c client) createRun(experimentID string) run {
	c.t.Helper()
	var out struct{ Run run }
	c.ok("POST", "/runs/create", map[string]any{"experiment_id": experimentID, "start_time": 1000}, &out)
	return out.Run
}

func (c client) getRun(id string) run {
	c.t.Helper()
	var out struct{ Run run }
	c.ok("GET", "/runs/get?run_id="+url.QueryEscape(id), nil, &out)
	return out.Run
}

// tagValue returns a tag's value and whether it is set.
func tagValue(tags []kv, key string) (string, bool) {
	for _, t := range tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return "", false
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
