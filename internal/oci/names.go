package oci

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
)

// component is one path component of a repository name (OCI distribution
// spec): lowercase alphanumerics separated by ".", "_", "__" or dashes.
const component = `[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*`

var (
	namePattern = regexp.MustCompile(`^` + component + `(?:/` + component + `)*$`)
	tagPattern  = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// Name is an image name split into the arca repository (its first path
// component) and the image within it ("library/app" → "library", "app").
type Name struct {
	Repo  string
	Image string
}

func (n Name) String() string { return n.Repo + "/" + n.Image }

// ParseName validates an image name. Images live inside an arca
// repository, so a name has at least two components.
func ParseName(s string) (Name, error) {
	if len(s) > 255 || !namePattern.MatchString(s) {
		return Name{}, errs.E(errs.Invalid, "invalid repository name %q", truncate(s)).WithCode(codeNameInvalid)
	}
	repo, image, ok := strings.Cut(s, "/")
	if !ok {
		return Name{}, errs.E(errs.Invalid, "repository name %q needs an arca repository as its first component, as in library/%s", s, s).WithCode(codeNameInvalid)
	}
	return Name{Repo: repo, Image: image}, nil
}

// ValidTag reports whether s is a valid tag.
func ValidTag(s string) bool { return tagPattern.MatchString(s) }

// Digest is a content digest as clients write it: sha256 or sha512.
type Digest struct {
	Algorithm string // "sha256" or "sha512"
	Hex       string
}

func (d Digest) String() string { return d.Algorithm + ":" + d.Hex }

// ParseDigest validates a digest of a supported algorithm.
func ParseDigest(s string) (Digest, error) {
	alg, hexPart, ok := strings.Cut(s, ":")
	want := map[string]int{"sha256": 64, "sha512": 128}[alg]
	if !ok || want == 0 || len(hexPart) != want || !isLowerHex(hexPart) {
		return Digest{}, errs.E(errs.Invalid, "invalid digest %q", truncate(s)).WithCode(codeDigestInvalid)
	}
	return Digest{Algorithm: alg, Hex: hexPart}, nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// IsDigest reports whether a manifest reference is a digest (not a tag).
func IsDigest(ref string) bool { return strings.Contains(ref, ":") }

func truncate(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}

// strictUnmarshal decodes JSON, rejecting unknown fields.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
