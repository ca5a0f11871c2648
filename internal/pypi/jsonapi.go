package pypi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
)

// The JSON API (https://docs.pypi.org/api/json/) of a project and of a
// release, built from the same pages as the simple index. The info block
// comes from the release's core metadata where a hosted repository has
// it; proxies fill in only what their upstream's index says.

type apiFile struct {
	CommentText       string            `json:"comment_text"`
	Digests           map[string]string `json:"digests"`
	Downloads         int               `json:"downloads"`
	Filename          string            `json:"filename"`
	HasSig            bool              `json:"has_sig"`
	MD5Digest         string            `json:"md5_digest"`
	PackageType       string            `json:"packagetype"`
	PythonVersion     string            `json:"python_version"`
	RequiresPython    *string           `json:"requires_python"`
	Size              int64             `json:"size"`
	UploadTime        string            `json:"upload_time"`
	UploadTimeISO8601 string            `json:"upload_time_iso_8601"`
	URL               string            `json:"url"`
	Yanked            bool              `json:"yanked"`
	YankedReason      *string           `json:"yanked_reason"`
}

type apiResponse struct {
	Info            map[string]any       `json:"info"`
	LastSerial      int                  `json:"last_serial"`
	Releases        map[string][]apiFile `json:"releases,omitempty"`
	URLs            []apiFile            `json:"urls"`
	Vulnerabilities []any                `json:"vulnerabilities"`
}

// projectJSON answers GET /pypi/<repo>/pypi/<project>/json.
func (h *Handler) projectJSON(w http.ResponseWriter, r *http.Request) error {
	return h.serveJSON(w, r, "")
}

// releaseJSON answers GET /pypi/<repo>/pypi/<project>/<version>/json.
func (h *Handler) releaseJSON(w http.ResponseWriter, r *http.Request) error {
	v, err := ParseVersion(r.PathValue("version"))
	if err != nil {
		return errs.E(errs.NotFound, "no release %q: %s", r.PathValue("version"), errs.Message(err))
	}
	return h.serveJSON(w, r, v.String())
}

func (h *Handler) serveJSON(w http.ResponseWriter, r *http.Request, version string) error {
	rp, _, err := h.repository(r, auth.Read)
	if err != nil {
		return err
	}
	name := r.PathValue("project")
	project := Normalize(name)
	if project != name {
		target := "/pypi/" + url.PathEscape(rp.Name) + "/pypi/" + url.PathEscape(project) + "/json"
		if version != "" {
			target = "/pypi/" + url.PathEscape(rp.Name) + "/pypi/" + url.PathEscape(project) + "/" + url.PathEscape(version) + "/json"
		}
		http.Redirect(w, r, target, http.StatusMovedPermanently)
		return nil
	}
	ctx := r.Context()
	p, err := h.readProject(ctx, rp, project, 0)
	if err != nil {
		return err
	}
	base := h.baseURL(r) + "/pypi/" + url.PathEscape(rp.Name)
	releases := map[string][]apiFile{}
	var order []Version
	for _, f := range p.Files {
		if f.Version == "" {
			continue
		}
		if _, ok := releases[f.Version]; !ok {
			v, err := ParseVersion(f.Version)
			if err != nil {
				continue
			}
			order = append(order, v)
		}
		releases[f.Version] = append(releases[f.Version], h.apiFile(base, project, f))
	}
	if version == "" {
		version = latest(order, releases)
	} else {
		want, _ := ParseVersion(version)
		found := false
		for _, v := range order {
			if CompareVersions(v, want) == 0 {
				version, found = v.String(), true
				break
			}
		}
		if !found {
			return errs.E(errs.NotFound, "project %s has no release %s in repository %s", project, version, rp.Name)
		}
	}
	md, err := h.releaseMetadata(ctx, rp, project, version, 0)
	if err != nil {
		return err
	}
	resp := apiResponse{Info: info(md, p.Name, version, releases[version]), URLs: releases[version], Vulnerabilities: []any{}}
	if resp.URLs == nil {
		resp.URLs = []apiFile{}
	}
	resp.Info["package_url"] = base + "/simple/" + project + "/"
	resp.Info["project_url"] = base + "/simple/" + project + "/"
	resp.Info["release_url"] = base + "/pypi/" + project + "/" + version + "/json"
	if r.PathValue("version") == "" {
		resp.Releases = releases
	}
	return httpx.WriteJSON(w, http.StatusOK, resp)
}

