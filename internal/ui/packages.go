package ui

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

// pkg shows one PyPI project or npm package.
func (h *Handler) pkg(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	rp, err := h.readable(ctx, r)
	if err != nil {
		return err
	}
	switch rp.Format {
	case "pypi":
		return h.pypiProject(w, r, rp)
	case "npm":
		return h.npmPackage(w, r, rp)
	case "maven":
		return h.mavenArtifact(w, r, rp)
	case "go":
		return h.goModule(w, r, rp)
	case "helm":
		return h.helmChart(w, r, rp)
	}
	return errs.E(errs.NotFound, "%s holds no packages.", rp.Name)
}

// pypiVersion groups a project's files of one version.
type pypiVersion struct {
	Version string
	Files   []PyPIFile
}

type pypiData struct {
	Repo     *repo.Repository
	Project  string
	Display  string
	Versions []pypiVersion
	Meta     map[string]any // core metadata of the newest file that has it: lower-case field -> values
	Index    string         // the simple index URL
	Pager    *Pager
}

// MetaString returns a metadata field as text ("" when absent).
func (d pypiData) MetaString(key string) string {
	switch v := d.Meta[key].(type) {
	case string:
		return v
	case []any:
		var parts []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, "\n")
	}
	return ""
}

func (h *Handler) pypiProject(w http.ResponseWriter, r *http.Request, rp *repo.Repository) error {
	ctx := r.Context()
	project := r.PathValue("pkg")
	pg := newPager(r, 100)
	files, err := h.pypiFiles(ctx, rp, project, pg.Limit(), pg.Offset())
	if err != nil {
		return err
	}
	files = files[:pg.Keep(len(files))]
	if len(files) == 0 {
		return errs.E(errs.NotFound, "There is no project %s in %s.", project, rp.Name)
	}
	d := pypiData{Repo: rp, Project: project, Display: project, Pager: pg, Index: h.baseURL(r) + "/pypi/" + rp.Name + "/simple/"}
	for _, f := range files {
		if d.Meta == nil && len(f.Metadata) > 0 {
			d.Meta = f.Metadata
			if n := d.MetaString("name"); n != "" {
				d.Display = n
			}
		}
		version := f.Version
		if version == "" {
			version = "cached files"
		}
		if i := slices.IndexFunc(d.Versions, func(v pypiVersion) bool { return v.Version == version }); i >= 0 {
			d.Versions[i].Files = append(d.Versions[i].Files, f)
		} else {
			d.Versions = append(d.Versions, pypiVersion{Version: version, Files: []PyPIFile{f}})
		}
	}
	return h.page(w, r, "pypi_project", d.Display, d)
}

type npmData struct {
	Repo     *repo.Repository
	Name     string
	Registry string
	Versions []NPMVersion
	DistTags map[string]string
	Shown    string         // the version whose metadata is shown
	Meta     map[string]any // its document
	Pager    *Pager
}

// Integrity writes a sha512 hex digest as npm's integrity string.
func (NPMVersion) integrityOf(sha512hex string) string {
	b, err := hex.DecodeString(sha512hex)
	if err != nil || len(b) == 0 {
		return ""
	}
	return "sha512-" + base64.StdEncoding.EncodeToString(b)
}

// Integrity is the version's npm integrity string.
func (v NPMVersion) Integrity() string { return v.integrityOf(v.SHA512) }

// MetaString returns a field of the shown version's document as text.
func (d npmData) MetaString(key string) string {
	switch v := d.Meta[key].(type) {
	case string:
		return v
	case map[string]any:
		if u, ok := v["url"].(string); ok {
			return u
		}
	case []any:
		var parts []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ", ")
	}
	return ""
}

// Dependencies lists the shown version's dependencies as "name range".
func (d npmData) Dependencies() []string {
	deps, _ := d.Meta["dependencies"].(map[string]any)
	var out []string
	for n, v := range deps {
		s, _ := v.(string)
		out = append(out, n+" "+s)
	}
	slices.Sort(out)
	return out
}

func (h *Handler) npmPackage(w http.ResponseWriter, r *http.Request, rp *repo.Repository) error {
	ctx := r.Context()
	name := r.PathValue("pkg")
	pg := newPager(r, 50)
	versions, err := h.npmVersions(ctx, rp, name, pg.Limit(), pg.Offset())
	if err != nil {
		return err
	}
	versions = versions[:pg.Keep(len(versions))]
	if len(versions) == 0 {
		return errs.E(errs.NotFound, "There is no package %s in %s.", name, rp.Name)
	}
	d := npmData{Repo: rp, Name: name, Versions: versions, Pager: pg, Registry: h.baseURL(r) + "/npm/" + rp.Name + "/"}
	if rp.Kind == repo.Hosted {
		if d.DistTags, err = h.npmDistTags(ctx, rp.ID, name); err != nil {
			return err
		}
		for i := range d.Versions {
			for t, v := range d.DistTags {
				if v == d.Versions[i].Version {
					d.Versions[i].Tags = append(d.Versions[i].Tags, t)
				}
			}
			slices.Sort(d.Versions[i].Tags)
		}
		d.Shown = r.URL.Query().Get("version")
		if d.Shown == "" {
			d.Shown = d.DistTags["latest"]
		}
		if d.Shown == "" {
			d.Shown = versions[0].Version
		}
		head, err := h.npmManifestHead(ctx, rp.ID, name, d.Shown)
		if err != nil {
			return err
		}
		if head != "" {
			json.Unmarshal([]byte(head+`"}}`), &d.Meta) // the stored head lacks the tarball URL's end
		}
	}
	return h.page(w, r, "npm_package", name, d)
}
