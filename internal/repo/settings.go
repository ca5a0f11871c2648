package repo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/arcaproject/arca/internal/errs"
)

// The pieces of repository settings that every format with proxy and
// group repositories shares (npm, Maven, Go, Helm): strict decoding, the
// upstream's URL and durations, and which kinds take which settings.

// DecodeSettings decodes a repository's settings map into v (a pointer to
// the format's Settings), refusing unknown keys. Empty settings leave v
// as it is.
func DecodeSettings(m map[string]any, v any) error {
	if len(m) == 0 {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return errs.Wrap(err, errs.Invalid, "invalid settings")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errs.E(errs.Invalid, "%v", err)
	}
	return nil
}

// DurationOr parses a Go duration setting, def when it is empty or invalid
// (CheckUpstream refuses invalid ones when settings are saved).
func DurationOr(s string, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return def
	}
	return d
}

// CheckUpstream validates a proxy's upstream: an http(s) URL with a host
// and no query, fragment or credentials (those go in their own settings,
// stored encrypted), and durations — given as name, value pairs — that
// are non-negative Go durations.
func CheckUpstream(rawURL string, durations ...string) error {
	p, err := url.Parse(rawURL)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return fmt.Errorf("upstream.url %q: want an http(s) URL", rawURL)
	}
	if p.RawQuery != "" || p.Fragment != "" || p.User != nil {
		return fmt.Errorf("upstream.url %q: no query, fragment or credentials (use username and password)", rawURL)
	}
	for i := 0; i+1 < len(durations); i += 2 {
		name, value := durations[i], durations[i+1]
		if value == "" {
			continue
		}
		if v, err := time.ParseDuration(value); err != nil || v < 0 {
			return fmt.Errorf("upstream.%s %q: want a non-negative Go duration such as 5m", name, value)
		}
	}
	return nil
}

// CheckKindSettings checks that a proxy has an upstream (valid by
// checkUpstream) and a group members, and that no other kind has either.
func CheckKindSettings(kind string, hasUpstream bool, members int, checkUpstream func() error) error {
	switch kind {
	case Proxy:
		if !hasUpstream {
			return errs.E(errs.Invalid, "a proxy repository needs settings.upstream.url")
		}
		if err := checkUpstream(); err != nil {
			return errs.E(errs.Invalid, "%v", err)
		}
	case Group:
		if members == 0 {
			return errs.E(errs.Invalid, "a group repository needs settings.members")
		}
	}
	if kind != Proxy && hasUpstream {
		return errs.E(errs.Invalid, "only proxy repositories have an upstream")
	}
	if kind != Group && members > 0 {
		return errs.E(errs.Invalid, "only group repositories have members")
	}
	return nil
}
