package ui

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
)

// funcs are the helpers every template may call.
func (v *views) funcs() template.FuncMap {
	return template.FuncMap{
		"asset": v.asset,
		"bytes": func(n int64) string { return humanize.IBytes(uint64(n)) }, // 1.5 MiB, 79 MiB
		"when":  when,
		"ago":   ago,
		"short": shortDigest,
		"pretty": func(s string) string {
			var v any
			if json.Unmarshal([]byte(s), &v) != nil {
				return s
			}
			b, _ := json.MarshalIndent(v, "", "  ")
			return string(b)
		},
		"add":   func(a, b int) int { return a + b },
		"join":  strings.Join,
		"lower": strings.ToLower,
		"title": func(s string) string {
			if s == "" {
				return s
			}
			return strings.ToUpper(s[:1]) + s[1:]
		},
		"pathEscape":  url.PathEscape,
		"queryEscape": url.QueryEscape,
		"lineage":     lineageHref,
		// dict builds a map for passing several values to a partial:
		// {{template "x" dict "A" 1 "B" 2}}.
		"dict": func(kv ...any) (map[string]any, error) {
			if len(kv)%2 != 0 {
				return nil, fmt.Errorf("dict: odd number of arguments")
			}
			m := make(map[string]any, len(kv)/2)
			for i := 0; i < len(kv); i += 2 {
				k, ok := kv[i].(string)
				if !ok {
					return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
				}
				m[k] = kv[i+1]
			}
			return m, nil
		},
		// selected and checked mark the current option of a select or radio.
		"selected": func(a, b string) template.HTMLAttr {
			if a == b {
				return "selected"
			}
			return ""
		},
		"checked": func(ok bool) template.HTMLAttr {
			if ok {
				return "checked"
			}
			return ""
		},
	}
}

// when writes a Unix-millisecond time in UTC; 0 is "never".
func when(ms int64) string {
	if ms == 0 {
		return "never"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04 UTC")
}

// ago writes how long ago a Unix-millisecond time was, coarsely.
func ago(ms int64) string {
	if ms == 0 {
		return "never"
	}
	d := time.Since(time.UnixMilli(ms))
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	case d < 60*24*time.Hour:
		return fmt.Sprintf("%d days ago", int(d.Hours()/24))
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02")
}

// shortDigest abbreviates "sha256:<64 hex>" to its first 12 hex digits.
func shortDigest(d string) string {
	if _, h, ok := strings.Cut(d, ":"); ok && len(h) > 12 {
		return h[:12]
	}
	return d
}
