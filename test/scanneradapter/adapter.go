// Package scanneradapter is a scanner adapter for tests: it speaks
// Harbor's Pluggable Scanner API (v1.1) as Trivy's adapter does, pulls the
// image it is asked to scan from the registry with the authorization it
// was given (manifest, then every layer, digests checked), reads the dpkg
// and apk databases in the layers and reports the installed packages
// that its Rules name as vulnerable.
package scanneradapter

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Rule names a vulnerable version of a package.
type Rule struct {
	Version  string // the installed version that is vulnerable
	ID       string
	Severity string // Harbor's scale: Negligible, Low, Medium, High, Critical
	Fix      string
}

// ScanRequest is the request as received.
type ScanRequest struct {
	Registry struct {
		URL           string `json:"url"`
		Authorization string `json:"authorization"`
	} `json:"registry"`
	Artifact struct {
		Repository string `json:"repository"`
		Digest     string `json:"digest"`
		Tag        string `json:"tag"`
		MimeType   string `json:"mime_type"`
	} `json:"artifact"`
}

// Adapter is the adapter's state; it is an http.Handler.
type Adapter struct {
	// APIKey, when set, is required in X-ScannerAdapter-API-Key.
	APIKey string
	// Rules by package name.
	Rules map[string]Rule
	// Pending is how many polls of a finished scan still answer 302
	// (Refresh-After: 1) before the report, to exercise polling.
	Pending int
	// Down makes every request answer 503.
	Down atomic.Bool

	mu       sync.Mutex
	scans    map[string]*job
	requests []ScanRequest
	polls    int
	next     int
}

type job struct {
	req      ScanRequest
	done     bool
	polls    int
	err      error
	packages int
	pulled   int64 // bytes read from the registry
	took     time.Duration
	vulns    []vuln
}

type vuln struct {
	ID         string `json:"id"`
	Package    string `json:"package"`
	Version    string `json:"version"`
	FixVersion string `json:"fix_version,omitempty"`
	Severity   string `json:"severity"`
}

// Requests returns the scan requests received so far.
func (a *Adapter) Requests() []ScanRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]ScanRequest(nil), a.requests...)
}

// Polls counts the report requests answered 302.
func (a *Adapter) Polls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.polls
}

// Pulled returns the bytes pulled, packages found and time taken by the
// scans done.
func (a *Adapter) Pulled() (bytes int64, packages int, took time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, j := range a.scans {
		bytes += j.pulled
		packages += j.packages
		took += j.took
	}
	return bytes, packages, took
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, "application/vnd.scanner.adapter.error+json; version=1.0", map[string]any{"error": map[string]string{"message": msg}})
}

func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.Down.Load() {
		writeError(w, http.StatusServiceUnavailable, "adapter is down")
		return
	}
	if a.APIKey != "" && r.Header.Get("X-ScannerAdapter-API-Key") != a.APIKey {
		writeError(w, http.StatusUnauthorized, "wrong API key")
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/metadata":
		writeJSON(w, http.StatusOK, "application/vnd.scanner.adapter.metadata+json; version=1.0", map[string]any{
			"scanner": map[string]string{"name": "TestScanner", "vendor": "arca tests", "version": "1.0"},
			"capabilities": []map[string]any{{
				"consumes_mime_types": []string{"application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json"},
				"produces_mime_types": []string{"application/vnd.security.vulnerability.report; version=1.1"},
			}},
			"properties": map[string]string{"harbor.scanner-adapter/scanner-type": "os-package-vulnerability"},
		})
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/scan":
		a.accept(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/v1/scan/") && strings.HasSuffix(r.URL.Path, "/report"):
		a.report(w, r, strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v1/scan/"), "/report"))
	default:
		writeError(w, http.StatusNotFound, "no such endpoint")
	}
}

func (a *Adapter) accept(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/vnd.scanner.adapter.scan.request+json") {
		writeError(w, http.StatusBadRequest, "wrong content type "+r.Header.Get("Content-Type"))
		return
	}
	var req ScanRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Registry.URL == "" || req.Artifact.Repository == "" || !strings.HasPrefix(req.Artifact.Digest, "sha256:") {
		writeError(w, http.StatusUnprocessableEntity, "registry url, repository and digest are required")
		return
	}
	a.mu.Lock()
	a.next++
	id := "scan-" + strconv.Itoa(a.next)
	j := &job{req: req}
	if a.scans == nil {
		a.scans = map[string]*job{}
	}
	a.scans[id] = j
	a.requests = append(a.requests, req)
	a.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		t0 := time.Now()
		vulns, pkgs, pulled, err := a.scan(ctx, req)
		a.mu.Lock()
		j.vulns, j.packages, j.pulled, j.err, j.done, j.took = vulns, pkgs, pulled, err, true, time.Since(t0)
		a.mu.Unlock()
	}()
	writeJSON(w, http.StatusAccepted, "application/vnd.scanner.adapter.scan.response+json; version=1.0", map[string]string{"id": id})
}

