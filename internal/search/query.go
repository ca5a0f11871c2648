package search

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/arcaproject/arca/internal/errs"
)

// Query is a parsed search: free-text terms, or a digest, narrowed by
// filters.
//
// The syntax is words separated by spaces. format:F, repo:R and kind:K
// narrow the results; a word that is "sha256:<hex>" or at least
// MinDigestPrefix hex characters (optionally after "sha256:") makes the
// query a digest search ("where is this content used"); every other word
// is a term. A bare hex word is searched as a word too when no content
// has that digest. A term matches names, versions and descriptions at the start
// of their words ("req" matches "requests"); all terms must match.
type Query struct {
	// Terms are the words of the query, each as the lowercase runs of
	// letters and digits it is made of ("my-pkg" is {"my", "pkg"}).
	Terms [][]string
	// Text is the terms as typed, lowercased and joined by a space: an
	// exact match of a name ranks first.
	Text string
	// Digest is "sha256:" and 12 to 64 lowercase hex characters.
	Digest string
	// BareDigest says Digest was typed without "sha256:": then Terms
	// holds it as a word too, searched when no content has that digest
	// (a 32-hex MLflow run id, a long number).
	BareDigest bool
	// Format, Repository and Kind filter results ("" for any).
	Format, Repository, Kind string
}

// Limits of a query: bounded work for anyone who can reach the endpoint.
const (
	MaxQueryLen     = 256
	MaxTerms        = 8
	MaxTermTokens   = 8
	MinDigestPrefix = 12
)

// ParseQuery reads a query typed by a user.
func ParseQuery(s string) (Query, error) {
	var q Query
	if len(s) > MaxQueryLen {
		return q, errs.E(errs.Invalid, "query too long (at most %d bytes)", MaxQueryLen)
	}
	if !utf8.ValidString(s) {
		return q, errs.E(errs.Invalid, "query is not UTF-8")
	}
	var text []string
	for _, w := range strings.Fields(s) {
		if k, v, ok := strings.Cut(w, ":"); ok && v != "" {
			switch strings.ToLower(k) {
			case "format":
				q.Format = strings.ToLower(v)
				continue
			case "repo", "repository":
				q.Repository = v
				continue
			case "kind":
				q.Kind = strings.ToLower(v)
				continue
			}
		}
		d, isDigest := digestOf(w)
		if isDigest {
			if q.Digest != "" {
				return q, errs.E(errs.Invalid, "a query names at most one digest")
			}
			q.Digest = d
			if q.BareDigest = !strings.HasPrefix(strings.ToLower(w), "sha256:"); !q.BareDigest {
				continue
			}
		}
		toks := Tokens(w)
		if len(toks) == 0 {
			continue
		}
		if len(toks) > MaxTermTokens {
			return q, errs.E(errs.Invalid, "term %q has too many parts (at most %d)", w, MaxTermTokens)
		}
		if len(q.Terms) == MaxTerms {
			return q, errs.E(errs.Invalid, "too many terms (at most %d)", MaxTerms)
		}
		q.Terms = append(q.Terms, toks)
		text = append(text, strings.ToLower(w))
	}
	q.Text = strings.Join(text, " ")
	if q.Digest != "" && len(q.Terms) > 0 && !(q.BareDigest && len(q.Terms) == 1) {
		return q, errs.E(errs.Invalid, "a digest search takes no other terms")
	}
	if q.Digest == "" && len(q.Terms) == 0 {
		return q, errs.E(errs.Invalid, "nothing to search for: give a word or a digest (sha256:... or %d+ hex characters)", MinDigestPrefix)
	}
	return q, nil
}

// digestOf recognises a digest or a digest prefix.
func digestOf(w string) (string, bool) {
	w = strings.ToLower(w)
	hex := strings.TrimPrefix(w, "sha256:")
	if len(hex) < MinDigestPrefix || len(hex) > 64 {
		return "", false
	}
	for _, c := range hex {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", false
		}
	}
	return "sha256:" + hex, true
}

// Tokens splits s into the lowercase runs of letters and digits the index
// is made of; both engines split stored text the same way.
func Tokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}
