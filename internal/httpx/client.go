package httpx

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/arcaproject/arca/internal/auth"
)

// ClientAddress puts each request's client address into its context
// (auth.WithClient), where password checks find it for their per-address
// limits and lockout. The address is the connection's peer, unless that
// peer is one of the trusted proxies: then X-Forwarded-For is read from
// the right, skipping trusted proxies, and the first other address is the
// client. A client cannot choose its own address by sending the header:
// entries left of the first untrusted one are never read, and without
// trusted proxies the header is ignored.
func ClientAddress(next http.Handler, trusted []netip.Prefix) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := clientAddr(r, trusted); a.IsValid() {
			r = r.WithContext(auth.WithClient(r.Context(), a))
		}
		next.ServeHTTP(w, r)
	})
}

func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := ap.Addr().Unmap()
	if !isTrusted(addr, trusted) {
		return addr
	}
	// Every X-Forwarded-For header, in order, as one list.
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return addr // garbage: stop at the last address we trust
		}
		addr = a.Unmap()
		if !isTrusted(addr, trusted) {
			return addr
		}
	}
	return addr
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
