package pypi

import (
	"bytes"
	"encoding/json"
	"html"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/errs"
)

// maxPageLinks bounds the links read from one upstream page.
const maxPageLinks = 200000

// ParseSimpleHTML reads the links of a project page in the HTML form
// (PEP 503 with PEP 592 and 658/714 attributes), resolving URLs against
// base (the page's URL, or its <base href>). Hash fragments become
// SHA256 or MD5. Sizes are unknown (-1).
func ParseSimpleHTML(page []byte, base *url.URL) ([]File, error) {
	var files []File
	rest := page
	for {
		i := indexTag(rest, "a")
		b := indexTag(rest, "base")
		if b >= 0 && (i < 0 || b < i) {
			attrs, after := readAttrs(rest[b+len("<base"):])
			rest = after
			if href, ok := attrs["href"]; ok {
				if u, err := base.Parse(href); err == nil {
					base = u
				}
			}
			continue
		}
		if i < 0 {
			break
		}
		attrs, after := readAttrs(rest[i+len("<a"):])
		text, after2 := readText(after)
		rest = after2
		href, ok := attrs["href"]
		if !ok {
			continue
		}
		if len(files) >= maxPageLinks {
			return nil, errs.E(errs.Invalid, "page has more than %d links", maxPageLinks)
		}
		u, err := base.Parse(strings.TrimSpace(href))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			continue
		}
		f := File{Size: -1}
		f.SHA256, f.MD5 = hashFragment(u.Fragment)
		u.Fragment, u.RawFragment = "", ""
		f.URL = u.String()
		f.Filename = strings.TrimSpace(text)
		if seg := path.Base(u.Path); f.Filename == "" || (seg != "" && seg != "/" && seg != "." && f.Filename != seg) {
			f.Filename = seg // PEP 503: the text must match the URL's last segment; trust the URL
		}
		if rp, ok := attrs["data-requires-python"]; ok {
			f.RequiresPython = rp
		}
		if reason, ok := attrs["data-yanked"]; ok {
			f.Yanked, f.YankedReason = true, reason
		}
		for _, a := range []string{"data-core-metadata", "data-dist-info-metadata"} {
			if v, ok := attrs[a]; ok && v != "false" {
				f.Metadata = true
				if alg, h, ok := strings.Cut(v, "="); ok && alg == "sha256" && isHex64(h) {
					f.MetadataSHA256 = strings.ToLower(h)
				}
				break
			}
		}
		files = append(files, f)
	}
	return files, nil
}

