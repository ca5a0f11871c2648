package pypi

import (
	"strings"

	"github.com/arcaproject/arca/internal/errs"
)

// maxFilenameLen bounds a distribution's file name.
const maxFilenameLen = 255

// Package types, as the upload form's filetype and the JSON API's
// packagetype name them.
const (
	Wheel = "bdist_wheel"
	Sdist = "sdist"
)

// Filename is what a distribution's file name says about it.
type Filename struct {
	Name    string  // the project name as written in the file name
	Project string  // its PEP 503 normalized form
	Version Version // parsed
	Type    string  // Wheel or Sdist
	// Wheel tags (PEP 427); empty for sdists.
	Build, Python, ABI, Platform string
	// Ext is the archive extension: ".whl", ".tar.gz" or ".zip".
	Ext string
}

// checkFilename rejects names that cannot be a file in a flat directory.
func checkFilename(fn string) error {
	if fn == "" || len(fn) > maxFilenameLen {
		return errs.E(errs.Invalid, "file name must be 1-%d characters", maxFilenameLen)
	}
	for i := 0; i < len(fn); i++ {
		c := fn[i]
		if c < 0x21 || c > 0x7e || c == '/' || c == '\\' || c == '%' || c == '#' || c == '?' {
			return errs.E(errs.Invalid, "invalid file name %q: use printable ASCII without / \\ %% # ?", truncate(fn, 80))
		}
	}
	if fn[0] == '.' {
		return errs.E(errs.Invalid, "invalid file name %q", truncate(fn, 80))
	}
	return nil
}

// ParseWheelFilename parses a wheel's name (PEP 427):
// {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl.
func ParseWheelFilename(fn string) (Filename, error) {
	if err := checkFilename(fn); err != nil {
		return Filename{}, err
	}
	stem, ok := strings.CutSuffix(fn, ".whl")
	if !ok {
		return Filename{}, errs.E(errs.Invalid, "%q is not a wheel file name (.whl)", truncate(fn, 80))
	}
	parts := strings.Split(stem, "-")
	if len(parts) != 5 && len(parts) != 6 {
		return Filename{}, errs.E(errs.Invalid, "invalid wheel file name %q: want {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl", truncate(fn, 80))
	}
	f := Filename{Name: parts[0], Type: Wheel, Ext: ".whl"}
	if err := ValidName(f.Name); err != nil {
		return Filename{}, errs.E(errs.Invalid, "invalid wheel file name %q: %s", truncate(fn, 80), errs.Message(err))
	}
	f.Project = Normalize(f.Name)
	v, err := ParseVersion(parts[1])
	if err != nil {
		return Filename{}, errs.E(errs.Invalid, "invalid wheel file name %q: %s", truncate(fn, 80), errs.Message(err))
	}
	f.Version = v
	tags := parts[2:]
	if len(parts) == 6 {
		f.Build, tags = parts[2], parts[3:]
		if f.Build == "" || f.Build[0] < '0' || f.Build[0] > '9' {
			return Filename{}, errs.E(errs.Invalid, "invalid wheel file name %q: the build tag must start with a digit", truncate(fn, 80))
		}
	}
	for _, t := range tags {
		if !isTag(t) {
			return Filename{}, errs.E(errs.Invalid, "invalid wheel file name %q: bad compatibility tag %q", truncate(fn, 80), t)
		}
	}
	f.Python, f.ABI, f.Platform = tags[0], tags[1], tags[2]
	return f, nil
}

func isTag(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// sdistExts are the source archive formats accepted (PEP 625 wants
// .tar.gz; .zip is still common in older projects).
var sdistExts = []string{".tar.gz", ".zip"}

// ParseSdistFilename parses a source distribution's name,
// {name}-{version}.tar.gz (or .zip). A name may itself hold "-" in older
// sdists; the name is taken as the shortest prefix after which a valid
// version follows, unless project (a normalized name, may be "") says
// which prefix is the name.
func ParseSdistFilename(fn, project string) (Filename, error) {
	if err := checkFilename(fn); err != nil {
		return Filename{}, err
	}
	var stem, ext string
	for _, e := range sdistExts {
		if s, ok := strings.CutSuffix(fn, e); ok {
			stem, ext = s, e
			break
		}
	}
	if ext == "" {
		return Filename{}, errs.E(errs.Invalid, "%q is not a source distribution file name (.tar.gz or .zip)", truncate(fn, 80))
	}
	for i := 0; i < len(stem); i++ {
		if stem[i] != '-' {
			continue
		}
		name, ver := stem[:i], stem[i+1:]
		if project != "" && Normalize(name) != project {
			continue
		}
		if ValidName(name) != nil {
			continue
		}
		v, err := ParseVersion(ver)
		if err != nil || strings.TrimSpace(ver) != ver {
			continue
		}
		return Filename{Name: name, Project: Normalize(name), Version: v, Type: Sdist, Ext: ext}, nil
	}
	if project != "" {
		return Filename{}, errs.E(errs.Invalid, "invalid sdist file name %q: want %s-{version}%s", truncate(fn, 80), project, ext)
	}
	return Filename{}, errs.E(errs.Invalid, "invalid sdist file name %q: want {name}-{version}%s", truncate(fn, 80), ext)
}

// ParseFilename parses a wheel's or an sdist's file name; project, if not
// "", is the normalized project name the file belongs to.
func ParseFilename(fn, project string) (Filename, error) {
	if strings.HasSuffix(fn, ".whl") {
		return ParseWheelFilename(fn)
	}
	return ParseSdistFilename(fn, project)
}
