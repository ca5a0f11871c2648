package httpx

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, c := range []struct {
		remote string
		xff    []string
		want   string
	}{
		{"192.0.2.7:5000", nil, "192.0.2.7"},
		// An untrusted peer cannot name another address.
		{"192.0.2.7:5000", []string{"198.51.100.1"}, "192.0.2.7"},
		{"10.1.2.3:80", []string{"198.51.100.1"}, "198.51.100.1"},
		// Read from the right: a client-supplied entry left of the real
		// client is ignored; trusted hops are skipped.
		{"10.1.2.3:80", []string{"203.0.113.9, 198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"10.1.2.3:80", []string{"203.0.113.9", "198.51.100.1"}, "198.51.100.1"},
		{"[::1]:80", []string{"2001:db8::5"}, "2001:db8::5"},
		// Only trusted hops: the leftmost one; garbage: the last trusted one.
		{"10.1.2.3:80", []string{"10.4.4.4"}, "10.4.4.4"},
		{"10.1.2.3:80", []string{"not-an-ip, 10.4.4.4"}, "10.4.4.4"},
		{"10.1.2.3:80", nil, "10.1.2.3"},
		{"[::ffff:192.0.2.1]:80", nil, "192.0.2.1"},
	} {
		r, _ := http.NewRequest("GET", "http://x/", nil)
		r.RemoteAddr = c.remote
		for _, h := range c.xff {
			r.Header.Add("X-Forwarded-For", h)
		}
		if got := clientAddr(r, trusted); got.String() != c.want {
			t.Errorf("%s %q = %s, want %s", c.remote, c.xff, got, c.want)
		}
	}
	r, _ := http.NewRequest("GET", "http://x/", nil)
	r.RemoteAddr = "10.1.2.3:80"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	if got := clientAddr(r, nil); got.String() != "10.1.2.3" {
		t.Errorf("without trusted proxies X-Forwarded-For was read: %s", got)
	}
}
