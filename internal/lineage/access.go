package lineage

import (
	"context"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
)

// MLflow answers who may read or edit MLflow's own nodes, by MLflow's
// permissions (internal/mlflow's Handler implements it). kind is "run"
// (key: the run id), "logged-model" (m-...), "model-version"
// ("<name>/<version>") or "dataset" (its digest: allowed when some
// experiment holding a dataset of that digest is). What does not exist is
// refused.
type MLflow interface {
	LineageAccess(ctx context.Context, p auth.Principal, kind, key string, write bool) (bool, error)
}

// Formats of the repositories whose nodes lineage names.
const (
	formatOCI = "oci"
	formatS3  = "s3"
	formatRaw = "raw"
)

// allowed reports whether p may read (or, with write, write to) the node
// r: the repository's rule for images, objects and files (with the
// object guard for buckets); MLflow's permissions for its nodes; for DVC
// content, the rule of some place that stores or declares it. A node
// whose repository does not exist is refused, like one p may not read.
func (s *Service) allowed(ctx context.Context, p auth.Principal, r Ref, write bool) (bool, error) {
	action := auth.Read
	if write {
		action = auth.Write
	}
	switch r.Kind {
	case KindImage, KindRaw, KindS3:
		rp, err := s.repos.Get(ctx, r.Repo)
		if errs.Is(err, errs.NotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if rp.Format != map[string]string{KindImage: formatOCI, KindRaw: formatRaw, KindS3: formatS3}[r.Kind] {
			return false, nil
		}
		if r.Kind == KindS3 {
			err = s.auth.AuthorizeObjects(ctx, p, rp, action, auth.ObjectScope{Key: r.Name})
		} else {
			err = s.auth.Authorize(ctx, p, rp, action)
		}
		return refused(err)
	case KindRun, KindLoggedModel, KindModelVersion, KindDataset:
		if s.mlflow == nil {
			return false, nil
		}
		kind, key := map[string]string{KindRun: "run", KindLoggedModel: "logged-model",
			KindModelVersion: "model-version", KindDataset: "dataset"}[r.Kind], r.Name
		if r.Kind == KindModelVersion {
			key = r.String()[len(KindModelVersion)+1:]
		}
		return s.mlflow.LineageAccess(ctx, p, kind, key, write)
	case KindDVC:
		if p.IsAdmin() {
			return true, nil
		}
		locs, err := s.store.locations(ctx, r.String())
		if err != nil {
			return false, err
		}
		for _, l := range locs {
			lr, err := ParseRef(l)
			if err != nil || lr.Kind == KindDVC {
				continue
			}
			if ok, err := s.allowed(ctx, p, lr, write); err != nil || ok {
				return ok, err
			}
		}
	}
	return false, nil
}

// refused turns an authorization error into "not allowed", keeping
// errors of other kinds.
func refused(err error) (bool, error) {
	switch {
	case err == nil:
		return true, nil
	case errs.Is(err, errs.Denied), errs.Is(err, errs.Unauthenticated):
		return false, nil
	}
	return false, err
}
