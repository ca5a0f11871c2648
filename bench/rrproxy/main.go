// Command rrproxy is the load balancer of bench/scaleout.sh: a reverse
// proxy that sends each request to the next of its backends in turn, so
// that consecutive requests of one client land on different arca
// processes. It keeps the client's Host header (S3 signatures cover it)
// and streams bodies both ways.
//
//	rrproxy -listen 127.0.0.1:8080 -backends http://127.0.0.1:8081,http://127.0.0.1:8082
package main

import (
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	backends := flag.String("backends", "", "comma-separated backend base URLs (required)")
	flag.Parse()
	var targets []*url.URL
	for _, s := range strings.Split(*backends, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			log.Fatalf("rrproxy: bad backend %q", s)
		}
		targets = append(targets, u)
	}
	if len(targets) == 0 {
		log.Fatal("rrproxy: -backends is required")
	}
	var next atomic.Uint64
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(targets[(next.Add(1)-1)%uint64(len(targets))])
			r.Out.Host = r.In.Host
		},
		FlushInterval: -1,
		Transport:     &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true},
	}
	log.Fatal(http.ListenAndServe(*listen, proxy))
}
