package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/arcaproject/arca/internal/mlflow"
)

// mlflowClient calls an MLflow tracking server's REST API (MLflow 2.x and
// 3.x; arca's own too).
type mlflowClient struct {
	base     string // the tracking URI, without a trailing slash
	user     string
	password string
	token    string
	http     *http.Client
}

// apiError is a source's answer other than 2xx.
type apiError struct {
	Method, Path string
	Status       int
	Code         string // MLflow's error_code, when it sent one
	Message      string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s %s", e.Method, e.Path, e.Status, e.Code, e.Message)
}

func isStatus(err error, status int) bool {
	e, ok := err.(*apiError)
	return ok && e.Status == status
}

// do sends a request and returns the response of a 2xx answer.
func (c *mlflowClient) do(ctx context.Context, method, path string, q url.Values, body any) (*http.Response, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case c.token != "":
		req.Header.Set("Authorization", "Bearer "+c.token)
	case c.user != "":
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	e := &apiError{Method: method, Path: path, Status: resp.StatusCode, Message: strings.TrimSpace(string(b))}
	var m struct {
		Code    string `json:"error_code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &m) == nil && m.Code != "" {
		e.Code, e.Message = m.Code, m.Message
	}
	return nil, e
}

// call sends an API request (GET with q, or POST of body) and decodes the
// answer into out.
func (c *mlflowClient) call(ctx context.Context, method, endpoint string, q url.Values, body, out any) error {
	resp, err := c.do(ctx, method, "/api/2.0/mlflow/"+endpoint, q, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<30)).Decode(out); err != nil {
		return fmt.Errorf("%s %s: %w", method, endpoint, err)
	}
	return nil
}

// pages calls a paged endpoint until it has no next page; page is called
// with each token ("" first) and returns the next.
func pages(ctx context.Context, page func(token string) (string, error)) error {
	token := ""
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		next, err := page(token)
		if err != nil {
			return err
		}
		if next == "" || next == token || i > 1_000_000 {
			return nil
		}
		token = next
	}
}

func (c *mlflowClient) experiments(ctx context.Context) ([]mlflow.Experiment, error) {
	var all []mlflow.Experiment
	err := pages(ctx, func(token string) (string, error) {
		var p struct {
			Experiments []mlflow.Experiment `json:"experiments"`
			Next        string              `json:"next_page_token"`
		}
		body := map[string]any{"max_results": 1000, "view_type": "ALL"}
		if token != "" {
			body["page_token"] = token
		}
		err := c.call(ctx, http.MethodPost, "experiments/search", nil, body, &p)
		all = append(all, p.Experiments...)
		return p.Next, err
	})
	return all, err
}

func (c *mlflowClient) runs(ctx context.Context, experimentID string) ([]mlflow.Run, error) {
	var all []mlflow.Run
	err := pages(ctx, func(token string) (string, error) {
		var p struct {
			Runs []mlflow.Run `json:"runs"`
			Next string       `json:"next_page_token"`
		}
		body := map[string]any{"experiment_ids": []string{experimentID}, "max_results": 1000, "run_view_type": "ALL"}
		if token != "" {
			body["page_token"] = token
		}
		err := c.call(ctx, http.MethodPost, "runs/search", nil, body, &p)
		all = append(all, p.Runs...)
		return p.Next, err
	})
	return all, err
}

// history returns a metric's whole history, page by page.
func (c *mlflowClient) history(ctx context.Context, runID, key string) ([]mlflow.Metric, error) {
	var all []mlflow.Metric
	err := pages(ctx, func(token string) (string, error) {
		var p struct {
			Metrics []mlflow.Metric `json:"metrics"`
			Next    string          `json:"next_page_token"`
		}
		q := url.Values{"run_id": {runID}, "metric_key": {key}, "max_results": {"25000"}}
		if token != "" {
			q.Set("page_token", token)
		}
		err := c.call(ctx, http.MethodGet, "metrics/get-history", q, nil, &p)
		all = append(all, p.Metrics...)
		return p.Next, err
	})
	return all, err
}

// loggedModels returns an experiment's logged models (MLflow 3); a server
// without them (MLflow 2) has none.
func (c *mlflowClient) loggedModels(ctx context.Context, experimentID string) ([]mlflow.LoggedModel, error) {
	var all []mlflow.LoggedModel
	err := pages(ctx, func(token string) (string, error) {
		var p struct {
			Models []mlflow.LoggedModel `json:"models"`
			Next   string               `json:"next_page_token"`
		}
		body := map[string]any{"experiment_ids": []string{experimentID}, "max_results": 100}
		if token != "" {
			body["page_token"] = token
		}
		err := c.call(ctx, http.MethodPost, "logged-models/search", nil, body, &p)
		all = append(all, p.Models...)
		return p.Next, err
	})
	if isStatus(err, http.StatusNotFound) {
		return nil, nil
	}
	return all, err
}

func (c *mlflowClient) registeredModels(ctx context.Context) ([]mlflow.RegisteredModel, error) {
	var all []mlflow.RegisteredModel
	err := pages(ctx, func(token string) (string, error) {
		var p struct {
			Models []mlflow.RegisteredModel `json:"registered_models"`
			Next   string                   `json:"next_page_token"`
		}
		q := url.Values{"max_results": {"1000"}}
		if token != "" {
			q.Set("page_token", token)
		}
		err := c.call(ctx, http.MethodGet, "registered-models/search", q, nil, &p)
		all = append(all, p.Models...)
		return p.Next, err
	})
	return all, err
}

func (c *mlflowClient) modelVersions(ctx context.Context, model string) ([]mlflow.ModelVersion, error) {
	var all []mlflow.ModelVersion
	err := pages(ctx, func(token string) (string, error) {
		var p struct {
			Versions []mlflow.ModelVersion `json:"model_versions"`
			Next     string                `json:"next_page_token"`
		}
		q := url.Values{"filter": {"name='" + strings.ReplaceAll(model, "'", "\\'") + "'"}, "max_results": {"10000"}}
		if token != "" {
			q.Set("page_token", token)
		}
		err := c.call(ctx, http.MethodGet, "model-versions/search", q, nil, &p)
		all = append(all, p.Versions...)
		return p.Next, err
	})
	return all, err
}

// downloadURI is where a version's files are, as the source says.
func (c *mlflowClient) downloadURI(ctx context.Context, model, version string) (string, error) {
	var out struct {
		URI string `json:"artifact_uri"`
	}
	err := c.call(ctx, http.MethodGet, "model-versions/get-download-uri", url.Values{"name": {model}, "version": {version}}, nil, &out)
	return out.URI, err
}

// artifactFile is one file below an artifact root: its path relative to
// the root and its size (-1 when the source does not say).
type artifactFile struct {
	Path string
	Size int64
}

type fileInfo struct {
	Path     string `json:"path"`
	IsDir    bool   `json:"is_dir"`
	FileSize *int64
}

// UnmarshalJSON accepts file_size as a number or a string.
func (f *fileInfo) UnmarshalJSON(b []byte) error {
	var raw struct {
		Path     string          `json:"path"`
		IsDir    bool            `json:"is_dir"`
		FileSize json.RawMessage `json:"file_size"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	f.Path, f.IsDir, f.FileSize = raw.Path, raw.IsDir, nil
	if s := strings.Trim(string(raw.FileSize), `"`); s != "" && s != "null" {
		var n int64
		if _, err := fmt.Sscan(s, &n); err == nil {
			f.FileSize = &n
		}
	}
	return nil
}

// maxArtifactFiles bounds the files of one artifact root.
const maxArtifactFiles = 1_000_000

// proxiedFiles lists the files below key of the source's artifact proxy
// (mlflow server --serve-artifacts), recursively. The proxy answers with
// base names; arca and some versions with paths relative to the root.
func (c *mlflowClient) proxiedFiles(ctx context.Context, key string) ([]artifactFile, error) {
	var out []artifactFile
	var walk func(rel string) error
	walk = func(rel string) error {
		dir := key
		if rel != "" {
			dir += "/" + rel
		}
		resp, err := c.do(ctx, http.MethodGet, "/api/2.0/mlflow-artifacts/artifacts", url.Values{"path": {dir}}, nil)
		if err != nil {
			return err
		}
		var list struct {
			Files []fileInfo `json:"files"`
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 256<<20)).Decode(&list)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("listing artifacts of %s: %w", dir, err)
		}
		for _, f := range list.Files {
			p := f.Path
			if i := strings.LastIndex(p, "/"); i >= 0 {
				p = p[i+1:]
			}
			if rel != "" {
				p = rel + "/" + p
			}
			if err := addFile(&out, f, p, walk); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk("")
}

// runFiles lists a run's artifact files through the tracking API (any
// artifact store the source server reads), recursively.
func (c *mlflowClient) runFiles(ctx context.Context, runID string) ([]artifactFile, error) {
	var out []artifactFile
	var walk func(rel string) error
	walk = func(rel string) error {
		var list struct {
			Files []fileInfo `json:"files"`
		}
		q := url.Values{"run_id": {runID}}
		if rel != "" {
			q.Set("path", rel)
		}
		if err := c.call(ctx, http.MethodGet, "artifacts/list", q, nil, &list); err != nil {
			return err
		}
		for _, f := range list.Files {
			p := f.Path
			if rel != "" && !strings.HasPrefix(p, rel+"/") {
				p = rel + "/" + p
			}
			if err := addFile(&out, f, p, walk); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk("")
}

func addFile(out *[]artifactFile, f fileInfo, p string, walk func(string) error) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains("/"+p+"/", "/../") || strings.Contains("/"+p+"/", "/./") || strings.Contains(p, "//") {
		return fmt.Errorf("the source lists an invalid artifact path %q", p)
	}
	if f.IsDir {
		return walk(p)
	}
	if len(*out) >= maxArtifactFiles {
		return fmt.Errorf("more than %d artifact files", maxArtifactFiles)
	}
	size := int64(-1)
	if f.FileSize != nil {
		size = *f.FileSize
	}
	*out = append(*out, artifactFile{Path: p, Size: size})
	return nil
}

// openProxied downloads key through the source's artifact proxy.
func (c *mlflowClient) openProxied(ctx context.Context, key string) (*http.Response, error) {
	return c.do(ctx, http.MethodGet, "/api/2.0/mlflow-artifacts/artifacts/"+escapePath(key), nil, nil)
}

// openRunFile downloads a run's artifact through the server's
// get-artifact endpoint (what its UI uses).
func (c *mlflowClient) openRunFile(ctx context.Context, runID, rel string) (*http.Response, error) {
	return c.do(ctx, http.MethodGet, "/get-artifact", url.Values{"path": {rel}, "run_uuid": {runID}}, nil)
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}
