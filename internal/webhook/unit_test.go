package webhook

import (
	"strings"
	"testing"
	"time"
)

func TestSignVerify(t *testing.T) {
	secret, body := []byte("s3cret-s3cret-s3cret"), []byte(`{"specversion":"1.0"}`)
	now := time.Unix(1_800_000_000, 0)
	h := Sign(secret, now, body)
	if !strings.HasPrefix(h, "t=1800000000,v1=") || len(h) != len("t=1800000000,v1=")+64 {
		t.Fatalf("header %q", h)
	}
	if err := Verify(secret, h, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Errorf("valid signature refused: %v", err)
	}
	for name, c := range map[string]struct {
		secret []byte
		header string
		body   []byte
		now    time.Time
	}{
		"other secret":    {[]byte("other"), h, body, now},
		"other body":      {secret, h, []byte(`{}`), now},
		"replayed later":  {secret, h, body, now.Add(6 * time.Minute)},
		"from the future": {secret, h, body, now.Add(-6 * time.Minute)},
		"no signature":    {secret, "t=1800000000", body, now},
		"no timestamp":    {secret, strings.SplitN(h, ",", 2)[1], body, now},
		"changed time":    {secret, strings.Replace(h, "t=1800000000", "t=1800000001", 1), body, now},
	} {
		if err := Verify(c.secret, c.header, c.body, c.now, 5*time.Minute); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestMatches(t *testing.T) {
	for _, c := range []struct {
		filter []string
		typ    string
		want   bool
	}{
		{nil, TypeRawUploaded, true},
		{nil, TypePing, false},
		{[]string{TypeRawUploaded}, TypeRawUploaded, true},
		{[]string{TypeRawUploaded}, TypeRawDeleted, false},
		{[]string{"io.arca.raw.*"}, TypeRawDeleted, true},
		{[]string{"io.arca.raw.*"}, TypeOCIManifestPushed, false},
		{[]string{"*"}, TypeScanCompleted, true},
	} {
		if got := matches(c.filter, c.typ); got != c.want {
			t.Errorf("matches(%v, %s) = %v", c.filter, c.typ, got)
		}
	}
	if checkFilter([]string{"io.arca.oci.*", TypeScanCompleted}) != nil || checkFilter([]string{"io.arca.oci.manifest.pushd"}) == nil ||
		checkFilter([]string{"com.example.*"}) == nil {
		t.Error("checkFilter")
	}
}

func TestCheckURL(t *testing.T) {
	for u, ok := range map[string]bool{
		"https://hooks.example.com/arca": true, "http://10.0.0.5:8080/x?token=1": true,
		"ftp://example.com/": false, "file:///etc/passwd": false, "http:///nohost": false, "//example.com": false,
		"https://user:pw@example.com/": false, "gopher://x": false,
	} {
		if err := CheckURL(u); (err == nil) != ok {
			t.Errorf("CheckURL(%q) = %v", u, err)
		}
	}
}

func TestEveryMappedTypeIsListed(t *testing.T) {
	listed := map[string]bool{}
	for _, ty := range Types() {
		listed[ty] = true
	}
	for action, ty := range actions {
		if !listed[ty] {
			t.Errorf("%s sends %s, which Types does not list", action, ty)
		}
	}
}

func TestRefuseLinkLocal(t *testing.T) {
	for addr, refused := range map[string]bool{"169.254.169.254:80": true, "[fe80::1]:80": true, "0.0.0.0:80": true,
		"127.0.0.1:8080": false, "10.1.2.3:443": false, "[::ffff:169.254.169.254]:80": true} {
		if err := refuseLinkLocal("tcp", addr, nil); (err != nil) != refused {
			t.Errorf("refuseLinkLocal(%s) = %v", addr, err)
		}
	}
}

func TestExcerpt(t *testing.T) {
	long := strings.Repeat("é", excerptLimit) // two bytes each
	if e := excerpt([]byte(long)); len(e) > excerptLimit+3 || !strings.HasPrefix(long, strings.TrimSuffix(e, "\uFFFD")) {
		t.Errorf("excerpt of %d bytes = %d bytes", len(long), len(e))
	}
	if e := excerpt([]byte{0xff, 'a'}); e != "\uFFFDa" {
		t.Errorf("excerpt of invalid UTF-8 = %q", e)
	}
}
