package clientconf

import (
	"net/url"
	"strings"
	"testing"
)

func TestSetINI(t *testing.T) {
	for _, c := range []struct{ name, in, section, key, value, want string }{
		{"new file", "", "global", "index-url", "X", "[global]\nindex-url = X\n"},
		{"replace in place", "[global]\ntimeout = 5\nindex-url=old\n\n[other]\nk = v\n", "global", "index-url", "X",
			"[global]\ntimeout = 5\nindex-url = X\n\n[other]\nk = v\n"},
		{"add to its section, before the blank line", "[global]\ntimeout = 5\n\n[other]\nk = v\n", "global", "index-url", "X",
			"[global]\ntimeout = 5\nindex-url = X\n\n[other]\nk = v\n"},
		{"add a section", "[other]\nk = v\n", "global", "index-url", "X", "[other]\nk = v\n\n[global]\nindex-url = X\n"},
		{"keys ignore case, comments stay", "# mine\n[global]\n; note\nIndex-URL: old\n", "global", "index-url", "X",
			"# mine\n[global]\n; note\nindex-url = X\n"},
		{"same key in another section untouched", "[a]\nk = 1\n[b]\nk = 2\n", "b", "k", "3", "[a]\nk = 1\n[b]\nk = 3\n"},
		{"quoted dvc section", "['remote \"x\"']\nurl = s3://x\n", "'remote \"arca\"'", "url", "s3://y",
			"['remote \"x\"']\nurl = s3://x\n\n['remote \"arca\"']\nurl = s3://y\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := setINI(c.in, c.section, c.key, c.value)
			if got != c.want {
				t.Fatalf("setINI =\n%q\nwant\n%q", got, c.want)
			}
			if again := setINI(got, c.section, c.key, c.value); again != got {
				t.Fatalf("not idempotent:\n%q", again)
			}
			if v, ok := getINI(got, c.section, c.key); !ok || v != c.value {
				t.Fatalf("getINI = %q %v", v, ok)
			}
		})
	}
}

func FuzzSetINI(f *testing.F) {
	f.Add("[global]\nindex-url = x\n", "global", "index-url", "v")
	f.Add("a=b\n[s]\n k = v\n;c\n", "s", "k", "w")
	f.Fuzz(func(t *testing.T, in, section, key, value string) {
		if strings.ContainsAny(section+key+value, "\r\n[]=:") || strings.TrimSpace(section) != section || section == "" ||
			strings.TrimSpace(key) != key || key == "" || strings.TrimSpace(value) != value || strings.ContainsAny(key[:1], "#; \t") {
			return
		}
		got := setINI(in, section, key, value)
		if v, ok := getINI(got, section, key); !ok || v != value {
			t.Fatalf("after setINI(%q): getINI = %q %v\n%s", in, v, ok, got)
		}
		if setINI(got, section, key, value) != got {
			t.Fatalf("setINI is not idempotent on %q", got)
		}
	})
}

func target() Target {
	u, _ := url.Parse("http://arca.test:8080")
	s3, _ := url.Parse("http://arca.test:9000")
	return Target{URL: u, S3URL: s3, User: "erin", Secret: "arca_s3cr3t/+=", AccessKey: "AKIAARCA", SecretKey: "s3-secret-key"}
}

// TestEveryClientIdempotentAndMasked applies every client's edits twice to
// an empty and to a populated file: the second run changes nothing, the
// file holds the settings, and Mask hides every secret.
func TestEveryClientIdempotentAndMasked(t *testing.T) {
	tg := target()
	for _, client := range Clients() {
		edits, err := For(client, tg)
		if err != nil || len(edits) == 0 {
			t.Fatalf("%s: %v", client, err)
		}
		for _, e := range edits {
			for _, start := range []string{"", existing(e.Path)} {
				once, err := e.Apply(start)
				if err != nil {
					t.Fatalf("%s %s: %v", client, e.Path, err)
				}
				twice, _ := e.Apply(once)
				if twice != once {
					t.Errorf("%s %s: a second run changes the file:\n%s\n---\n%s", client, e.Path, once, twice)
				}
				if start != "" && !strings.Contains(once, "keep") {
					t.Errorf("%s %s: the file's other settings are gone:\n%s", client, e.Path, once)
				}
				masked := Mask(once, tg)
				for _, secret := range []string{tg.Secret, url.QueryEscape(tg.Secret), tg.SecretKey} {
					if strings.Contains(masked, secret) {
						t.Errorf("%s %s: Mask leaves a secret:\n%s", client, e.Path, masked)
					}
				}
			}
		}
	}
	if _, err := For("maven", tg); err == nil {
		t.Error("an unknown client was accepted")
	}
	if _, err := For("pip", Target{URL: tg.URL}); err == nil {
		t.Error("pip without credentials was accepted")
	}
}

// existing is a file of each kind with a setting of the user's own.
func existing(path string) string {
	switch {
	case strings.HasSuffix(path, ".json"):
		return "{\n\"detachKeys\": \"keep\",\n\"auths\": {\"other.example\": {\"auth\": \"eDp5\"}}\n}\n"
	case strings.HasSuffix(path, ".npmrc"):
		return "# keep\nsave-exact=true\n"
	case strings.HasSuffix(path, ".yaml"):
		return "apiVersion: \"\"\nrepositories:\n- name: keep\n  url: https://keep.example/charts\n"
	case strings.HasSuffix(path, ".netrc"):
		return "machine keep.example login me password pw\n"
	case strings.HasSuffix(path, ".toml"), strings.HasSuffix(path, ".env"):
		return "# mine\nexport keep=1\n"
	}
	return "[mine]\nkeep = 1\n"
}

func TestGoAndHelm(t *testing.T) {
	tg := target()
	tg.Private = "example.com/internal,example.org/x"
	edits, err := For("go", tg)
	if err != nil || len(edits) != 2 {
		t.Fatalf("go: %v %v", edits, err)
	}
	env, _ := edits[0].Apply("GOFLAGS=-mod=mod\nGOPROXY=https://old.example\n")
	if env != "GOFLAGS=-mod=mod\nGOPROXY=http://arca.test:8080/go/go-hosted\nGONOSUMDB=example.com/internal,example.org/x\n" {
		t.Fatalf("go env = %q", env)
	}
	netrc, _ := edits[1].Apply("machine other login a password b\nmachine arca.test:8080 login old password old\n")
	if netrc != "machine other login a password b\nmachine arca.test:8080 login erin password arca_s3cr3t/+=\n" {
		t.Fatalf(".netrc = %q", netrc)
	}
	tg.Private = "bad value"
	if _, err := For("go", tg); err == nil {
		t.Fatal("a --private with spaces was accepted")
	}
	edits, err = For("helm", target())
	if err != nil || len(edits) != 1 {
		t.Fatalf("helm: %v %v", edits, err)
	}
	y, err := edits[0].Apply("apiVersion: \"\"\nrepositories:\n- name: arca\n  url: https://old\n  caFile: /ca.pem\n- name: other\n  url: https://other\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"url: http://arca.test:8080/helm/helm-hosted", "username: erin", "caFile: /ca.pem", "name: other"} {
		if !strings.Contains(y, want) {
			t.Errorf("repositories.yaml lacks %q:\n%s", want, y)
		}
	}
	if _, err := edits[0].Apply("[not: yaml"); err == nil {
		t.Error("a broken repositories.yaml was overwritten")
	}
}
