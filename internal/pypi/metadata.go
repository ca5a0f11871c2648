package pypi

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"github.com/arcaproject/arca/internal/errs"
)

// maxMetadataBytes bounds a core metadata file (a wheel's METADATA, an
// sdist's PKG-INFO). Long READMEs make them large; 10 MiB is generous.
const maxMetadataBytes = 10 << 20

// maxMetadataFields bounds the header lines of a metadata file.
const maxMetadataFields = 10000

// Metadata is a parsed core metadata file (the email-header format of
// https://packaging.python.org/specifications/core-metadata/).
type Metadata struct {
	// Fields holds every header's values in file order, by lowercase name.
	Fields map[string][]string
	// Body is the text after the headers: the description, since
	// metadata 2.1.
	Body string
}

// ParseMetadata parses a core metadata file. It requires Name and Version
// and checks them; other fields are kept as they are.
func ParseMetadata(b []byte) (*Metadata, error) {
	if len(b) > maxMetadataBytes {
		return nil, errs.E(errs.TooLarge, "metadata is larger than %d bytes", maxMetadataBytes)
	}
	if !utf8.Valid(b) {
		return nil, errs.E(errs.Invalid, "metadata is not valid UTF-8")
	}
	m := &Metadata{Fields: map[string][]string{}}
	rest := b
	var key string // the field a continuation line extends
	n := 0
	for len(rest) > 0 {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			m.Body = string(rest)
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if key == "" {
				return nil, errs.E(errs.Invalid, "metadata starts with a continuation line")
			}
			vals := m.Fields[key]
			vals[len(vals)-1] += "\n" + string(line)
			continue
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(k) == 0 || !isFieldName(k) {
			return nil, errs.E(errs.Invalid, "metadata line %q is not a \"Name: value\" field", truncate(string(line), 60))
		}
		if n++; n > maxMetadataFields {
			return nil, errs.E(errs.TooLarge, "metadata has more than %d fields", maxMetadataFields)
		}
		key = strings.ToLower(string(k))
		m.Fields[key] = append(m.Fields[key], strings.TrimSpace(string(v)))
	}
	name, version := m.Get("name"), m.Get("version")
	if name == "" || version == "" {
		return nil, errs.E(errs.Invalid, "metadata lacks the Name or Version field")
	}
	if err := ValidName(name); err != nil {
		return nil, errs.E(errs.Invalid, "metadata: %s", errs.Message(err))
	}
	if _, err := ParseVersion(version); err != nil {
		return nil, errs.E(errs.Invalid, "metadata: %s", errs.Message(err))
	}
	return m, nil
}

func isFieldName(k []byte) bool {
	for _, c := range k {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// Get returns the first value of a field (name in any case), or "".
func (m *Metadata) Get(name string) string {
	if v := m.Fields[strings.ToLower(name)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// All returns every value of a field.
func (m *Metadata) All(name string) []string { return m.Fields[strings.ToLower(name)] }

// Description is the long description: the body, or the Description field
// of older metadata versions (whose continuation lines start with
// "        |" or eight spaces).
func (m *Metadata) Description() string {
	if strings.TrimSpace(m.Body) != "" {
		return m.Body
	}
	d := m.Get("description")
	if !strings.Contains(d, "\n") {
		return d
	}
	lines := strings.Split(d, "\n")
	for i := 1; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "       |"):
			l = strings.TrimPrefix(l, "       |")
		case strings.HasPrefix(l, "        "):
			l = l[8:]
		default:
			l = strings.TrimLeft(l, " \t")
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n")
}