// hashFragment reads a #sha256=... or #md5=... fragment.
func hashFragment(frag string) (sha256, md5 string) {
	alg, h, ok := strings.Cut(frag, "=")
	if !ok {
		return "", ""
	}
	h = strings.ToLower(h)
	switch {
	case alg == "sha256" && isHex64(h):
		return h, ""
	case alg == "md5" && len(h) == 32 && isHex(h):
		return "", h
	}
	return "", ""
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func isHex64(s string) bool { return len(s) == 64 && isHex(s) }

// indexTag finds the next start tag <name (followed by a space, / or >),
// case-insensitively.
func indexTag(b []byte, name string) int {
	off := 0
	for {
		i := bytes.IndexByte(b[off:], '<')
		if i < 0 {
			return -1
		}
		i += off
		end := i + 1 + len(name)
		if end <= len(b) && strings.EqualFold(string(b[i+1:end]), name) {
			if end == len(b) {
				return -1
			}
			switch b[end] {
			case ' ', '\t', '\n', '\r', '\f', '/', '>':
				return i
			}
		}
		off = i + 1
	}
}

// readAttrs parses a start tag's attributes up to its ">", returning them
// (names lowercase, values unescaped) and the bytes after the tag.
func readAttrs(b []byte) (map[string]string, []byte) {
	attrs := map[string]string{}
	i := 0
	for i < len(b) {
		for i < len(b) && isSpace(b[i]) || i < len(b) && b[i] == '/' {
			i++
		}
		if i >= len(b) {
			break
		}
		if b[i] == '>' {
			return attrs, b[i+1:]
		}
		start := i
		for i < len(b) && !isSpace(b[i]) && b[i] != '=' && b[i] != '>' && b[i] != '/' {
			i++
		}
		name := strings.ToLower(string(b[start:i]))
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i >= len(b) || b[i] != '=' {
			if name != "" {
				if _, dup := attrs[name]; !dup {
					attrs[name] = ""
				}
			}
			if name == "" {
				i++ // a stray character; skip it
			}
			continue
		}
		i++ // '='
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		var val string
		if i < len(b) && (b[i] == '"' || b[i] == '\'') {
			q := b[i]
			end := bytes.IndexByte(b[i+1:], q)
			if end < 0 {
				val, i = string(b[i+1:]), len(b)
			} else {
				val, i = string(b[i+1:i+1+end]), i+2+end
			}
		} else {
			start := i
			for i < len(b) && !isSpace(b[i]) && b[i] != '>' {
				i++
			}
			val = string(b[start:i])
		}
		if _, dup := attrs[name]; !dup && name != "" {
			attrs[name] = html.UnescapeString(val)
		}
	}
	return attrs, nil
}

// readText returns the unescaped text up to the closing </a>, and the
// bytes after it.
func readText(b []byte) (string, []byte) {
	end := -1
	for off := 0; ; {
		i := bytes.IndexByte(b[off:], '<')
		if i < 0 {
			break
		}
		i += off
		if i+3 <= len(b) && b[i+1] == '/' && (b[i+2] == 'a' || b[i+2] == 'A') {
			end = i
			break
		}
		off = i + 1
	}
	if end < 0 {
		return html.UnescapeString(string(b)), nil
	}
	text := b[:end]
	// Drop markup inside the link (<span>...), keeping its text.
	var plain bytes.Buffer
	for len(text) > 0 {
		lt := bytes.IndexByte(text, '<')
		if lt < 0 {
			plain.Write(text)
			break
		}
		plain.Write(text[:lt])
		gt := bytes.IndexByte(text[lt:], '>')
		if gt < 0 {
			break
		}
		text = text[lt+gt+1:]
	}
	rest := b[end:]
	if gt := bytes.IndexByte(rest, '>'); gt >= 0 {
		rest = rest[gt+1:]
	} else {
		rest = nil
	}
	return html.UnescapeString(plain.String()), rest
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

// simpleJSON is a project page in the JSON form (PEP 691, 700).
type simpleJSON struct {
	Meta struct {
		APIVersion string `json:"api-version"`
	} `json:"meta"`
	Name  string `json:"name"`
	Files []struct {
		Filename         string            `json:"filename"`
		URL              string            `json:"url"`
		Hashes           map[string]string `json:"hashes"`
		RequiresPython   *string           `json:"requires-python"`
		CoreMetadata     json.RawMessage   `json:"core-metadata"`
		DistInfoMetadata json.RawMessage   `json:"dist-info-metadata"`
		Yanked           json.RawMessage   `json:"yanked"`
		Size             *int64            `json:"size"`
		UploadTime       string            `json:"upload-time"`
	} `json:"files"`
}

// ParseSimpleJSON reads a project page in the JSON form, resolving URLs
// against base. It returns the project's name as the page gives it.
func ParseSimpleJSON(page []byte, base *url.URL) (string, []File, error) {
	var p simpleJSON
	if err := json.Unmarshal(page, &p); err != nil {
		return "", nil, errs.Wrap(err, errs.Invalid, "invalid JSON project page")
	}
	if major, _, _ := strings.Cut(p.Meta.APIVersion, "."); major != "1" {
		return "", nil, errs.E(errs.Invalid, "unsupported simple API version %q", p.Meta.APIVersion)
	}
	if len(p.Files) > maxPageLinks {
		return "", nil, errs.E(errs.Invalid, "page has more than %d files", maxPageLinks)
	}
	files := make([]File, 0, len(p.Files))
	for _, jf := range p.Files {
		u, err := base.Parse(jf.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || jf.Filename == "" {
			continue
		}
		fragSHA, fragMD5 := hashFragment(u.Fragment)
		u.Fragment, u.RawFragment = "", ""
		f := File{Filename: jf.Filename, URL: u.String(), Size: -1}
		if h := strings.ToLower(jf.Hashes["sha256"]); isHex64(h) {
			f.SHA256 = h
		} else if h := strings.ToLower(jf.Hashes["md5"]); len(h) == 32 && isHex(h) {
			f.MD5 = h
		} else {
			f.SHA256, f.MD5 = fragSHA, fragMD5
		}
		if jf.RequiresPython != nil {
			f.RequiresPython = *jf.RequiresPython
		}
		meta := jf.CoreMetadata
		if len(meta) == 0 {
			meta = jf.DistInfoMetadata
		}
		f.Metadata, f.MetadataSHA256 = metadataField(meta)
		f.Yanked, f.YankedReason = yankedField(jf.Yanked)
		if jf.Size != nil && *jf.Size >= 0 {
			f.Size = *jf.Size
		}
		if t, err := time.Parse(time.RFC3339Nano, jf.UploadTime); err == nil {
			f.UploadTime = t.UnixMilli()
			f.UploadTimeText = jf.UploadTime
			if _, off := t.Zone(); off != 0 || !strings.HasSuffix(jf.UploadTime, "Z") {
				f.UploadTimeText = t.UTC().Format(time.RFC3339Nano)
			}
		}
		files = append(files, f)
	}
	return p.Name, files, nil
}

// metadataField reads core-metadata: false, true or {"sha256": ...}.
func metadataField(raw json.RawMessage) (bool, string) {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, ""
	}
	var hashes map[string]string
	if json.Unmarshal(raw, &hashes) == nil && hashes != nil {
		if h := strings.ToLower(hashes["sha256"]); isHex64(h) {
			return true, h
		}
		return true, ""
	}
	return false, ""
}

// yankedField reads yanked: false, true or a reason.
func yankedField(raw json.RawMessage) (bool, string) {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, ""
	}
	var reason string
	if json.Unmarshal(raw, &reason) == nil {
		return true, reason
	}
	return false, ""
}
