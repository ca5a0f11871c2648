package auth

import (
	"context"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

// Some objects belong to something with permissions of its own: the
// objects of the MLflow artifact bucket are the artifacts of experiments,
// and a caller who may not read an experiment must not read its artifacts
// through another door (the S3 API, the UI's downloads) either. Every
// door that reads objects of a bucket calls AuthorizeObjects, which is
// Authorize followed, for reads by a caller without a role bound on the
// bucket itself, by the service's ObjectGuard.

// ObjectScope is what a request reads of a bucket: one object (Key), or,
// when Key is "", the keys below Prefix (a listing; "" is the whole
// bucket, as for every request about the bucket itself).
type ObjectScope struct {
	Key    string
	Prefix string
}

// ObjectGuard is a further rule on reading the objects of some buckets.
type ObjectGuard interface {
	// GuardRead returns nil when p, who may read bucket by a global role
	// or because the bucket is public but holds no role on the bucket
	// itself, may read scope, and otherwise an errs.Denied error (or
	// errs.Unauthenticated for anonymous callers). Buckets the guard does
	// not know are not its business: nil.
	GuardRead(ctx context.Context, p Principal, bucket *repo.Repository, scope ObjectScope) error
}

// SetObjectGuard installs the guard AuthorizeObjects consults. The
// composition root calls it once, before the service answers requests.
func (s *Service) SetObjectGuard(g ObjectGuard) { s.objectGuard = g }

// AuthorizeObjects checks that p may perform action on scope of bucket
// r: Authorize on the bucket, and for reads, unless p administers the
// server or holds a role bound on r itself (an explicit grant on the
// bucket, which wins), the object guard.
func (s *Service) AuthorizeObjects(ctx context.Context, p Principal, r *repo.Repository, action Action, scope ObjectScope) error {
	if err := s.Authorize(ctx, p, r, action); err != nil {
		return err
	}
	if action != Read || s.objectGuard == nil || p.IsAdmin() {
		return nil
	}
	refused := s.objectGuard.GuardRead(ctx, p, r, scope)
	if k := errs.KindOf(refused); k != errs.Denied && k != errs.Unauthenticated {
		return refused // nil, or a failure to decide
	}
	// Asked only on a refusal: most reads are of buckets no guard knows.
	bound, err := s.BoundRole(ctx, p, r)
	if err != nil {
		return err
	}
	if bound.Includes(Reader) {
		return nil
	}
	return refused
}

// BoundRole returns the role p holds on r itself — granted on r, or
// given by its provider's groups — without its global role (NoRole when
// there is none).
func (s *Service) BoundRole(ctx context.Context, p Principal, r *repo.Repository) (Role, error) {
	return s.boundRole(ctx, p, r)
}
