package replication

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// request sends one request to a side: path is below its base URL,
// already escaped. Answers other than 2xx are errors (*errStatus), with
// the body closed.
func (sd *side) request(ctx context.Context, method, path string, body io.Reader, size int64, hdr http.Header) (*http.Response, error) {
	u := sd.base.String() + path
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if sd.username != "" || sd.password != "" {
		req.SetBasicAuth(sd.username, sd.password)
	}
	resp, err := sd.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, &errStatus{method: method, url: redactURL(u), code: resp.StatusCode, body: string(b)}
	}
	return resp, nil
}

// getJSON decodes a side's JSON answer into v.
func (sd *side) getJSON(ctx context.Context, path, accept string, v any) error {
	resp, err := sd.request(ctx, http.MethodGet, path, nil, 0, http.Header{"Accept": {accept}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// redactURL drops a URL's query (which may hold signatures) for errors.
func redactURL(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// escapePath escapes each segment of a slash-separated path.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// rawRep replicates a raw repository over arca's raw HTTP API: JSON
// listings, HEAD (X-Checksum-Sha256) before copy, GET then PUT.
type rawRep struct {
	src, dst *side
}

func (sd *side) rawPath(p string) string {
	return "/raw/" + url.PathEscape(sd.repository) + "/" + escapePath(p)
}

type rawEntry struct {
	Path   string `json:"path"`
	Type   string `json:"type"`
	Size   int64  `json:"size"`
	Digest string `json:"digest"`
}

// files walks a raw repository: path → digest.
func (sd *side) rawFiles(ctx context.Context) (map[string]string, []string, error) {
	files := map[string]string{}
	var order []string
	dirs := []string{""}
	for len(dirs) > 0 && len(order) < 1_000_000 {
		dir := dirs[0]
		dirs = dirs[1:]
		after := ""
		for {
			var page struct {
				Entries []rawEntry `json:"entries"`
				Next    string     `json:"next"`
			}
			q := "?limit=1000"
			if after != "" {
				q += "&after=" + url.QueryEscape(after)
			}
			if err := sd.getJSON(ctx, sd.rawPath(dir)+q, "application/json", &page); err != nil {
				if statusOf(err) == http.StatusNotFound && dir == "" {
					return files, order, nil // an empty repository
				}
				return nil, nil, err
			}
			for _, e := range page.Entries {
				p := strings.TrimPrefix(e.Path, "/")
				if e.Type == "directory" {
					dirs = append(dirs, strings.TrimSuffix(p, "/")+"/")
				} else {
					files[p] = e.Digest
					order = append(order, p)
				}
			}
			if page.Next == "" {
				break
			}
			after = page.Next
		}
	}
	return files, order, nil
}

func (r *rawRep) sync(ctx context.Context, rc *runCtx) error {
	files, order, err := r.src.rawFiles(ctx)
	if err != nil {
		return err
	}
	for _, p := range order {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if matchAny(rc.p.Filter.Names, p) {
			r.copy(ctx, rc, p)
		}
	}
	if !rc.p.Deletes {
		return nil
	}
	_, dstOrder, err := r.dst.rawFiles(ctx)
	if err != nil {
		return err
	}
	for _, p := range dstOrder {
		if _, ok := files[p]; !ok && matchAny(rc.p.Filter.Names, p) {
			r.delete(ctx, rc, p)
		}
	}
	return nil
}

func (r *rawRep) apply(ctx context.Context, rc *runCtx, changes []Change) error {
	for _, c := range changes {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !matchAny(rc.p.Filter.Names, c.Item) {
			continue
		}
		switch {
		case c.Deleted && rc.p.Deletes:
			r.delete(ctx, rc, c.Item)
		case !c.Deleted:
			r.copy(ctx, rc, c.Item)
		}
	}
	return nil
}

// checksum is a side's X-Checksum-Sha256 of a file ("" when it has none).
func (sd *side) rawChecksum(ctx context.Context, p string) (string, error) {
	resp, err := sd.request(ctx, http.MethodHead, sd.rawPath(p), nil, 0, nil)
	if statusOf(err) == http.StatusNotFound {
		return "", nil
	} else if err != nil {
		return "", err
	}
	resp.Body.Close()
	return resp.Header.Get("X-Checksum-Sha256"), nil
}

func (r *rawRep) copy(ctx context.Context, rc *runCtx, p string) {
	rc.copyMeasured(p, func() (bool, error) {
		sum, err := r.src.rawChecksum(ctx, p)
		if err != nil {
			return false, err
		}
		if sum == "" {
			return true, nil // gone from the source since
		}
		if have, err := r.dst.rawChecksum(ctx, p); err != nil {
			return false, err
		} else if have == sum {
			return true, nil
		}
		resp, err := r.src.request(ctx, http.MethodGet, r.src.rawPath(p), nil, 0, nil)
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		hdr := http.Header{"Content-Type": {resp.Header.Get("Content-Type")}, "X-Checksum-Sha256": {resp.Header.Get("X-Checksum-Sha256")}}
		put, err := r.dst.request(ctx, http.MethodPut, r.dst.rawPath(p), resp.Body, resp.ContentLength, hdr)
		if err != nil {
			return false, err
		}
		put.Body.Close()
		return false, nil
	})
}

func (r *rawRep) delete(ctx context.Context, rc *runCtx, p string) {
	resp, err := r.dst.request(ctx, http.MethodDelete, r.dst.rawPath(p), nil, 0, nil)
	if statusOf(err) == http.StatusNotFound {
		rc.item(p, Skipped, 0, nil)
		return
	}
	if err == nil {
		resp.Body.Close()
	}
	rc.item(p, Deleted, 0, err)
}
