package auth

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"

	"github.com/arcaproject/arca/internal/errs"
)

// Password checks cost argon2id's memory (19 MiB) and tens of milliseconds
// of CPU each, and anyone can ask for one by sending Basic credentials.
// guard bounds that cost, in this order:
//
//  1. a per-client-address limiter: each address may cause Burst
//     password hashes, refilled at Rate per second. An address out of
//     tokens gets errs.TooMany before any hashing. (Clients that send the
//     same credentials on every request hash once per cache lifetime.)
//  2. a semaphore with a slot per two CPUs around the hash itself; a request
//     waits for a slot at most Wait, then gets errs.Unavailable. Memory
//     for hashing is thus at most slots × 19 MiB, however many requests
//     arrive. At most queuePerSlot requests per slot wait; more are
//     refused at once (they would only time out), so a flood holds few
//     requests open.
//
// The positive and negative caches (cache.go) answer repeated pairs before
// either. None of this is state that matters: losing it costs only time.
type guard struct {
	sem        *semaphore.Weighted
	wait       time.Duration
	waiting    atomic.Int64
	maxWaiting int64

	rate  rate.Limit
	burst int

	mu      sync.Mutex
	clients map[string]*rate.Limiter
}

// maxClients bounds the limiter table. When it is full, limiters that have
// refilled (idle addresses) are dropped; if that is not enough, all are.
const maxClients = 100_000

// queuePerSlot bounds the requests waiting for a hashing slot: about as
// many as one slot hashes in a couple of seconds.
const queuePerSlot = 64

func newGuard(slots int, wait time.Duration, r float64, burst int) *guard {
	return &guard{
		sem:        semaphore.NewWeighted(int64(slots)),
		wait:       wait,
		maxWaiting: int64(slots) * queuePerSlot,
		rate:       rate.Limit(r),
		burst:      burst,
		clients:    map[string]*rate.Limiter{},
	}
}

// allow spends one of client's tokens, or refuses with errs.TooMany.
func (g *guard) allow(client string, now time.Time) error {
	g.mu.Lock()
	lim, ok := g.clients[client]
	if !ok {
		if len(g.clients) >= maxClients {
			g.prune(now)
		}
		lim = rate.NewLimiter(g.rate, g.burst)
		g.clients[client] = lim
	}
	g.mu.Unlock()
	if !lim.AllowN(now, 1) {
		return errs.E(errs.TooMany, "too many password checks from your address; try again later")
	}
	return nil
}

// prune drops the limiters of addresses that have refilled; g.mu is held.
func (g *guard) prune(now time.Time) {
	for k, lim := range g.clients {
		if lim.TokensAt(now) >= float64(g.burst) {
			delete(g.clients, k)
		}
	}
	if len(g.clients) >= maxClients {
		clear(g.clients)
	}
}

// hash runs check in a hashing slot, waiting at most g.wait for one.
func (g *guard) hash(ctx context.Context, check func() bool) (bool, error) {
	busy := errs.E(errs.Unavailable, "the server is busy checking passwords; retry shortly")
	if !g.sem.TryAcquire(1) {
		if g.waiting.Add(1) > g.maxWaiting {
			g.waiting.Add(-1)
			return false, busy
		}
		wctx, cancel := context.WithTimeout(ctx, g.wait)
		err := g.sem.Acquire(wctx, 1)
		cancel()
		g.waiting.Add(-1)
		if err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			return false, busy
		}
	}
	defer g.sem.Release(1)
	return check(), nil
}

type clientKey struct{}

// WithClient returns ctx carrying the client's address (as resolved by
// the HTTP layer, honouring trusted proxies). Password checks are limited
// and locked out per client address.
func WithClient(ctx context.Context, addr netip.Addr) context.Context {
	return context.WithValue(ctx, clientKey{}, addr)
}

// ClientFrom returns the client address in ctx, or the zero Addr.
func ClientFrom(ctx context.Context) netip.Addr {
	a, _ := ctx.Value(clientKey{}).(netip.Addr)
	return a
}

// clientName is the key of an address for limits and lockout: IPv4
// addresses as they are, IPv6 addresses by their /64 (what one host
// usually gets), "unknown" when there is none.
func clientName(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is6():
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
