package app

import (
	"context"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/blob/fs"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
)

// httpMetrics creates the HTTP metrics once, for every listener.
type httpMetrics struct {
	once sync.Once
	m    *httpx.Metrics
}

func (h *httpMetrics) get(reg prometheus.Registerer) *httpx.Metrics {
	h.once.Do(func() { h.m = httpx.NewMetrics(reg) })
	return h.m
}

// openBlobDriver opens the blob driver the configuration selects.
func openBlobDriver(ctx context.Context, cfg config.Config) (blob.Driver, error) {
	switch cfg.Blob.Driver {
	case "s3":
		return openS3Driver(ctx, cfg.Blob.S3)
	default:
		return fs.New(cfg.BlobDir())
	}
}

// BootstrapS3 gives the admin its first S3 access key pair: the configured
// one (s3.access_key/secret_key, applied on every start like MinIO's root
// credentials), or, when none is configured and the admin has no key yet,
// a generated one, returned once for the operator to see. Processes
// starting at once take turns, so only one generates a key.
func (a *App) BootstrapS3(ctx context.Context) (id, secret string, err error) {
	err = a.DB.WithLock(ctx, "bootstrap", func() error {
		id, secret, err = a.bootstrapS3(ctx)
		return err
	})
	return id, secret, err
}

func (a *App) bootstrapS3(ctx context.Context) (id, secret string, err error) {
	id, secret = a.Config.S3.AccessKey, a.Config.S3.SecretKey
	if id != "" {
		_, _, err := a.Auth.CreateAccessKey(ctx, "admin", id, secret, "from configuration")
		switch {
		case err == nil:
			a.Audit.Record(ctx, audit.Event{Actor: "arca", Action: "s3key.create", Subject: "admin", Detail: map[string]any{"access_key_id": id}})
		case errs.Is(err, errs.Conflict):
			if err := a.Auth.SetAccessKeySecret(ctx, "admin", id, secret); err != nil {
				return "", "", fmt.Errorf("s3.access_key %q belongs to another user: %w", id, err)
			}
		default:
			return "", "", fmt.Errorf("creating the configured S3 access key: %w", err)
		}
		return "", "", nil
	}
	keys, err := a.Auth.ListAccessKeys(ctx, "admin")
	if err != nil || len(keys) > 0 {
		return "", "", err
	}
	k, secret, err := a.Auth.CreateAccessKey(ctx, "admin", "", "", "generated at first start")
	if err != nil {
		return "", "", fmt.Errorf("creating the admin's S3 access key: %w", err)
	}
	a.Audit.Record(ctx, audit.Event{Actor: "arca", Action: "s3key.create", Subject: "admin", Detail: map[string]any{"access_key_id": k.ID}})
	return k.ID, secret, nil
}

// OpenBlobStore opens the blob store the configuration names, without the
// rest of the App: `arca restore` fills it before any database exists.
func OpenBlobStore(ctx context.Context, cfg config.Config) (*blob.Store, error) {
	d, err := openBlobDriver(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening blob store: %w", err)
	}
	return blob.New(d, nil), nil
}
