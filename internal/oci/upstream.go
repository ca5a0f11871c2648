package oci

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/arcaproject/arca/internal/errs"
)

// manifestAccept is what a proxy asks its upstream for.
var manifestAccept = strings.Join([]string{
	"application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
	mediaTypeDockerList, mediaTypeDockerManifest,
}, ", ")

// upstream is a client of the registry a proxy repository caches. It
// follows the registry's auth challenge: Basic, or the Docker token flow.
type upstream struct {
	base     string // e.g. https://registry.example.com
	prefix   string // prepended to image names, e.g. "library"
	username string
	password string
	client   *http.Client

	mu     sync.Mutex
	tokens map[string]string // scope → bearer token
}

func newUpstream(s ProxySettings, client *http.Client) *upstream {
	return &upstream{base: strings.TrimSuffix(s.URL, "/"), prefix: strings.Trim(s.Prefix, "/"), username: s.Username,
		password: s.Password, client: client, tokens: map[string]string{}}
}

// name maps an image of the proxy repository to its upstream name.
func (u *upstream) name(image string) string {
	if u.prefix == "" {
		return image
	}
	return u.prefix + "/" + image
}

// get fetches path (under /v2/<name>/) from the upstream, answering an
// auth challenge once. A non-2xx answer is an error: NotFound for 404,
// Unavailable for anything else.
func (u *upstream) get(ctx context.Context, image, path, accept string) (*http.Response, error) {
	name := u.name(image)
	target := u.base + "/v2/" + name + "/" + path
	scope := "repository:" + name + ":pull"
	for attempt := 0; attempt < 2; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return nil, err
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		u.mu.Lock()
		tok := u.tokens[scope]
		u.mu.Unlock()
		switch {
		case tok != "":
			req.Header.Set("Authorization", "Bearer "+tok)
		case u.username != "":
			req.SetBasicAuth(u.username, u.password)
		}
		resp, err := u.client.Do(req)
		if err != nil {
			return nil, errs.Wrap(err, errs.Unavailable, "upstream registry is unavailable: unreachable")
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			challenge := resp.Header.Get("WWW-Authenticate")
			resp.Body.Close()
			if err := u.authenticate(ctx, challenge, scope); err != nil {
				return nil, err
			}
			continue
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return resp, nil
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			return nil, errs.E(errs.NotFound, "upstream has no %s", path)
		}
		return nil, errs.E(errs.Unavailable, "upstream registry is unavailable: it answered %s for %s", resp.Status, path)
	}
	return nil, errs.E(errs.Unavailable, "upstream refused our credentials")
}

// authenticate answers a Bearer challenge by fetching a token.
func (u *upstream) authenticate(ctx context.Context, challenge, scope string) error {
	scheme, params, _ := strings.Cut(challenge, " ")
	if !strings.EqualFold(scheme, "bearer") {
		return errs.E(errs.Unavailable, "upstream refused our credentials")
	}
	p := parseChallenge(params)
	if p["realm"] == "" {
		return errs.E(errs.Unavailable, "upstream challenge has no realm")
	}
	q := url.Values{}
	if p["service"] != "" {
		q.Set("service", p["service"])
	}
	q.Set("scope", scope)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p["realm"]+"?"+q.Encode(), nil)
	if err != nil {
		return errs.Wrap(err, errs.Unavailable, "bad upstream realm")
	}
	if u.username != "" {
		req.SetBasicAuth(u.username, u.password)
	}
	resp, err := u.client.Do(req)
	if err != nil {
		return errs.Wrap(err, errs.Unavailable, "upstream registry is unavailable: its token service is unreachable")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errs.E(errs.Unavailable, "upstream token service answered %s", resp.Status)
	}
	var body struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return errs.Wrap(err, errs.Unavailable, "bad upstream token response")
	}
	tok := body.Token
	if tok == "" {
		tok = body.AccessToken
	}
	u.mu.Lock()
	u.tokens[scope] = tok
	u.mu.Unlock()
	return nil
}

// parseChallenge reads the comma-separated key="value" pairs of a
// WWW-Authenticate challenge.
func parseChallenge(s string) map[string]string {
	out := map[string]string{}
	for s != "" {
		s = strings.TrimLeft(s, ", ")
		k, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		var v string
		if strings.HasPrefix(rest, `"`) {
			end := strings.Index(rest[1:], `"`)
			if end < 0 {
				break
			}
			v, s = rest[1:end+1], rest[end+2:]
		} else {
			v, s, _ = strings.Cut(rest, ",")
		}
		out[strings.ToLower(strings.TrimSpace(k))] = v
	}
	return out
}

// ProxySettings configure a proxy repository (its settings.upstream).
type ProxySettings struct {
	URL      string `json:"url"`
	Prefix   string `json:"prefix,omitempty"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// TagMaxAge is how long a cached tag is served before it is checked
	// with the upstream again (Go duration; default 5m).
	TagMaxAge string `json:"tag_max_age,omitempty"`
}

func (p ProxySettings) tagMaxAge() time.Duration {
	d, err := time.ParseDuration(p.TagMaxAge)
	if err != nil || p.TagMaxAge == "" {
		return 5 * time.Minute
	}
	return d
}

func (p ProxySettings) validate() error {
	u, err := url.Parse(p.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("upstream.url %q: want an http(s) URL", p.URL)
	}
	if p.TagMaxAge != "" {
		if _, err := time.ParseDuration(p.TagMaxAge); err != nil {
			return fmt.Errorf("upstream.tag_max_age %q: %v", p.TagMaxAge, err)
		}
	}
	return nil
}
