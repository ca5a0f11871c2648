package replication

import (
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
)

// pypiRep replicates a PyPI repository of arca: projects from the simple
// index (PEP 691 JSON), files and versions from the JSON API, each missing
// file downloaded and uploaded as twine does (the legacy upload API,
// streamed), which checks it against its metadata again.
type pypiRep struct {
	src, dst *side
}

// pypiFile is a file of the JSON API.
type pypiFile struct {
	Filename      string            `json:"filename"`
	URL           string            `json:"url"`
	Digests       map[string]string `json:"digests"`
	PackageType   string            `json:"packagetype"`
	PythonVersion string            `json:"python_version"`
	Size          int64             `json:"size"`
}

func (sd *side) pypiBase() string { return "/pypi/" + url.PathEscape(sd.repository) }

// pypiProjects lists a side's projects.
func (sd *side) pypiProjects(ctx context.Context) ([]string, error) {
	var idx struct {
		Projects []struct {
			Name string `json:"name"`
		} `json:"projects"`
	}
	if err := sd.getJSON(ctx, sd.pypiBase()+"/simple/", "application/vnd.pypi.simple.v1+json", &idx); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(idx.Projects))
	for _, p := range idx.Projects {
		out = append(out, p.Name)
	}
	return out, nil
}

// pypiReleases returns a project's files by version (none when the side
// does not have the project).
func (sd *side) pypiReleases(ctx context.Context, project string) (map[string][]pypiFile, error) {
	var doc struct {
		Releases map[string][]pypiFile `json:"releases"`
	}
	err := sd.getJSON(ctx, sd.pypiBase()+"/pypi/"+url.PathEscape(project)+"/json", "application/json", &doc)
	if statusOf(err) == http.StatusNotFound {
		return map[string][]pypiFile{}, nil
	}
	return doc.Releases, err
}

func fileNames(rel map[string][]pypiFile) map[string]string {
	out := map[string]string{}
	for v, files := range rel {
		for _, f := range files {
			out[f.Filename] = v
		}
	}
	return out
}

func (r *pypiRep) sync(ctx context.Context, rc *runCtx) error {
	projects, err := r.src.pypiProjects(ctx)
	if err != nil {
		return err
	}
	f := rc.p.Filter
	for _, project := range projects {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !matchAny(f.Names, project) {
			continue
		}
		if err := r.project(ctx, rc, project, ""); err != nil {
			rc.item(project, Errored, 0, err)
		}
	}
	if !rc.p.Deletes {
		return nil
	}
	dstProjects, err := r.dst.pypiProjects(ctx)
	if err != nil {
		return err
	}
	for _, project := range dstProjects {
		if !matchAny(f.Names, project) {
			continue
		}
		srcRel, err := r.src.pypiReleases(ctx, project)
		if err != nil {
			rc.item(project, Errored, 0, err)
			continue
		}
		dstRel, err := r.dst.pypiReleases(ctx, project)
		if err != nil {
			rc.item(project, Errored, 0, err)
			continue
		}
		have := fileNames(srcRel)
		for v, files := range dstRel {
			for _, fl := range files {
				if _, ok := have[fl.Filename]; !ok && matchAny(f.Versions, v) {
					r.delete(ctx, rc, project, v, fl.Filename)
				}
			}
		}
	}
	return nil
}

// project copies a project's selected files the destination lacks: all
// of them, or only the one named.
func (r *pypiRep) project(ctx context.Context, rc *runCtx, project, only string) error {
	srcRel, err := r.src.pypiReleases(ctx, project)
	if err != nil {
		return err
	}
	dstRel, err := r.dst.pypiReleases(ctx, project)
	if err != nil {
		return err
	}
	have := map[string]string{} // filename → sha256 at the destination
	for _, files := range dstRel {
		for _, f := range files {
			have[f.Filename] = f.Digests["sha256"]
		}
	}
	for v, files := range srcRel {
		if !matchAny(rc.p.Filter.Versions, v) {
			continue
		}
		for _, f := range files {
			if only != "" && f.Filename != only {
				continue
			}
			item := project + "/" + f.Filename
			if sum, ok := have[f.Filename]; ok && sum == f.Digests["sha256"] {
				rc.item(item, Skipped, 0, nil)
				continue
			}
			rc.copyMeasured(item, func() (bool, error) { return false, r.upload(ctx, project, v, f) })
		}
	}
	return nil
}

