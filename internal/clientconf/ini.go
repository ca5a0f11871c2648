package clientconf

import (
	"strings"
)

// setINI sets key to value in section of an INI-style file (pip.conf,
// .pypirc, the AWS CLI's files, DVC's config), keeping every other line as
// it is: an existing key is replaced where it stands, a missing one is
// added at the end of its section, and a missing section at the end of the
// file. Section names compare exactly; keys compare case-insensitively, as
// Python's configparser does.
func setINI(content, section, key, value string) string {
	lines := splitLines(content)
	start, end := -1, len(lines) // the section's header line, and where it ends
	for i, l := range lines {
		name, ok := sectionName(l)
		if !ok {
			continue
		}
		if start >= 0 {
			end = i
			break
		}
		if name == section {
			start = i
		}
	}
	entry := key + " = " + value
	if start < 0 {
		if len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) != "" {
			lines = append(lines, "")
		}
		lines = append(lines, "["+section+"]", entry)
		return joinLines(lines)
	}
	last := start // the section's last non-blank line
	for i := start + 1; i < end; i++ {
		l := lines[i]
		if strings.TrimSpace(l) != "" {
			last = i
		}
		if k, ok := keyOf(l); ok && strings.EqualFold(k, key) {
			lines[i] = entry
			return joinLines(lines)
		}
	}
	lines = append(lines[:last+1], append([]string{entry}, lines[last+1:]...)...)
	return joinLines(lines)
}

// getINI returns the value of key in section, if set.
func getINI(content, section, key string) (string, bool) {
	in := false
	for _, l := range splitLines(content) {
		if name, ok := sectionName(l); ok {
			in = name == section
			continue
		}
		if k, ok := keyOf(l); in && ok && strings.EqualFold(k, key) {
			_, v, _ := strings.Cut(l, sepOf(l))
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

func sectionName(line string) (string, bool) {
	t := strings.TrimSpace(line)
	if len(t) < 2 || t[0] != '[' || t[len(t)-1] != ']' {
		return "", false
	}
	return strings.TrimSpace(t[1 : len(t)-1]), true
}

// keyOf returns the key of a "key = value" or "key: value" line, not of
// comments, continuation lines or section headers.
func keyOf(line string) (string, bool) {
	if line == "" || line[0] == ' ' || line[0] == '\t' || line[0] == '#' || line[0] == ';' || line[0] == '[' {
		return "", false
	}
	sep := sepOf(line)
	if sep == "" {
		return "", false
	}
	k, _, _ := strings.Cut(line, sep)
	k = strings.TrimSpace(k)
	return k, k != ""
}

// sepOf is the first of "=" and ":" in line, configparser's delimiters.
func sepOf(line string) string {
	eq, colon := strings.IndexByte(line, '='), strings.IndexByte(line, ':')
	switch {
	case eq < 0 && colon < 0:
		return ""
	case colon < 0 || (eq >= 0 && eq < colon):
		return "="
	default:
		return ":"
	}
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	// Lines keep a "\r" of CRLF endings; TrimSpace ignores it where it matters.
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func joinLines(lines []string) string { return strings.Join(lines, "\n") + "\n" }

// setLine sets "key=value" in a file of such lines without sections
// (.npmrc), in place or at the end.
func setLine(content, key, value string) string {
	lines := splitLines(content)
	for i, l := range lines {
		if k, _, ok := strings.Cut(l, "="); ok && strings.TrimSpace(k) == key {
			lines[i] = key + "=" + value
			return joinLines(lines)
		}
	}
	return joinLines(append(lines, key+"="+value))
}
