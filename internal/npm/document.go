package npm

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
)

// Document is the body of PUT /<name>: npm publish sends a packument with
// the new version and its tarball as a base64 attachment; npm deprecate
// and npm unpublish send the whole packument back, changed, without
// attachments.
type Document struct {
	ID          string                     `json:"_id"`
	Rev         string                     `json:"_rev"`
	Name        string                     `json:"name"`
	DistTags    map[string]string          `json:"dist-tags"`
	Versions    map[string]json.RawMessage `json:"versions"`
	Attachments map[string]Attachment      `json:"_attachments"`
}

// Attachment is one file of a publish document.
type Attachment struct {
	ContentType string `json:"content_type"`
	Data        string `json:"data"` // base64
	Length      int64  `json:"length"`
}

// maxManifest bounds one version's document.
const maxManifest = 1 << 20

// DecodeDocument reads a publish document of at most limit bytes.
func DecodeDocument(r io.Reader, limit int64) (*Document, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		var e *errs.Error
		if errors.As(err, &e) {
			return nil, err
		}
		return nil, errs.Wrap(err, errs.Invalid, "reading the request body failed")
	}
	if int64(len(b)) > limit {
		return nil, errs.E(errs.TooLarge, "package document exceeds %d bytes", limit)
	}
	var d Document
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, errs.E(errs.Invalid, "invalid package document: %s", jsonError(err))
	}
	return &d, nil
}

// jsonError is a short, client-safe description of a JSON decoding error.
func jsonError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "malformed JSON"
	case errors.As(err, &te):
		if te.Field != "" {
			return "field " + te.Field + " has the wrong type"
		}
		return "wrong type of value"
	}
	return "malformed JSON"
}

// Manifest is one version's document, kept as its JSON fields so that
// whatever a client publishes is served back unchanged.
type Manifest struct {
	Fields map[string]json.RawMessage
}

// ParseManifest decodes a version document.
func ParseManifest(raw []byte) (*Manifest, error) {
	if len(raw) > maxManifest {
		return nil, errs.E(errs.TooLarge, "version document exceeds %d bytes", maxManifest)
	}
	m := &Manifest{}
	if err := json.Unmarshal(raw, &m.Fields); err != nil || m.Fields == nil {
		return nil, errs.E(errs.Invalid, "a version document must be a JSON object")
	}
	return m, nil
}

// String returns a string field, or "" when it is absent or not a string.
func (m *Manifest) String(field string) string {
	var s string
	if raw, ok := m.Fields[field]; ok {
		json.Unmarshal(raw, &s)
	}
	return s
}

// Set sets a field to the JSON encoding of v; a nil v deletes it.
func (m *Manifest) Set(field string, v any) {
	if v == nil {
		delete(m.Fields, field)
		return
	}
	b, _ := json.Marshal(v)
	m.Fields[field] = b
}

// Dist returns the manifest's dist object's fields.
func (m *Manifest) Dist() map[string]json.RawMessage {
	var d map[string]json.RawMessage
	json.Unmarshal(m.Fields["dist"], &d)
	if d == nil {
		d = map[string]json.RawMessage{}
	}
	return d
}

// abbreviatedFields are the fields of a version in the abbreviated
// packument (application/vnd.npm.install-v1+json): what installing needs.
var abbreviatedFields = []string{
	"name", "version", "deprecated", "dependencies", "optionalDependencies", "devDependencies",
	"bundleDependencies", "bundledDependencies", "peerDependencies", "peerDependenciesMeta",
	"acceptDependencies", "bin", "directories", "engines", "cpu", "os", "libc", "_hasShrinkwrap",
	"hasInstallScript", "funding", "license",
}

// Render returns the full and the abbreviated form of the manifest, each
// cut off right after `"tarball":"` at the end of its dist object: the
// caller appends the tarball URL and `"}}`. dist comes last and tarball
// last within it, so the URL, which depends on the address a client used,
// is the only part that is not stored.
func (m *Manifest) Render() (full, abbreviated []byte) {
	dist := m.Dist()
	delete(dist, "tarball")
	full = renderHead(m.Fields, dist)
	abbr := map[string]json.RawMessage{}
	for _, f := range abbreviatedFields {
		if v, ok := m.Fields[f]; ok {
			abbr[f] = v
		}
	}
	if _, ok := abbr["hasInstallScript"]; !ok && m.hasInstallScript() {
		abbr["hasInstallScript"] = json.RawMessage("true")
	}
	return full, renderHead(abbr, dist)
}

