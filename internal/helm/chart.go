package helm

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"path"
	"regexp"
	"strings"

	"golang.org/x/mod/semver"
	"sigs.k8s.io/yaml"

	"github.com/arcaproject/arca/internal/errs"
)

// Bounds on what a chart archive may make arca read.
const (
	maxChartYAML     = 1 << 20   // Chart.yaml
	maxUncompressed  = 256 << 20 // bytes of tar read to find Chart.yaml
	maxTarEntries    = 10000     // entries read to find it
	maxProvenance    = 1 << 20   // a .prov file
	maxNameLen       = 250
	maxVersionLen    = 128
	chartYAMLName    = "Chart.yaml"
	chartFileSuffix  = ".tgz"
	provenanceSuffix = ".prov"
)

var (
	nameRE    = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]*$`)
	versionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
)

// Chart is what arca reads from a chart archive: its Chart.yaml.
type Chart struct {
	Name    string
	Version string
	// Meta is Chart.yaml as a JSON object: what an index.yaml entry
	// repeats (apiVersion, description, appVersion, dependencies, ...).
	Meta map[string]any
}

// File is the chart's archive name, <name>-<version>.tgz.
func (c Chart) File() string { return c.Name + "-" + c.Version + chartFileSuffix }

// CheckName checks a chart name.
func CheckName(n string) error {
	if len(n) > maxNameLen || !nameRE.MatchString(n) {
		return errs.E(errs.Invalid, "chart name %q: want letters, digits, '.', '_' and '-', at most %d", trunc(n), maxNameLen)
	}
	return nil
}

// CheckVersion checks a chart version: SemVer 2 (MAJOR.MINOR.PATCH with
// an optional pre-release and build), as Helm requires.
func CheckVersion(v string) error {
	if len(v) > maxVersionLen || !versionRE.MatchString(v) || !semver.IsValid("v"+v) {
		return errs.E(errs.Invalid, "chart version %q: want a semantic version such as 1.2.3", trunc(v))
	}
	return nil
}

// CompareVersions orders chart versions by semantic version precedence.
func CompareVersions(a, b string) int {
	if c := semver.Compare("v"+a, "v"+b); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// ParseChart reads the Chart.yaml of a chart archive (a gzipped tar whose
// entries are under one directory named after the chart). It reads at
// most maxUncompressed bytes of tar and maxTarEntries entries, so a
// compression bomb costs a bounded amount of work.
func ParseChart(r io.Reader) (Chart, error) {
	var c Chart
	gz, err := gzip.NewReader(r)
	if err != nil {
		return c, errs.E(errs.Invalid, "not a chart archive (a .tgz): %v", err)
	}
	defer gz.Close()
	tr := tar.NewReader(io.LimitReader(gz, maxUncompressed))
	top := ""
	for i := 0; ; i++ {
		if i >= maxTarEntries {
			return c, errs.E(errs.Invalid, "no %s in the first %d entries of the archive", chartYAMLName, maxTarEntries)
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return c, errs.E(errs.Invalid, "the archive has no <chart>/%s", chartYAMLName)
		}
		if err != nil {
			return c, errs.E(errs.Invalid, "reading the chart archive: %v", err)
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		dir, file, ok := strings.Cut(name, "/")
		if !ok || dir == ".." || dir == "." {
			continue
		}
		if top == "" {
			top = dir
		}
		if file != chartYAMLName || dir != top || hdr.Typeflag != tar.TypeReg {
			continue
		}
		if hdr.Size > maxChartYAML {
			return c, errs.E(errs.Invalid, "%s is larger than %d bytes", chartYAMLName, maxChartYAML)
		}
		b, err := io.ReadAll(io.LimitReader(tr, maxChartYAML+1))
		if err != nil {
			return c, errs.E(errs.Invalid, "reading %s: %v", chartYAMLName, err)
		}
		if c, err = parseChartYAML(b); err != nil {
			return c, err
		}
		if c.Name != top {
			return c, errs.E(errs.Invalid, "the chart %q is in directory %q of the archive: they must be the same", trunc(c.Name), trunc(top))
		}
		return c, nil
	}
}

// parseChartYAML parses and checks Chart.yaml.
func parseChartYAML(b []byte) (Chart, error) {
	var c Chart
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return c, errs.E(errs.Invalid, "%s: %v", chartYAMLName, err)
	}
	if err := json.Unmarshal(j, &c.Meta); err != nil || c.Meta == nil {
		return c, errs.E(errs.Invalid, "%s is not a mapping", chartYAMLName)
	}
	str := func(k string) string { s, _ := c.Meta[k].(string); return s }
	c.Name, c.Version = str("name"), str("version")
	switch av := str("apiVersion"); av {
	case "v1", "v2":
	default:
		return c, errs.E(errs.Invalid, "%s: apiVersion %q: want v1 or v2", chartYAMLName, trunc(av))
	}
	if err := CheckName(c.Name); err != nil {
		return c, err
	}
	if err := CheckVersion(c.Version); err != nil {
		return c, err
	}
	// What the index adds itself.
	for _, k := range []string{"urls", "digest", "created", "removed"} {
		delete(c.Meta, k)
	}
	return c, nil
}

// provenanceFile returns the chart archive a provenance file signs: the
// name under "files:" in its signed body (<name>-<version>.tgz).
func provenanceFile(b []byte) (string, error) {
	if len(b) > maxProvenance {
		return "", errs.E(errs.Invalid, "a provenance file has at most %d bytes", maxProvenance)
	}
	if !bytes.HasPrefix(b, []byte("-----BEGIN PGP SIGNED MESSAGE-----")) {
		return "", errs.E(errs.Invalid, "not a provenance file: want a PGP signed message")
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), maxProvenance)
	inFiles := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "-----BEGIN PGP SIGNATURE-----") {
			break
		}
		if line == "files:" {
			inFiles = true
			continue
		}
		if !inFiles || !strings.HasPrefix(line, " ") {
			inFiles = false
			continue
		}
		name, sum, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && strings.HasSuffix(name, chartFileSuffix) && strings.HasPrefix(strings.TrimSpace(sum), "sha256:") {
			return name, nil
		}
	}
	return "", errs.E(errs.Invalid, "the provenance file names no chart archive under files:")
}

func trunc(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

// fileRE is what a chart archive's or provenance file's name may look like.
var fileRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._+-]*\.tgz(\.prov)?$`)

// checkFile checks a file name below charts/.
func checkFile(f string) error {
	if len(f) > maxNameLen+maxVersionLen+10 || !fileRE.MatchString(f) {
		return errs.E(errs.NotFound, "%s is not a chart archive (<name>-<version>.tgz) or its provenance (.tgz.prov)", trunc(f))
	}
	return nil
}

// splitFile returns the (name, version) pairs a chart archive's name can
// stand for: <name>-<version>.tgz, where the name may hold dashes and the
// version must be a chart version (usually one pair; none when the name
// is no archive's).
func splitFile(file string) [][2]string {
	base, ok := strings.CutSuffix(strings.TrimSuffix(file, provenanceSuffix), chartFileSuffix)
	if !ok {
		return nil
	}
	var out [][2]string
	for i := 0; i < len(base); i++ {
		if base[i] != '-' {
			continue
		}
		n, v := base[:i], base[i+1:]
		if CheckName(n) == nil && CheckVersion(v) == nil {
			out = append(out, [2]string{n, v})
		}
	}
	return out
}
