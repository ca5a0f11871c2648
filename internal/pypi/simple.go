package pypi

import (
	"bytes"
	"encoding/json"
	"html"
	"net/url"
	"time"
)

// File is one distribution file as a project page lists it.
type File struct {
	Filename string `json:"filename"`
	// URL locates the file: the upstream's absolute URL in a proxy's
	// cached page; arca's URL once rendered.
	URL            string `json:"url"`
	Version        string `json:"version,omitempty"` // normalized; "" when the file name does not say
	SHA256         string `json:"sha256,omitempty"`  // hex; "" when unknown
	MD5            string `json:"md5,omitempty"`     // hex; only from upstreams that give no sha256
	RequiresPython string `json:"requires_python,omitempty"`
	Yanked         bool   `json:"yanked,omitempty"`
	YankedReason   string `json:"yanked_reason,omitempty"`
	// Metadata says a core metadata file is served at URL + ".metadata"
	// (PEP 658); MetadataSHA256 is its hash when known.
	Metadata       bool   `json:"metadata,omitempty"`
	MetadataSHA256 string `json:"metadata_sha256,omitempty"`
	Size           int64  `json:"size"`                  // -1 when unknown
	UploadTime     int64  `json:"upload_time,omitempty"` // Unix ms; 0 when unknown
	// UploadTimeText is an upstream's upload-time as it gave it (RFC 3339
	// in UTC, checked), so that a proxy passes on its full precision
	// (PyPI's microseconds); "" for hosted files.
	UploadTimeText string `json:"upload_time_text,omitempty"`
}

// uploadTimeISO is f's upload time as PEP 700 and the JSON API write it.
func (f *File) uploadTimeISO() string {
	if f.UploadTimeText != "" {
		return f.UploadTimeText
	}
	return isoTime(f.UploadTime)
}

// Project is a project page: its name and files.
type Project struct {
	Name  string `json:"name"`
	Files []File `json:"files"`
}

// ProjectName is an entry of the project list.
type ProjectName struct {
	Name    string // as uploaded
	Project string // normalized
}

// Content types of the simple API (PEP 691).
const (
	typeJSON       = "application/vnd.pypi.simple.v1+json"
	typeHTMLv1     = "application/vnd.pypi.simple.v1+html"
	typeHTML       = "text/html"
	typeJSONLatest = "application/vnd.pypi.simple.latest+json"
	typeHTMLLatest = "application/vnd.pypi.simple.latest+html"
)

// versions lists the project's distinct versions in file order (PEP 700).
func (p *Project) versions() []string {
	seen := map[string]bool{}
	out := []string{}
	for _, f := range p.Files {
		if f.Version != "" && !seen[f.Version] {
			seen[f.Version] = true
			out = append(out, f.Version)
		}
	}
	return out
}

// sizesKnown reports whether every file's size is known, which API
// version 1.1 (PEP 700) requires.
func (p *Project) sizesKnown() bool {
	for _, f := range p.Files {
		if f.Size < 0 {
			return false
		}
	}
	return true
}

// renderProjectHTML writes a project page in the HTML form (PEP 503, with
// PEP 592 yanking and PEP 658/714 metadata attributes).
func renderProjectHTML(p *Project) []byte {
	var b bytes.Buffer
	b.Grow(256 + 300*len(p.Files))
	name := html.EscapeString(p.Name)
	b.WriteString("<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.1\">\n    <title>Links for ")
	b.WriteString(name)
	b.WriteString("</title>\n  </head>\n  <body>\n    <h1>Links for ")
	b.WriteString(name)
	b.WriteString("</h1>\n")
	for _, f := range p.Files {
		b.WriteString(`    <a href="`)
		b.WriteString(html.EscapeString(fileHref(f)))
		b.WriteByte('"')
		if f.RequiresPython != "" {
			b.WriteString(` data-requires-python="`)
			b.WriteString(html.EscapeString(f.RequiresPython))
			b.WriteByte('"')
		}
		if f.Yanked {
			b.WriteString(` data-yanked="`)
			b.WriteString(html.EscapeString(f.YankedReason))
			b.WriteByte('"')
		}
		if f.Metadata {
			v := "true"
			if f.MetadataSHA256 != "" {
				v = "sha256=" + f.MetadataSHA256
			}
			b.WriteString(` data-dist-info-metadata="`)
			b.WriteString(v)
			b.WriteString(`" data-core-metadata="`)
			b.WriteString(v)
			b.WriteByte('"')
		}
		b.WriteByte('>')
		b.WriteString(html.EscapeString(f.Filename))
		b.WriteString("</a><br />\n")
	}
	b.WriteString("  </body>\n</html>\n")
	return b.Bytes()
}

