package lineage

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/arcaproject/arca/internal/errs"
)

// Node kinds: the first part of a ref, up to its colon.
const (
	KindImage        = "oci"          // oci:<repo>/<image>@sha256:<hex> (or :<tag>, resolved to its digest)
	KindRun          = "mlflow-run"   // mlflow-run:<run id>
	KindLoggedModel  = "logged-model" // logged-model:m-<id>
	KindModelVersion = "model"        // model:<registered model name>/<version>
	KindDataset      = "dataset"      // dataset:<MLflow dataset digest>
	KindS3           = "s3"           // s3:<bucket>/<key>
	KindRaw          = "raw"          // raw:<repo>/<path>
	KindDVC          = "dvc-md5"      // dvc-md5:<md5>, or <md5>.dir for a directory's manifest
)

// Kinds lists every node kind.
var Kinds = []string{KindImage, KindRun, KindLoggedModel, KindModelVersion, KindDataset, KindS3, KindRaw, KindDVC}

// maxRef bounds a ref's length: refs arrive from clients and annotations.
const maxRef = 2048

// Ref names one node of the graph. Which fields are set depends on Kind:
//
//	oci           Repo, Name (the image), and Digest or Tag
//	s3, raw       Repo (bucket or repository), Name (key or path)
//	model         Name (registered model), Version
//	mlflow-run, logged-model, dataset, dvc-md5   Name (the id, digest or md5)
type Ref struct {
	Kind    string
	Repo    string
	Name    string
	Version int64
	Digest  string
	Tag     string
}

// String is the canonical text of r, which ParseRef reads back to r.
func (r Ref) String() string {
	switch r.Kind {
	case KindImage:
		if r.Digest != "" {
			return r.Kind + ":" + r.Repo + "/" + r.Name + "@" + r.Digest
		}
		return r.Kind + ":" + r.Repo + "/" + r.Name + ":" + r.Tag
	case KindS3, KindRaw:
		return r.Kind + ":" + r.Repo + "/" + r.Name
	case KindModelVersion:
		return r.Kind + ":" + r.Name + "/" + strconv.FormatInt(r.Version, 10)
	}
	return r.Kind + ":" + r.Name
}

// Repository is the arca repository whose permissions decide who reads r
// ("" for MLflow's nodes and DVC content, which have rules of their own).
func (r Ref) Repository() string {
	switch r.Kind {
	case KindImage, KindS3, KindRaw:
		return r.Repo
	}
	return ""
}

// ParseRef reads a ref (see the kinds above). It refuses what is not
// one, with an Invalid error that quotes at most the start of s.
func ParseRef(s string) (Ref, error) {
	bad := func(why string) (Ref, error) {
		return Ref{}, errs.E(errs.Invalid, "invalid lineage ref %q: %s", clip(s), why)
	}
	if len(s) > maxRef {
		return bad("longer than 2048 bytes")
	}
	if !printable(s) {
		return bad("control characters or invalid UTF-8")
	}
	kind, rest, ok := strings.Cut(s, ":")
	if !ok || rest == "" {
		return bad("want <kind>:<name>, kinds " + strings.Join(Kinds, ", "))
	}
	r := Ref{Kind: kind}
	switch kind {
	case KindImage:
		path := rest
		if p, d, ok := cutLast(rest, "@"); ok {
			path, r.Digest = p, d
			if !validDigest(d) {
				return bad("the digest must be sha256:<64 hex> or sha512:<128 hex>")
			}
		} else {
			slash := strings.LastIndex(rest, "/")
			colon := strings.LastIndex(rest, ":")
			if colon < slash+1 {
				return bad("want oci:<repo>/<image>@<digest> or oci:<repo>/<image>:<tag>")
			}
			path, r.Tag = rest[:colon], rest[colon+1:]
			if !validTag(r.Tag) {
				return bad("invalid tag")
			}
		}
		repo, image, ok := strings.Cut(path, "/")
		if !ok || !validSegment(repo) || !validPath(image) {
			return bad("want oci:<repo>/<image>")
		}
		r.Repo, r.Name = repo, image
	case KindS3, KindRaw:
		repo, key, ok := strings.Cut(rest, "/")
		if !ok || !validSegment(repo) || key == "" {
			return bad("want " + kind + ":<" + map[string]string{KindS3: "bucket>/<key", KindRaw: "repo>/<path"}[kind] + ">")
		}
		if kind == KindRaw && !validPath(key) {
			return bad("empty, . or .. path segments")
		}
		r.Repo, r.Name = repo, key
	case KindModelVersion:
		name, v, ok := cutLast(rest, "/")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || name == "" || err != nil || n < 1 || strconv.FormatInt(n, 10) != v {
			return bad("want model:<name>/<version>, a version number from 1")
		}
		r.Name, r.Version = name, n
	case KindRun:
		if !validID(rest) {
			return bad("a run id is letters, digits, _ and -")
		}
		r.Name = rest
	case KindLoggedModel:
		if !strings.HasPrefix(rest, "m-") || !validID(rest) {
			return bad("a logged model id is m-<letters and digits>")
		}
		r.Name = rest
	case KindDataset:
		if len(rest) > 256 || strings.ContainsAny(rest, " /") {
			return bad("a dataset digest has no spaces or slashes and at most 256 bytes")
		}
		r.Name = rest
	case KindDVC:
		m := strings.ToLower(rest)
		if !validMD5(strings.TrimSuffix(m, ".dir")) {
			return bad("want 32 hex digits, with .dir for a directory")
		}
		r.Name = m
	default:
		return bad("unknown kind " + strconv.Quote(clip(kind)) + "; kinds are " + strings.Join(Kinds, ", "))
	}
	return r, nil
}

// validDigest accepts sha256 and sha512 digests in lowercase hex.
func validDigest(d string) bool {
	alg, hex, _ := strings.Cut(d, ":")
	switch alg {
	case "sha256":
		return len(hex) == 64 && isHex(hex)
	case "sha512":
		return len(hex) == 128 && isHex(hex)
	}
	return false
}

func validMD5(s string) bool { return len(s) == 32 && isHex(s) }

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// validTag is the OCI distribution spec's tag grammar.
func validTag(t string) bool {
	if t == "" || len(t) > 128 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
		if !alnum && (i == 0 || (c != '.' && c != '-')) {
			return false
		}
	}
	return true
}

// validID is MLflow's run id grammar (letters and digits, then _ and -).
func validID(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i, c := range s {
		alnum := c < utf8.RuneSelf && (unicode.IsLetter(c) || unicode.IsDigit(c))
		if !alnum && (i == 0 || (c != '_' && c != '-')) {
			return false
		}
	}
	return true
}

// validSegment is a repository or bucket name: not empty, no slash.
func validSegment(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.Contains(s, "/")
}

// validPath is a slash-separated path without empty, . or .. segments.
func validPath(p string) bool {
	if p == "" {
		return false
	}
	for _, s := range strings.Split(p, "/") {
		if !validSegment(s) {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if unicode.IsControl(c) {
			return false
		}
	}
	return true
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// clip shortens untrusted text quoted in errors.
func clip(s string) string {
	if len(s) > 80 {
		s = s[:80]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		return s + "…"
	}
	return s
}
