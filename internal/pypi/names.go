package pypi

import (
	"github.com/arcaproject/arca/internal/errs"
)

// maxNameLen bounds a project name; PyPI's longest are far shorter.
const maxNameLen = 200

// Normalize returns the PEP 503 normalized form of a project name:
// lowercase, with every run of ".", "-" and "_" replaced by one "-".
// Indexes compare names, and build URLs, in this form.
func Normalize(name string) string {
	b := make([]byte, 0, len(name))
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '.' || c == '-' || c == '_' {
			if !sep {
				b = append(b, '-')
			}
			sep = true
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		sep = false
		b = append(b, c)
	}
	return string(b)
}

// ValidName checks a project name against the grammar of PEP 508 (ASCII
// letters and digits, with ".", "-" and "_" inside).
func ValidName(name string) error {
	if name == "" {
		return errs.E(errs.Invalid, "project name is empty")
	}
	if len(name) > maxNameLen {
		return errs.E(errs.Invalid, "project name is longer than %d characters", maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		inner := c == '.' || c == '-' || c == '_'
		if !alnum && (!inner || i == 0 || i == len(name)-1) {
			return errs.E(errs.Invalid, "invalid project name %q: use ASCII letters and digits, with . - _ between them (PEP 508)", truncate(name, 80))
		}
	}
	return nil
}

// IsNormalized reports whether name is already in normalized form.
func IsNormalized(name string) bool { return Normalize(name) == name }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
