package replication

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// helmRep replicates a Helm chart repository of arca: chart versions from
// the source's index.yaml (each with its archive's sha256 digest), each
// missing archive and its provenance file (.prov) uploaded as `helm
// cm-push` does (ChartMuseum's POST api/charts, multipart), which reads
// the archive's Chart.yaml again.
type helmRep struct {
	src, dst *side
}

// helmChart is one chart version of an index.
type helmChart struct {
	Name, Version string
	Digest        string // hex sha256 of the archive; "" when the index gives none
	URL           string // of the archive, as the index gives it
}

// Bounds on what a side's answers may make a run hold.
const (
	maxHelmIndex = 64 << 20
	maxHelmProv  = 1 << 20
)

func (sd *side) helmBase() string { return "/helm/" + url.PathEscape(sd.repository) }

// helmIndex reads a side's index.yaml: chart versions by name@version.
func (sd *side) helmIndex(ctx context.Context) (map[string]helmChart, error) {
	page := sd.helmBase() + "/index.yaml"
	resp, err := sd.request(ctx, http.MethodGet, page, nil, 0, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxHelmIndex+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxHelmIndex {
		return nil, fmt.Errorf("GET %s: index.yaml is larger than %d bytes", page, maxHelmIndex)
	}
	return parseHelmIndex(b)
}

// parseHelmIndex reads the entries of an index.yaml. Entries without a
// name matching their key, a version or an archive URL are left out.
func parseHelmIndex(b []byte) (map[string]helmChart, error) {
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, fmt.Errorf("index.yaml: %w", err)
	}
	var ix struct {
		Entries map[string][]struct {
			Name    string   `json:"name"`
			Version string   `json:"version"`
			Digest  string   `json:"digest"`
			URLs    []string `json:"urls"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(j, &ix); err != nil {
		return nil, fmt.Errorf("index.yaml: %w", err)
	}
	out := map[string]helmChart{}
	for name, es := range ix.Entries {
		for _, e := range es {
			if e.Name != name || !helmNameOK(name) || !helmNameOK(e.Version) || len(e.URLs) == 0 {
				continue
			}
			out[name+"@"+e.Version] = helmChart{Name: name, Version: e.Version, Digest: strings.ToLower(strings.TrimPrefix(e.Digest, "sha256:")), URL: e.URLs[0]}
		}
	}
	return out, nil
}

// helmNameOK accepts a chart name or version that is one path segment.
func helmNameOK(s string) bool {
	return s != "" && len(s) <= 256 && s != "." && s != ".." && !strings.ContainsAny(s, "/\\@?#") && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 })
}

func (r *helmRep) sync(ctx context.Context, rc *runCtx) error {
	src, err := r.src.helmIndex(ctx)
	if err != nil {
		return err
	}
	dst, err := r.dst.helmIndex(ctx)
	if err != nil {
		return err
	}
	f := rc.p.Filter
	for _, key := range slices.Sorted(maps.Keys(src)) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c := src[key]
		if matchAny(f.Names, c.Name) && matchAny(f.Versions, c.Version) {
			r.copy(ctx, rc, c, dst)
		}
	}
	if !rc.p.Deletes {
		return nil
	}
	for _, key := range slices.Sorted(maps.Keys(dst)) {
		c := dst[key]
		if _, ok := src[key]; !ok && matchAny(f.Names, c.Name) && matchAny(f.Versions, c.Version) {
			r.delete(ctx, rc, c.Name, c.Version)
		}
	}
	return nil
}

// copy uploads one chart version (with its provenance file) unless the
// destination has the same archive (same digest) and provenance. An
// archive the destination holds with other bytes is replaced (?force,
// which needs a maintainer there) only by a policy that propagates
// deletes; otherwise the item fails.
func (r *helmRep) copy(ctx context.Context, rc *runCtx, c helmChart, dst map[string]helmChart) {
	item := c.Name + "@" + c.Version
	rc.copyMeasured(item, func() (bool, error) {
		chartPath, err := r.src.resolve(r.src.helmBase()+"/index.yaml", c.URL)
		if err != nil {
			return false, err
		}
		prov, err := r.src.helmProv(ctx, chartPath+".prov")
		if err != nil {
			return false, err
		}
		force := false
		if have, ok := dst[c.Name+"@"+c.Version]; ok {
			if have.Digest == c.Digest || c.Digest == "" {
				// The archive is there: only its provenance may be missing.
				if prov == nil {
					return true, nil
				}
				dstPath, err := r.dst.resolve(r.dst.helmBase()+"/index.yaml", have.URL)
				if err != nil {
					return false, err
				}
				haveProv, err := r.dst.helmProv(ctx, dstPath+".prov")
				if err != nil || bytes.Equal(haveProv, prov) {
					return err == nil, err
				}
				return false, r.postProv(ctx, prov)
			}
			if !rc.p.Deletes {
				return false, fmt.Errorf("the destination has %s with another digest (sha256:%s, the source sha256:%s); a policy with deletes replaces it",
					item, have.Digest, c.Digest)
			}
			force = true
		}
		return false, r.upload(ctx, c, chartPath, prov, force)
	})
}

// helmProv reads a provenance file (nil when there is none).
func (sd *side) helmProv(ctx context.Context, p string) ([]byte, error) {
	resp, err := sd.request(ctx, http.MethodGet, p, nil, 0, nil)
	if statusOf(err) == http.StatusNotFound {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxHelmProv+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxHelmProv {
		return nil, fmt.Errorf("GET %s: a provenance file has at most %d bytes", p, maxHelmProv)
	}
	return b, nil
}

// upload streams the archive from the source into the destination's
// ChartMuseum upload (multipart: chart, and prov when there is one). When
// the index gave a digest, bytes that do not match it fail the upload
// before it completes, so the destination stores nothing.
func (r *helmRep) upload(ctx context.Context, c helmChart, chartPath string, prov []byte, force bool) error {
	resp, err := r.src.request(ctx, http.MethodGet, chartPath, nil, 0, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body := io.Reader(resp.Body)
	if c.Digest != "" {
		body = &verifying{r: resp.Body, h: sha256.New(), want: c.Digest, what: c.Name + "-" + c.Version + ".tgz"}
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	done := make(chan error, 1)
	go func() {
		part, err := mw.CreateFormFile("chart", c.Name+"-"+c.Version+".tgz")
		if err == nil {
			_, err = io.Copy(part, body)
		}
		if err == nil && prov != nil {
			if part, err = mw.CreateFormFile("prov", c.Name+"-"+c.Version+".tgz.prov"); err == nil {
				_, err = part.Write(prov)
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
		done <- err
	}()
	p := r.dst.helmBase() + "/api/charts"
	if force {
		p += "?force=true"
	}
	up, err := r.dst.request(ctx, http.MethodPost, p, pr, -1, http.Header{"Content-Type": {mw.FormDataContentType()}})
	pr.CloseWithError(io.ErrClosedPipe)
	var bad *errDigest
	if werr := <-done; errors.As(werr, &bad) {
		if err == nil {
			up.Body.Close()
		}
		return bad
	}
	if err != nil {
		return err
	}
	up.Body.Close()
	return nil
}

// postProv adds a provenance file to an archive the destination has.
func (r *helmRep) postProv(ctx context.Context, prov []byte) error {
	resp, err := r.dst.request(ctx, http.MethodPost, r.dst.helmBase()+"/api/prov", bytes.NewReader(prov), int64(len(prov)),
		http.Header{"Content-Type": {"application/octet-stream"}})
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func (r *helmRep) delete(ctx context.Context, rc *runCtx, name, version string) {
	item := name + "@" + version
	resp, err := r.dst.request(ctx, http.MethodDelete, r.dst.helmBase()+"/api/charts/"+url.PathEscape(name)+"/"+url.PathEscape(version), nil, 0, nil)
	if statusOf(err) == http.StatusNotFound {
		rc.item(item, Skipped, 0, nil)
		return
	}
	if err == nil {
		resp.Body.Close()
	}
	rc.item(item, Deleted, 0, err)
}

func (r *helmRep) apply(ctx context.Context, rc *runCtx, changes []Change) error {
	var src, dst map[string]helmChart // read once, for the first change that needs them
	for _, c := range changes {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		name, version, ok := strings.Cut(c.Item, "@")
		if !ok || !matchAny(rc.p.Filter.Names, name) || !matchAny(rc.p.Filter.Versions, version) {
			continue
		}
		switch {
		case c.Deleted && rc.p.Deletes:
			r.delete(ctx, rc, name, version)
		case !c.Deleted:
			if src == nil {
				var err error
				if src, err = r.src.helmIndex(ctx); err == nil {
					dst, err = r.dst.helmIndex(ctx)
				}
				if err != nil {
					src = nil
					rc.item(c.Item, Errored, 0, err)
					continue
				}
			}
			ch, ok := src[c.Item]
			if !ok {
				rc.item(c.Item, Skipped, 0, nil) // deleted from the source since
				continue
			}
			r.copy(ctx, rc, ch, dst)
		}
	}
	return nil
}

// verifying passes a stream through and fails its end when the bytes do
// not have the digest the index promised.
type verifying struct {
	r          io.Reader
	h          hash.Hash
	want, what string
}

// errDigest is an archive whose bytes are not the index's digest.
type errDigest struct{ what, want, got string }

func (e *errDigest) Error() string {
	return fmt.Sprintf("%s has sha256:%s, the index says sha256:%s", e.what, e.got, e.want)
}

func (v *verifying) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			err = &errDigest{what: v.what, want: v.want, got: got}
		}
	}
	return n, err
}