func (h *Handler) apiFile(base, project string, f File) apiFile {
	a := apiFile{Digests: map[string]string{}, Downloads: -1, Filename: f.Filename, MD5Digest: f.MD5, Size: f.Size,
		URL: base + "/files/" + url.PathEscape(project) + "/" + url.PathEscape(f.Filename), Yanked: f.Yanked}
	if f.SHA256 != "" {
		a.Digests["sha256"] = f.SHA256
	}
	if f.MD5 != "" {
		a.Digests["md5"] = f.MD5
	}
	if f.RequiresPython != "" {
		rp := f.RequiresPython
		a.RequiresPython = &rp
	}
	if f.Yanked {
		reason := f.YankedReason
		a.YankedReason = &reason
	}
	if f.UploadTime > 0 {
		t := time.UnixMilli(f.UploadTime).UTC()
		a.UploadTime = t.Format("2006-01-02T15:04:05")
		a.UploadTimeISO8601 = f.uploadTimeISO()
	}
	a.PackageType, a.PythonVersion = Sdist, "source"
	if fn, err := ParseWheelFilename(f.Filename); err == nil {
		a.PackageType, a.PythonVersion = Wheel, fn.Python
	}
	return a
}

// latest picks the version the info block describes, as PyPI does: the
// highest release that is neither a pre-release nor wholly yanked; failing
// that the highest not wholly yanked; failing that the highest.
func latest(versions []Version, releases map[string][]apiFile) string {
	yanked := func(v Version) bool {
		for _, f := range releases[v.String()] {
			if !f.Yanked {
				return false
			}
		}
		return true
	}
	for _, pick := range []func(Version) bool{
		func(v Version) bool { return !v.IsPrerelease() && !yanked(v) },
		func(v Version) bool { return !yanked(v) },
		func(Version) bool { return true },
	} {
		var best *Version
		for i := range versions {
			if pick(versions[i]) && (best == nil || CompareVersions(versions[i], *best) > 0) {
				best = &versions[i]
			}
		}
		if best != nil {
			return best.String()
		}
	}
	return ""
}

// info builds the JSON API's info block from stored metadata fields (JSON
// of field → values; "" when unknown).
func info(metadataJSON, name, version string, files []apiFile) map[string]any {
	var fields map[string][]string
	json.Unmarshal([]byte(metadataJSON), &fields)
	one := func(k string) any {
		if v := fields[k]; len(v) > 0 {
			return v[0]
		}
		return nil
	}
	list := func(k string) any {
		if v := fields[k]; len(v) > 0 {
			return v
		}
		return nil
	}
	out := map[string]any{
		"name": name, "version": version,
		"author": one("author"), "author_email": one("author-email"),
		"maintainer": one("maintainer"), "maintainer_email": one("maintainer-email"),
		"license": one("license"), "license_expression": one("license-expression"),
		"summary": one("summary"), "description": one("description"),
		"description_content_type": one("description-content-type"),
		"home_page":                one("home-page"), "download_url": one("download-url"),
		"keywords": one("keywords"), "platform": one("platform"),
		"requires_python": one("requires-python"), "requires_dist": list("requires-dist"),
		"provides_extra": list("provides-extra"), "dynamic": list("dynamic"),
		"classifiers": []string{}, "project_urls": nil,
		"bugtrack_url": nil, "docs_url": nil, "yanked": false, "yanked_reason": nil,
	}
	if c := fields["classifier"]; len(c) > 0 {
		out["classifiers"] = c
	}
	if urls := fields["project-url"]; len(urls) > 0 {
		m := map[string]string{}
		for _, u := range urls {
			label, link, ok := strings.Cut(u, ",")
			if ok {
				m[strings.TrimSpace(label)] = strings.TrimSpace(link)
			}
		}
		out["project_urls"] = m
	}
	if out["requires_python"] == nil {
		for _, f := range files {
			if f.RequiresPython != nil {
				out["requires_python"] = *f.RequiresPython
				break
			}
		}
	}
	if len(files) > 0 {
		all := true
		for _, f := range files {
			all = all && f.Yanked
		}
		if all {
			out["yanked"] = true
			out["yanked_reason"] = files[0].YankedReason
		}
	}
	return out
}
