package usage

import (
	"context"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// CodeQuotaExceeded is the error code of a refused upload; each surface
// renders it in its protocol's way (S3: QuotaExceeded, 403).
const CodeQuotaExceeded = "QUOTA_EXCEEDED"

// Quota checks uploads against repository quotas (Repository.QuotaBytes).
// A nil *Quota allows everything.
type Quota struct {
	DB    *meta.DB
	Audit *audit.Log
}

// Check refuses (errs.Denied, CodeQuotaExceeded) an upload of size bytes
// with sha256 digest d into rp when it would take rp past its quota.
// Content rp already holds costs nothing; d may be "" when the digest is
// not known yet (then the upload is counted in full). A refusal is
// audited as quota.exceeded, which webhooks send as
// io.arca.quota.exceeded.
func (q *Quota) Check(ctx context.Context, rp *repo.Repository, d string, size int64) error {
	if q == nil || rp == nil || rp.QuotaBytes <= 0 {
		return nil
	}
	used, held, err := Used(ctx, q.DB, rp.ID, d)
	if err != nil {
		return err
	}
	if held || used+size <= rp.QuotaBytes {
		return nil
	}
	q.Audit.Record(ctx, audit.Event{Action: "quota.exceeded", Repository: rp.Name, Subject: d,
		Detail: map[string]any{"used_bytes": used, "quota_bytes": rp.QuotaBytes, "needed_bytes": size}})
	return errs.E(errs.Denied, "quota of repository %s exceeded: %d of %d bytes used, upload needs %d", rp.Name, used, rp.QuotaBytes, size).
		WithCode(CodeQuotaExceeded)
}
