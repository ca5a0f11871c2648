package mlflow

import (
	"context"
	"strings"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

// Artifacts are objects of the artifact bucket, keyed by experiment (see
// locations.go), and other doors than the artifact proxy read that bucket:
// the S3 API and the UI's bucket pages. The Handler is the
// auth.ObjectGuard that makes MLflow's permissions hold there too: a
// caller who may not read an experiment does not read its artifacts by
// those doors either, unless they hold a role bound on the bucket itself
// (auth.Service.AuthorizeObjects lets those through despite a refusal).

// GuardRead implements auth.ObjectGuard for the artifact bucket:
//
//  1. An object whose key starts with an experiment ID needs READ on that
//     experiment; other keys are not artifacts of an experiment and need
//     nothing more than the bucket's own rule.
//  2. A listing below a prefix that names an experiment ("3/...") needs
//     READ on it; a prefix that no experiment's keys start with (such as
//     "custom/") needs nothing more.
//  3. A listing that could reach several experiments' keys (the whole
//     bucket, "", or a prefix of digits such as "1") and every other
//     request about the bucket itself need READ on every experiment; a
//     caller who cannot read some experiment lists below "<id>/" instead.
func (h *Handler) GuardRead(ctx context.Context, p auth.Principal, bucket *repo.Repository, scope auth.ObjectScope) error {
	name, err := h.artifactBucket(ctx)
	if errs.Is(err, errs.Unavailable) { // no MLflow space: no artifacts
		return nil
	}
	if err != nil {
		return err
	}
	if bucket.Name != name {
		return nil
	}
	if scope.Key != "" {
		return h.guardExperimentKey(ctx, p, scope.Key)
	}
	if first, _, whole := strings.Cut(scope.Prefix, "/"); whole || !mayStartExperimentID(first) {
		return h.guardExperimentKey(ctx, p, scope.Prefix)
	}
	v, err := h.visibilityOf(ctx, p)
	if err != nil {
		return err
	}
	if v.unrestricted() {
		return nil
	}
	return guardDenied(p, "this listing of bucket %q reaches experiments %s may not read; list below <experiment id>/", bucket.Name, p.Name)
}

// guardExperimentKey checks READ on the experiment key belongs to, if any.
func (h *Handler) guardExperimentKey(ctx context.Context, p auth.Principal, key string) error {
	id, ok := artifactExperiment(key)
	if !ok {
		return nil
	}
	perm, err := h.permissionOf(ctx, p, experimentResource, id)
	if err != nil {
		return err
	}
	if perm >= Read {
		return nil
	}
	return guardDenied(p, "%s may not read experiment %d, whose artifacts these are", p.Name, id)
}

// mayStartExperimentID reports whether s is the beginning of some
// experiment ID in its canonical form ("" begins every one).
func mayStartExperimentID(s string) bool {
	if strings.TrimLeft(s, "0123456789") != "" {
		return false
	}
	return len(s) <= 1 || s[0] != '0'
}

// guardDenied is the guard's refusal: anonymous callers are asked to
// authenticate.
func guardDenied(p auth.Principal, format string, args ...any) error {
	if p.Anonymous() {
		return errs.E(errs.Unauthenticated, "authentication required")
	}
	return errs.E(errs.Denied, format, args...)
}

var _ auth.ObjectGuard = (*Handler)(nil)
