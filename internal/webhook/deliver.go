package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/riverqueue/river"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/version"
)

// The bounds of what a receiver's answer costs: at most readLimit bytes
// are read (the rest is left unread and the connection closed), and the
// first excerptLimit are kept in the delivery log.
const (
	readLimit    = 64 << 10
	excerptLimit = 1 << 10
)

// newClient is the HTTP client of deliveries: it follows no redirects (a
// 3xx is the receiver's answer, logged as a failure), and, unless the
// transport is given, refuses to connect to link-local addresses (cloud
// metadata services live there), whatever a name resolves to.
func newClient(rt http.RoundTripper, timeout time.Duration) *http.Client {
	if rt == nil {
		d := &net.Dialer{Timeout: timeout, Control: refuseLinkLocal}
		rt = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           d.DialContext,
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
		}
	}
	return &http.Client{
		Transport: rt,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

func refuseLinkLocal(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil
	}
	if a := ap.Addr().Unmap(); a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsUnspecified() || a.IsMulticast() {
		return fmt.Errorf("webhook: refusing to connect to %s", a)
	}
	return nil
}

// CheckURL validates a receiver URL: absolute http or https with a host,
// no credentials (the signature authenticates the sender).
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errs.E(errs.Invalid, "webhook url: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errs.E(errs.Invalid, "webhook url must be http or https, not %q", u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return errs.E(errs.Invalid, "webhook url needs a host")
	}
	if u.User != nil {
		return errs.E(errs.Invalid, "webhook url must not carry credentials; receivers authenticate deliveries by their signature")
	}
	if len(raw) > 2048 {
		return errs.E(errs.Invalid, "webhook url longer than 2048 bytes")
	}
	return nil
}

// Deliver makes attempt number attempt (1-based, of maxAttempts) of
// delivery id and logs it. It returns nil when the receiver answered 2xx
// or there is nothing left to do (the subscription was deleted); an error
// that river retries with its backoff when the receiver failed in a way
// that may pass (no answer, 5xx, 408, 429); and river.JobCancel when it
// will not (another 4xx, a 3xx, the subscription disabled).
func (s *Service) Deliver(ctx context.Context, id int64, attempt, maxAttempts int) error {
	subID, payload, err := s.payloadOf(ctx, id)
	if errs.Is(err, errs.NotFound) {
		return nil // its subscription was deleted, and the log with it
	} else if err != nil {
		return err
	}
	sub, err := s.byID(ctx, subID)
	if errs.Is(err, errs.NotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if !sub.Enabled {
		s.setState(ctx, s.db, id, StateFailed, attempt-1, 0, "subscription disabled")
		s.metrics.deliveries.WithLabelValues(StateFailed).Inc()
		return river.JobCancel(errors.New("subscription disabled"))
	}
	secret, err := s.keys.Unseal(ctx, secretKey, sub.sealed, secretAD(sub.ID))
	if err != nil {
		return err
	}
	var ce CloudEvent
	if err := json.Unmarshal(payload, &ce); err != nil {
		return river.JobCancel(fmt.Errorf("corrupt payload: %w", err))
	}
	body, contentType := payload, "application/cloudevents+json; charset=utf-8"
	if sub.PayloadFormat == FormatSlack {
		body, _ = json.Marshal(map[string]string{"text": slackText(ce)})
		contentType = "application/json"
	}

	res := s.post(ctx, sub.URL, id, ce.Type, secret, body, contentType)
	res.a.Attempt = attempt
	state := StateDelivered
	var ret error
	switch {
	case res.ok:
	case res.retry && attempt < maxAttempts:
		state, ret = StateRetrying, errors.New(res.summary())
	case res.retry:
		state, ret = StateFailed, errors.New(res.summary())
	default:
		state, ret = StateFailed, river.JobCancel(errors.New(res.summary()))
	}
	if err := s.recordAttempt(context.WithoutCancel(ctx), id, res.a, state); err != nil {
		s.log.ErrorContext(ctx, "webhook: logging an attempt", "delivery", id, "err", err)
	}
	s.metrics.observeAttempt(res, time.Duration(res.a.DurationMS)*time.Millisecond)
	if state != StateRetrying {
		s.metrics.deliveries.WithLabelValues(state).Inc()
	}
	if state == StateDelivered {
		s.metrics.lag.Observe(time.Since(ce.Time).Seconds())
	}
	return ret
}

// result is one attempt's outcome.
type result struct {
	a         Attempt
	ok, retry bool
}

func (r result) summary() string {
	if r.a.Error != "" {
		return r.a.Error
	}
	return "receiver answered " + strconv.Itoa(r.a.StatusCode)
}

// post sends body once: signed with a fresh timestamp, bounded by the
// attempt timeout, reading at most readLimit of the answer.
func (s *Service) post(ctx context.Context, target string, deliveryID int64, eventType string, secret, body []byte, contentType string) result {
	start := time.Now()
	res := result{a: Attempt{StartedAt: start.UnixMilli()}}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		res.a.Error = err.Error()
		return res
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "arca-webhook/"+version.String())
	req.Header.Set(SignatureHeader, Sign(secret, start, body))
	req.Header.Set(DeliveryHeader, strconv.FormatInt(deliveryID, 10))
	req.Header.Set(EventHeader, eventType)
	resp, err := s.client.Do(req)
	if err != nil {
		res.a.Error, res.retry = trimError(err), true
		res.a.DurationMS = time.Since(start).Milliseconds()
		return res
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, readLimit))
	res.a.StatusCode = resp.StatusCode
	res.a.Response = excerpt(b)
	res.ok = resp.StatusCode >= 200 && resp.StatusCode < 300
	res.retry = resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests
	res.a.DurationMS = time.Since(start).Milliseconds()
	return res
}

// excerpt keeps the first excerptLimit bytes of b as valid UTF-8.
func excerpt(b []byte) string {
	if len(b) > excerptLimit {
		b = b[:excerptLimit]
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func trimError(err error) string {
	m := err.Error()
	if len(m) > 500 {
		m = m[:500]
	}
	return m
}