func (a *Adapter) report(w http.ResponseWriter, r *http.Request, id string) {
	// One media type, the one the metadata lists (Trivy's adapter answers
	// 415 to anything else, lists included).
	if mt, params, err := mime.ParseMediaType(r.Header.Get("Accept")); err != nil || mt != "application/vnd.security.vulnerability.report" || params["version"] != "1.1" {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported media type "+r.Header.Get("Accept"))
		return
	}
	a.mu.Lock()
	j, ok := a.scans[id]
	var pending bool
	if ok {
		pending = !j.done || j.polls < a.Pending
		j.polls++
		if pending {
			a.polls++
		}
	}
	a.mu.Unlock()
	switch {
	case !ok:
		writeError(w, http.StatusNotFound, "no scan "+id)
	case pending:
		w.Header().Set("Refresh-After", "1")
		w.Header().Set("Location", r.URL.Path)
		w.WriteHeader(http.StatusFound)
	case j.err != nil:
		writeError(w, http.StatusInternalServerError, j.err.Error())
	default:
		writeJSON(w, http.StatusOK, "application/vnd.security.vulnerability.report; version=1.1", map[string]any{
			"generated_at":    time.Now().UTC().Format(time.RFC3339),
			"artifact":        j.req.Artifact,
			"scanner":         map[string]string{"name": "TestScanner", "vendor": "arca tests", "version": "1.0"},
			"severity":        worst(j.vulns),
			"vulnerabilities": j.vulns,
		})
	}
}

var order = map[string]int{"Unknown": 0, "Negligible": 1, "Low": 2, "Medium": 3, "High": 4, "Critical": 5}

func worst(vs []vuln) string {
	w := "None"
	for _, v := range vs {
		if w == "None" || order[v.Severity] > order[w] {
			w = v.Severity
		}
	}
	return w
}

// Get fetches url from the registry with the authorization of the scan
// request, as the adapter's pulls do; tests use it to try what else the
// authorization allows.
func Get(ctx context.Context, method, url, authorization string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	return http.DefaultClient.Do(req)
}

// scan pulls the image and lists the installed packages its rules name.
func (a *Adapter) scan(ctx context.Context, req ScanRequest) ([]vuln, int, int64, error) {
	base := strings.TrimSuffix(req.Registry.URL, "/") + "/v2/" + req.Artifact.Repository
	fetch := func(path, digest string) ([]byte, error) {
		resp, err := Get(ctx, http.MethodGet, base+path, req.Registry.Authorization, nil)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			return nil, fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		if sum := sha256.Sum256(b); "sha256:"+hex.EncodeToString(sum[:]) != digest {
			return nil, fmt.Errorf("GET %s: digest mismatch", path)
		}
		return b, nil
	}
	mb, err := fetch("/manifests/"+req.Artifact.Digest, req.Artifact.Digest)
	if err != nil {
		return nil, 0, 0, err
	}
	var m struct {
		Layers []struct {
			Digest string `json:"digest"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(mb, &m); err != nil {
		return nil, 0, 0, err
	}
	pulled := int64(len(mb))
	installed := map[string]string{}
	for _, l := range m.Layers {
		b, err := fetch("/blobs/"+l.Digest, l.Digest)
		if err != nil {
			return nil, 0, pulled, err
		}
		pulled += int64(len(b))
		if err := readLayer(b, installed); err != nil {
			return nil, 0, pulled, err
		}
	}
	var out []vuln
	for name, version := range installed {
		if r, ok := a.Rules[name]; ok && r.Version == version {
			out = append(out, vuln{ID: r.ID, Package: name, Version: version, FixVersion: r.Fix, Severity: r.Severity})
		}
	}
	return out, len(installed), pulled, nil
}

// readLayer adds the packages of a layer's dpkg status or apk database.
func readLayer(b []byte, installed map[string]string) error {
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch strings.TrimPrefix(h.Name, "./") {
		case "var/lib/dpkg/status":
			stanzas(tr, "Package", "Version", installed)
		case "lib/apk/db/installed":
			stanzas(tr, "P", "V", installed)
		}
	}
}

// stanzas reads "Key: value" (dpkg) or "K:value" (apk) paragraphs.
func stanzas(r io.Reader, nameKey, versionKey string, into map[string]string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	name, version := "", ""
	flush := func() {
		if name != "" && version != "" {
			into[name] = version
		}
		name, version = "", ""
	}
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, " ") {
			continue
		}
		switch k {
		case nameKey:
			name = strings.TrimSpace(v)
		case versionKey:
			version = strings.TrimSpace(v)
		}
	}
	flush()
}