// upload streams one file from the source into the destination's upload
// API.
func (r *pypiRep) upload(ctx context.Context, project, version string, f pypiFile) error {
	u, err := r.src.resolve(r.src.pypiBase()+"/pypi/"+url.PathEscape(project)+"/json", f.URL)
	if err != nil {
		return err
	}
	resp, err := r.src.request(ctx, http.MethodGet, u, nil, 0, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fields := [][2]string{{":action", "file_upload"}, {"protocol_version", "1"}, {"name", project}, {"version", version},
			{"filetype", f.PackageType}, {"pyversion", f.PythonVersion}, {"sha256_digest", f.Digests["sha256"]}}
		var err error
		for _, kv := range fields {
			if err = mw.WriteField(kv[0], kv[1]); err != nil {
				break
			}
		}
		if err == nil {
			var part io.Writer
			if part, err = mw.CreateFormFile("content", f.Filename); err == nil {
				if _, err = io.Copy(part, resp.Body); err == nil {
					err = mw.Close()
				}
			}
		}
		pw.CloseWithError(err)
	}()
	up, err := r.dst.request(ctx, http.MethodPost, r.dst.pypiBase()+"/", pr, -1, http.Header{"Content-Type": {mw.FormDataContentType()}})
	pr.CloseWithError(io.ErrClosedPipe)
	if err != nil {
		return err
	}
	up.Body.Close()
	return nil
}

// resolve turns a URL an answer gave (absolute, or relative to the page
// at path) into a path on the side: a link to another host is refused.
func (sd *side) resolve(pagePath, link string) (string, error) {
	base := *sd.base
	base.Path += pagePath
	u, err := base.Parse(link)
	if err != nil {
		return "", err
	}
	if !sd.local && u.Host != sd.base.Host {
		return "", fmt.Errorf("file link %s leaves %s", redactURL(link), sd.base.Host)
	}
	p := strings.TrimPrefix(u.EscapedPath(), sd.base.EscapedPath())
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return p, nil
}

func (r *pypiRep) delete(ctx context.Context, rc *runCtx, project, version, filename string) {
	item := project + "/" + filename
	resp, err := r.dst.request(ctx, http.MethodDelete, "/api/v1/pypi/"+url.PathEscape(r.dst.repository)+"/"+url.PathEscape(project)+"/"+
		url.PathEscape(version)+"/"+url.PathEscape(filename), nil, 0, nil)
	if statusOf(err) == http.StatusNotFound {
		rc.item(item, Skipped, 0, nil)
		return
	}
	if err == nil {
		resp.Body.Close()
	}
	rc.item(item, Deleted, 0, err)
}

func (r *pypiRep) apply(ctx context.Context, rc *runCtx, changes []Change) error {
	for _, c := range changes {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		project, filename, ok := strings.Cut(c.Item, "/")
		if !ok || !matchAny(rc.p.Filter.Names, project) {
			continue
		}
		switch {
		case c.Deleted && rc.p.Deletes:
			rel, err := r.dst.pypiReleases(ctx, project)
			if err != nil {
				rc.item(c.Item, Errored, 0, err)
				continue
			}
			if v, ok := fileNames(rel)[filename]; ok && matchAny(rc.p.Filter.Versions, v) {
				r.delete(ctx, rc, project, v, filename)
			} else if !ok {
				rc.item(c.Item, Skipped, 0, nil)
			}
		case !c.Deleted:
			if err := r.project(ctx, rc, project, filename); err != nil {
				rc.item(c.Item, Errored, 0, err)
			}
		}
	}
	return nil
}