// fileHref is a file's URL with its hash fragment.
func fileHref(f File) string {
	switch {
	case f.SHA256 != "":
		return f.URL + "#sha256=" + f.SHA256
	case f.MD5 != "":
		return f.URL + "#md5=" + f.MD5
	}
	return f.URL
}

type jsonMeta struct {
	APIVersion string `json:"api-version"`
}

type jsonFile struct {
	Filename         string            `json:"filename"`
	URL              string            `json:"url"`
	Hashes           map[string]string `json:"hashes"`
	RequiresPython   *string           `json:"requires-python,omitempty"`
	CoreMetadata     any               `json:"core-metadata,omitempty"`
	DistInfoMetadata any               `json:"dist-info-metadata,omitempty"`
	Yanked           any               `json:"yanked,omitempty"`
	Size             *int64            `json:"size,omitempty"`
	UploadTime       string            `json:"upload-time,omitempty"`
}

type jsonProject struct {
	Meta     jsonMeta   `json:"meta"`
	Name     string     `json:"name"`
	Versions []string   `json:"versions,omitempty"`
	Files    []jsonFile `json:"files"`
}

// renderProjectJSON writes a project page in the JSON form (PEP 691), as
// API version 1.1 (PEP 700: versions, sizes, upload times) when every
// file's size is known, else 1.0.
func renderProjectJSON(p *Project) []byte {
	v11 := p.sizesKnown()
	out := jsonProject{Meta: jsonMeta{APIVersion: "1.0"}, Name: p.Name, Files: make([]jsonFile, 0, len(p.Files))}
	if v11 {
		out.Meta.APIVersion = "1.1"
		out.Versions = p.versions()
	}
	for i := range p.Files {
		f := &p.Files[i]
		jf := jsonFile{Filename: f.Filename, URL: f.URL, Hashes: map[string]string{}}
		if f.SHA256 != "" {
			jf.Hashes["sha256"] = f.SHA256
		} else if f.MD5 != "" {
			jf.Hashes["md5"] = f.MD5
		}
		if f.RequiresPython != "" {
			jf.RequiresPython = &f.RequiresPython
		}
		if f.Metadata {
			var m any = true
			if f.MetadataSHA256 != "" {
				m = map[string]string{"sha256": f.MetadataSHA256}
			}
			jf.CoreMetadata, jf.DistInfoMetadata = m, m
		}
		if f.Yanked {
			jf.Yanked = true
			if f.YankedReason != "" {
				jf.Yanked = f.YankedReason
			}
		}
		if v11 {
			jf.Size = &f.Size
			if f.UploadTime > 0 {
				jf.UploadTime = f.uploadTimeISO()
			}
		}
		out.Files = append(out.Files, jf)
	}
	b, _ := json.Marshal(out)
	return append(b, '\n')
}

// isoTime formats Unix milliseconds as PEP 700 and the JSON API write them.
func isoTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000000Z")
}

// renderIndexHTML writes the project list (PEP 503).
func renderIndexHTML(names []ProjectName) []byte {
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.1\">\n    <title>Simple index</title>\n  </head>\n  <body>\n")
	for _, n := range names {
		b.WriteString(`    <a href="`)
		b.WriteString(html.EscapeString(url.PathEscape(n.Project)))
		b.WriteString(`/">`)
		b.WriteString(html.EscapeString(n.Name))
		b.WriteString("</a><br />\n")
	}
	b.WriteString("  </body>\n</html>\n")
	return b.Bytes()
}

// renderIndexJSON writes the project list (PEP 691).
func renderIndexJSON(names []ProjectName) []byte {
	type entry struct {
		Name string `json:"name"`
	}
	out := struct {
		Meta     jsonMeta `json:"meta"`
		Projects []entry  `json:"projects"`
	}{Meta: jsonMeta{APIVersion: "1.0"}, Projects: make([]entry, 0, len(names))}
	for _, n := range names {
		out.Projects = append(out.Projects, entry{Name: n.Name})
	}
	b, _ := json.Marshal(out)
	return append(b, '\n')
}

// fileURL is the URL of a file relative to its project page
// (/pypi/<repo>/simple/<project>/), so that it works whatever host and
// path prefix the client reached arca through.
func fileURL(project, filename string) string {
	return "../../files/" + url.PathEscape(project) + "/" + url.PathEscape(filename)
}
