package repo

import (
	"strings"
	"testing"
	"time"
)

func TestCheckUpstream(t *testing.T) {
	for _, c := range []struct {
		url     string
		durs    []string
		wantErr string
	}{
		{"https://up.example/x/", []string{"timeout", "30s"}, ""},
		{"ftp://up.example/", nil, "want an http(s) URL"},
		{"https:///nohost", nil, "want an http(s) URL"},
		{"https://u:p@up.example/", nil, "credentials"},
		{"https://up.example/?a=1", nil, "no query"},
		{"https://up.example/", []string{"timeout", "-1s"}, "upstream.timeout"},
		{"https://up.example/", []string{"list_max_age", "soon"}, "upstream.list_max_age"},
	} {
		err := CheckUpstream(c.url, c.durs...)
		if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("CheckUpstream(%q, %v) = %v, want %q", c.url, c.durs, err, c.wantErr)
		}
	}
	if d := DurationOr("", time.Minute); d != time.Minute {
		t.Errorf("DurationOr empty = %v", d)
	}
	if d := DurationOr("2s", time.Minute); d != 2*time.Second {
		t.Errorf("DurationOr 2s = %v", d)
	}
}

func TestDecodeSettingsRefusesUnknownKeys(t *testing.T) {
	var s struct {
		Members []string `json:"members"`
	}
	if err := DecodeSettings(map[string]any{"members": []any{"a"}, "merge": "x"}, &s); err == nil {
		t.Fatal("an unknown key was accepted")
	}
	if err := DecodeSettings(map[string]any{"members": []any{"a", "b"}}, &s); err != nil || len(s.Members) != 2 {
		t.Fatalf("decode = %v %+v", err, s)
	}
}
