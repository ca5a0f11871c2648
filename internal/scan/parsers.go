package scan

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/textproto"
	"regexp"
	"strings"

	"github.com/arcaproject/arca/internal/pypi"
	"github.com/arcaproject/arca/internal/vulndb"
)

// The parsers of package databases found in image layers. Each reads
// untrusted bytes (bounded by the layer walker) and returns what it could
// read; none fails a scan. dpkg's status file and Python's METADATA are
// RFC 822 style headers, read with net/textproto (dpkg) and arca's own
// core metadata parser (Python); apk's database is "K:value" lines;
// package.json is JSON.

// maxPackagesPerFile bounds what one database yields.
const maxPackagesPerFile = 100_000

// OSRelease is what /etc/os-release says: ID and VERSION_ID.
type OSRelease struct{ ID, VersionID string }

// parseOSRelease reads the KEY=value lines of os-release(5).
func parseOSRelease(b []byte) OSRelease {
	var r OSRelease
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"'`)
		switch k {
		case "ID":
			r.ID = v
		case "VERSION_ID":
			r.VersionID = v
		}
	}
	return r
}

// Ecosystem is OSV's ecosystem for the distribution's packages (Debian:12,
// Alpine:v3.18, Ubuntu:22.04), or fallback's base when the release is
// unknown.
func (r OSRelease) Ecosystem(fallback string) string {
	switch r.ID {
	case "debian":
		if v, _, _ := strings.Cut(r.VersionID, "."); v != "" {
			return "Debian:" + v
		}
		return "Debian"
	case "alpine":
		parts := strings.SplitN(r.VersionID, ".", 3)
		if len(parts) >= 2 {
			return "Alpine:v" + parts[0] + "." + parts[1]
		}
		return "Alpine"
	case "ubuntu":
		if r.VersionID != "" {
			return "Ubuntu:" + r.VersionID
		}
		return "Ubuntu"
	}
	return fallback
}

// parseDpkgStatus reads /var/lib/dpkg/status (or a status.d file):
// paragraphs of fields; installed packages only. Source may name the
// source package and its version ("zlib (1:1.2.11.dfsg-2)").
func parseDpkgStatus(b []byte, ecosystem string) []vulndb.Component {
	var out []vulndb.Component
	rd := textproto.NewReader(bufio.NewReader(bytes.NewReader(b)))
	for len(out) < maxPackagesPerFile {
		h, err := rd.ReadMIMEHeader()
		if name, ver := h.Get("Package"), h.Get("Version"); name != "" && ver != "" {
			status := h.Get("Status")
			if status == "" || strings.HasSuffix(status, " installed") {
				src, _, _ := strings.Cut(h.Get("Source"), " ")
				if src == name {
					src = ""
				}
				out = append(out, vulndb.Component{Ecosystem: ecosystem, Name: name, Version: ver, Source: src,
					PURL: purl("deb", "", name, ver), Dependencies: depNames(h.Get("Depends"))})
			}
		}
		if err != nil {
			// io.EOF at the end; a malformed paragraph ends the file too.
			break
		}
	}
	return out
}

// depNames reads a Depends field: "libc6 (>= 2.14), zlib1g | libz".
func depNames(s string) []string {
	var out []string
	for _, alt := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '|' }) {
		if f := strings.Fields(alt); len(f) > 0 && len(out) < 200 {
			out = append(out, strings.TrimSuffix(f[0], ":any"))
		}
	}
	return out
}

// parseApkInstalled reads /lib/apk/db/installed: blank-line separated
// records of "K:value" lines (P package, V version, o origin, D depends).
func parseApkInstalled(b []byte, ecosystem string) []vulndb.Component {
	var out []vulndb.Component
	var cur vulndb.Component
	flush := func() {
		if cur.Name != "" && cur.Version != "" && len(out) < maxPackagesPerFile {
			if cur.Source == cur.Name {
				cur.Source = ""
			}
			cur.Ecosystem = ecosystem
			cur.PURL = purl("apk", "alpine", cur.Name, cur.Version)
			out = append(out, cur)
		}
		cur = vulndb.Component{}
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			flush()
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || len(k) != 1 {
			continue
		}
		switch k {
		case "P":
			cur.Name = v
		case "V":
			cur.Version = v
		case "o":
			cur.Source = v
		case "D":
			for _, d := range strings.Fields(v) {
				name := strings.FieldsFunc(d, func(r rune) bool { return r == '=' || r == '<' || r == '>' || r == '~' })
				if len(name) > 0 && len(cur.Dependencies) < 200 && !strings.HasPrefix(d, "!") {
					cur.Dependencies = append(cur.Dependencies, name[0])
				}
			}
		}
	}
	flush()
	return out
}

// parsePythonMetadata reads an installed distribution's METADATA (or an
// egg's PKG-INFO) with arca's core metadata parser.
func parsePythonMetadata(b []byte) (vulndb.Component, bool) {
	md, err := pypi.ParseMetadata(b)
	if err != nil {
		return vulndb.Component{}, false
	}
	return pythonComponent(md.Get("name"), md.Get("version"), md.Fields["requires-dist"]), true
}

var requirementName = regexp.MustCompile(`^\s*([A-Za-z0-9][A-Za-z0-9._-]*)`)

func pythonComponent(name, version string, requires []string) vulndb.Component {
	c := vulndb.Component{Ecosystem: "PyPI", Name: name, Version: version, PURL: purl("pypi", "", pypi.Normalize(name), version)}
	for _, r := range requires {
		if m := requirementName.FindStringSubmatch(r); m != nil && len(c.Dependencies) < 500 {
			c.Dependencies = append(c.Dependencies, m[1])
		}
	}
	return c
}

// parsePackageJSON reads a package.json (of node_modules, or a published
// version's manifest).
func parsePackageJSON(b []byte) (vulndb.Component, bool) {
	var p struct {
		Name         string            `json:"name"`
		Version      string            `json:"version"`
		Dependencies map[string]string `json:"dependencies"`
	}
	if json.Unmarshal(b, &p) != nil || p.Name == "" || p.Version == "" || len(p.Name) > 214 || len(p.Version) > 256 {
		return vulndb.Component{}, false
	}
	c := vulndb.Component{Ecosystem: "npm", Name: p.Name, Version: p.Version, PURL: purl("npm", "", p.Name, p.Version)}
	for d := range p.Dependencies {
		if len(c.Dependencies) < 500 {
			c.Dependencies = append(c.Dependencies, d)
		}
	}
	sortStrings(c.Dependencies)
	return c, true
}

// purl is a package URL (github.com/package-url/purl-spec) of the simple
// shape SBOM readers match on: pkg:type/[namespace/]name@version.
func purl(typ, namespace, name, version string) string {
	esc := func(s string) string {
		return strings.NewReplacer("%", "%25", "@", "%40", "?", "%3F", "#", "%23", " ", "%20").Replace(s)
	}
	ns := ""
	if namespace != "" {
		ns = namespace + "/"
	}
	if typ == "npm" && strings.HasPrefix(name, "@") {
		scope, n, _ := strings.Cut(name, "/")
		ns, name = "%40"+scope[1:]+"/", n
	}
	return "pkg:" + typ + "/" + ns + esc(name) + "@" + esc(version)
}
