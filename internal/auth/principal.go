package auth

import "context"

// Principal is who a request acts as. The zero value is the anonymous
// principal.
type Principal struct {
	UserID int64
	Name   string
	Kind   string // "user", "robot", or "" for anonymous
	// Role is the principal's global role on every repository.
	Role Role
	// TokenID is set when the request authenticated with a token;
	// TokenExpiresAt is then its expiry (Unix ms, 0 for never) and
	// TokenCredentials whether it may manage credentials (credentials.go).
	TokenID          int64
	TokenExpiresAt   int64
	TokenCredentials bool
	// Scoped is set when the request carried a registry token (the Docker
	// token flow); Grants then bound what it may do, on top of its roles.
	Scoped bool
	Grants []Access
}

// Anonymous reports whether p carries no identity.
func (p Principal) Anonymous() bool { return p.UserID == 0 }

// IsAdmin reports whether p administers the whole server.
func (p Principal) IsAdmin() bool { return p.Role == Admin }

// String names p for logs and the audit trail.
func (p Principal) String() string {
	if p.Anonymous() {
		return "anonymous"
	}
	return p.Name
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// From returns the principal in ctx, or the anonymous principal.
func From(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}

type internalKey struct{}

// WithInternal marks ctx as a request that arca makes to itself, in
// process, acting as p (replication's local side): Authenticate returns p
// without reading credentials. Only code in the process can set it; no
// header or listener can.
func WithInternal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, internalKey{}, p)
}

// Internal returns the principal of an in-process request (WithInternal).
func Internal(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(internalKey{}).(Principal)
	return p, ok
}
