package ui

import (
	"net"
	"net/http"
	"net/url"
)

// s3URL is the S3 listener's URL as clients reach it: this server's host
// with the S3 port, or "" when the build serves no S3.
func (h *Handler) s3URL(r *http.Request) string {
	if h.S3Addr == "" {
		return ""
	}
	_, port, err := net.SplitHostPort(h.S3Addr)
	if err != nil || port == "" || port == "0" {
		return ""
	}
	u, err := url.Parse(h.baseURL(r))
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + net.JoinHostPort(u.Hostname(), port)
}

// registryHost is the host[:port] image references start with.
func (h *Handler) registryHost(r *http.Request) string {
	u, err := url.Parse(h.baseURL(r))
	if err != nil {
		return r.Host
	}
	return u.Host
}