// hasInstallScript reports whether the manifest runs a script on install.
func (m *Manifest) hasInstallScript() bool {
	var scripts map[string]any
	json.Unmarshal(m.Fields["scripts"], &scripts)
	for _, s := range []string{"preinstall", "install", "postinstall"} {
		if _, ok := scripts[s]; ok {
			return true
		}
	}
	return false
}

// renderHead writes {fields...,"dist":{dist...,"tarball":" with sorted,
// compacted fields.
func renderHead(fields, dist map[string]json.RawMessage) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	writeFields(&b, fields, "dist")
	if b.Len() > 1 {
		b.WriteByte(',')
	}
	b.WriteString(`"dist":{`)
	n := b.Len()
	writeFields(&b, dist, "tarball")
	if b.Len() > n {
		b.WriteByte(',')
	}
	b.WriteString(`"tarball":"`)
	return b.Bytes()
}

func writeFields(b *bytes.Buffer, fields map[string]json.RawMessage, skip string) {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		if k != skip {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		if err := json.Compact(b, fields[k]); err != nil {
			b.WriteString("null")
		}
	}
}

// headManifest parses a stored manifest head back into a Manifest.
func headManifest(head []byte) (*Manifest, error) {
	raw := make([]byte, 0, len(head)+3)
	raw = append(append(raw, head...), `"}}`...)
	m, err := ParseManifest(raw)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "corrupt stored manifest")
	}
	dist := m.Dist()
	delete(dist, "tarball")
	m.Set("dist", dist)
	return m, nil
}

// Integrity is a tarball's digests as npm states them in dist: shasum
// (sha1, hex) and integrity (Subresource Integrity, "sha512-<base64>").
type Integrity struct {
	SHA1   string // hex
	SHA512 string // hex
}

// ParseIntegrity reads the digests a version's dist claims. An integrity
// string may list several hashes separated by spaces; the sha512 ones are
// used, and they must agree.
func ParseIntegrity(dist map[string]json.RawMessage) (Integrity, error) {
	var in Integrity
	var shasum, integrity string
	if raw, ok := dist["shasum"]; ok && json.Unmarshal(raw, &shasum) != nil {
		return in, errs.E(errs.Invalid, "dist.shasum must be a string")
	}
	if raw, ok := dist["integrity"]; ok && json.Unmarshal(raw, &integrity) != nil {
		return in, errs.E(errs.Invalid, "dist.integrity must be a string")
	}
	if shasum != "" {
		if len(shasum) != 40 || !isHex(shasum) {
			return in, errs.E(errs.Invalid, "dist.shasum is not a sha1 hex digest")
		}
		in.SHA1 = strings.ToLower(shasum)
	}
	for _, item := range strings.Fields(integrity) {
		alg, val, ok := strings.Cut(item, "-")
		if !ok {
			return in, errs.E(errs.Invalid, "dist.integrity is not a Subresource Integrity string")
		}
		val, _, _ = strings.Cut(val, "?") // SRI options
		switch alg {
		case "sha512":
			sum, err := base64.StdEncoding.DecodeString(val)
			if err != nil || len(sum) != sha512.Size {
				return in, errs.E(errs.Invalid, "dist.integrity has a malformed sha512 digest")
			}
			h := hex.EncodeToString(sum)
			if in.SHA512 != "" && in.SHA512 != h {
				return in, errs.E(errs.Invalid, "dist.integrity lists two different sha512 digests")
			}
			in.SHA512 = h
		case "sha1":
			sum, err := base64.StdEncoding.DecodeString(val)
			if err != nil || len(sum) != sha1.Size {
				return in, errs.E(errs.Invalid, "dist.integrity has a malformed sha1 digest")
			}
			h := hex.EncodeToString(sum)
			if in.SHA1 != "" && in.SHA1 != h {
				return in, errs.E(errs.Invalid, "dist.integrity and dist.shasum disagree")
			}
			in.SHA1 = h
		}
	}
	return in, nil
}

// SRI formats a sha512 hex digest as npm's integrity string.
func SRI(sha512Hex string) string {
	sum, _ := hex.DecodeString(sha512Hex)
	return "sha512-" + base64.StdEncoding.EncodeToString(sum)
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}
