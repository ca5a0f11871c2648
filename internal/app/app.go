// Package app is arca's composition root: it builds every dependency
// explicitly from the configuration, wires the surfaces into one HTTP
// handler, and starts and stops the listeners.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/arcaproject/arca/internal/api"
	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/cleanup"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/goproxy"
	"github.com/arcaproject/arca/internal/helm"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/jobs"
	"github.com/arcaproject/arca/internal/keyring"
	"github.com/arcaproject/arca/internal/lineage"
	"github.com/arcaproject/arca/internal/maven"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/mlflow"
	"github.com/arcaproject/arca/internal/npm"
	"github.com/arcaproject/arca/internal/oci"
	"github.com/arcaproject/arca/internal/ops"
	"github.com/arcaproject/arca/internal/pypi"
	"github.com/arcaproject/arca/internal/raw"
	"github.com/arcaproject/arca/internal/replication"
	"github.com/arcaproject/arca/internal/repo"
	"github.com/arcaproject/arca/internal/s3api"
	"github.com/arcaproject/arca/internal/scan"
	"github.com/arcaproject/arca/internal/search"
	"github.com/arcaproject/arca/internal/sso"
	"github.com/arcaproject/arca/internal/telemetry"
	"github.com/arcaproject/arca/internal/ui"
	"github.com/arcaproject/arca/internal/usage"
	"github.com/arcaproject/arca/internal/version"
	"github.com/arcaproject/arca/internal/vulndb"
	"github.com/arcaproject/arca/internal/webhook"
)

// App is a running arca's dependencies.
type App struct {
	Config   config.Config
	Log      *slog.Logger
	DB       *meta.DB
	Blobs    *blob.Store
	Keys     *keyring.Keyring
	Auth     *auth.Service
	Repos    *repo.Store
	Audit    *audit.Log
	Registry *prometheus.Registry
	Tokens   *auth.RegistryTokens
	OCI      *oci.Handler
	S3       *s3api.Handler
	MLflow   *mlflow.Handler
	// LDAP is the configured directory (nil when none); OIDC the
	// configured OpenID provider (nil when none).
	LDAP *sso.LDAP
	OIDC *sso.OIDC
	// Jobs is the background job queue; Serve starts its workers.
	Jobs *jobs.Runner
	// Webhooks hears every audited change and queues its deliveries.
	Webhooks *webhook.Service
	// Replication runs replication policies (as jobs).
	Replication *replication.Service
	// Lineage records and walks what was made from what.
	Lineage *lineage.Service
	// Tracing is the OpenTelemetry tracer provider (OTEL_* environment;
	// off, a no-op, by default); Close flushes it.
	Tracing *telemetry.Tracing
	// Upstreams makes the clients proxies fetch their upstreams with.
	Upstreams *httpx.Upstreams
	gcMetrics *ops.GCMetrics
	// Cleanup runs cleanup policies; Usage accounts for storage; Quota
	// checks uploads against repository quotas; Downloads notes when
	// content was last downloaded.
	Cleanup   *cleanup.Service
	Usage     *usage.Service
	Quota     *usage.Quota
	Downloads *usage.Downloads
	// background is work started by BootstrapServe that Close waits for;
	// closing is closed when Close begins, so that it stops waiting.
	background sync.WaitGroup
	closing    chan struct{}
	closeOnce  sync.Once

	local inProcess // the handlers replication calls in process
	// Vulns is the vulnerability data, Scanner what scans against it.
	Vulns   *vulndb.DB
	Scanner *scan.Scanner
	// Search is the one search across formats (its index kept by jobs).
	Search *search.Service

	gate     *scan.Gate  // the vulnerability policy, one for every format
	blocked  blockedLog  // which refusals webhooks already heard of
	metrics  httpMetrics // shared by the HTTP and S3 listeners
	draining atomic.Bool // set on shutdown: /readyz fails before the listeners close

	searchDrains drainWindows // the last window this process queued index draining for
}

// NewLogger builds the process logger from the configuration.
func NewLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if c.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(httpx.LogHandler{Handler: h})
}

// Open builds the dependencies that `serve` and `admin` share: the data
// directory, the database (migrated), the blob store, identity and
// repositories.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	tracing, err := telemetry.FromEnv(ctx, version.String())
	if err != nil {
		return nil, fmt.Errorf("tracing (OTEL_* environment): %w", err)
	}
	var metaOpts []meta.Option
	if tp := tracerProvider(tracing); tp != nil {
		metaOpts = append(metaOpts, meta.WithTracing(tp))
	}
	db, err := meta.Open(ctx, cfg.DatabaseURL, cfg.DataDir, metaOpts...)
	if err != nil {
		tracing.Shutdown(ctx)
		return nil, err
	}
	keys, err := openKeyring(ctx, cfg, db, log)
	if err != nil {
		db.Close()
		return nil, err
	}
	authOpts := auth.Options{
		MaxFailures:      cfg.Auth.LoginMaxFailures,
		Lockout:          time.Duration(cfg.Auth.LoginLockout),
		CacheTTL:         time.Duration(cfg.Auth.CredentialCacheTTL),
		HashSlots:        cfg.Auth.PasswordHashSlots,
		HashWait:         time.Duration(cfg.Auth.PasswordHashWait),
		CheckRate:        cfg.Auth.PasswordCheckRate,
		CheckBurst:       cfg.Auth.PasswordCheckBurst,
		TokenCredentials: cfg.Auth.TokenCredentials,
	}
	ldapDir, err := ssoOptions(cfg, &authOpts)
	if err != nil {
		db.Close()
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	driver, err := openBlobDriver(ctx, cfg)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("opening blob store: %w", err)
	}
	registerStorageMetrics(reg, cfg, db)
	if tp := tracerProvider(tracing); tp != nil {
		driver = blob.Traced(driver, tp)
	}
	a := &App{
		closing:   make(chan struct{}),
		Config:    cfg,
		Log:       log,
		DB:        db,
		Blobs:     blob.New(driver, ops.NewBlobMetrics(reg).Observe),
		Registry:  reg,
		Tracing:   tracing,
		Upstreams: httpx.NewUpstreams(reg, tracerProvider(tracing), tracing.Propagator),
		gcMetrics: ops.NewGCMetrics(reg),
		Repos: repo.NewStore(db, keys, map[string]repo.SettingsCheck{ // the formats this build serves
			raw.Format:     nil,
			oci.Format:     scan.WithPolicy(oci.CheckSettings),
			pypi.Format:    scan.WithPolicy(pypi.CheckSettings),
			npm.Format:     scan.WithPolicy(npm.CheckSettings),
			maven.Format:   scan.WithPolicy(maven.CheckSettings),
			goproxy.Format: scan.WithPolicy(goproxy.CheckSettings),
			helm.Format:    helm.CheckSettings,
			s3api.Format:   s3api.CheckSettings,
			mlflow.Format:  mlflow.CheckSettings,
		}),
		Audit: audit.New(db, log),
		Keys:  keys,
		Auth:  auth.New(db, keys, authOpts),
		LDAP:  ldapDir,
	}
	// Small objects live in the database (blob/inline.go). Every release
	// from this one reads them; only SQLite, which one server opens at a
	// time, writes them in this release, since a PostgreSQL database may
	// have replicas of the previous release beside this one.
	inlineMax := 0
	if db.Dialect == meta.SQLite {
		inlineMax = cfg.Blob.InlineMax
	}
	a.Blobs.SetInline(gc.InlineBlobs{DB: db}, inlineMax)
	a.Tokens, err = auth.NewRegistryTokens(ctx, a.Auth, cfg.OCI.Service, time.Duration(cfg.OCI.TokenTTL))
	if err != nil {
		db.Close()
		return nil, err
	}
	a.openCleanup()
	a.OCI = oci.New(oci.Deps{Quota: a.Quota, Downloads: a.Downloads, DB: db, Repos: a.Repos, Auth: a.Auth, Tokens: a.Tokens, Blobs: a.Blobs, Audit: a.Audit, Log: log,
		PublicURL: cfg.PublicURL, Gate: a.downloadGate(), Client: a.Upstreams.Client(oci.Format, 30*time.Minute)})
	a.openScan()
	a.S3 = s3api.New(s3api.Deps{Quota: a.Quota, Downloads: a.Downloads, DB: db, Repos: a.Repos, Auth: a.Auth, Blobs: a.Blobs, Audit: a.Audit, Log: log,
		Region: cfg.S3.Region, Domain: cfg.S3.Domain, MaxUpload: cfg.Limits.MaxUploadBytes, CreateBucketRole: auth.Role(cfg.S3.CreateBucketRole)})
	a.MLflow = mlflow.New(mlflow.Deps{DB: db, Repos: a.Repos, Auth: a.Auth, Blobs: a.Blobs, Objects: a.S3.Objects(), Audit: a.Audit, Log: log, Keys: keys,
		PublicURL: cfg.PublicURL})
	a.openOIDC()
	// MLflow's permissions hold for artifacts read by other doors too.
	a.Auth.SetObjectGuard(a.MLflow)
	a.openLineage()
	a.openSearch()
	a.Replication = a.openReplication()
	if a.Jobs, err = a.openJobs(ctx); err != nil {
		db.Close()
		return nil, err
	}
	// The jobs audited changes call for, queued with their events.
	a.followSearch()
	a.followScan()
	a.followLineage()
	a.Webhooks = webhook.New(webhook.Deps{DB: db, Repos: a.Repos, Auth: a.Auth, Audit: a.Audit, Keys: keys, Queue: a.Jobs,
		Metrics: webhook.NewMetrics(reg), Log: log, PublicURL: cfg.PublicURL,
		Timeout: time.Duration(cfg.Webhooks.Timeout), MaxAttempts: cfg.Webhooks.MaxAttempts})
	a.Audit.Subscribe(a.Webhooks.OnAudit)
	return a, nil
}

// openKeyring loads the key-encryption key (creating <data_dir>/kek at
// first start when none is configured) and the server keys it wraps.
func openKeyring(ctx context.Context, cfg config.Config, db *meta.DB, log *slog.Logger) (*keyring.Keyring, error) {
	src := keyring.Source{Value: cfg.Secrets.KEK, File: cfg.Secrets.KEKFile}
	if src.Value == "" && src.File == "" {
		src.DefaultFile = cfg.KEKFile()
	}
	kek, created, err := keyring.LoadKEK(src)
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("created the key-encryption key; back it up apart from the database", "path", src.DefaultFile, "kek_id", kek.ID())
	}
	keys, err := keyring.Load(ctx, db, kek)
	if err != nil && src.DefaultFile != "" {
		if _, serr := os.Stat(src.DefaultFile + ".new"); serr == nil {
			return nil, fmt.Errorf("%w (%s.new exists: if `arca admin kek rotate` was interrupted, the new key is there; move it to %s)",
				err, src.DefaultFile, src.DefaultFile)
		}
	}
	return keys, err
}

// Close releases the job queue's connections and the database, and
// exports the spans still buffered.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		if a.closing != nil {
			close(a.closing)
		}
	})
	a.background.Wait()
	a.Jobs.Close()
	a.Blobs.Close()
	err := a.DB.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if terr := a.Tracing.Shutdown(ctx); terr != nil {
		a.Log.Warn("exporting the last spans", "err", terr)
	}
	return err
}

// Bootstrap creates the admin user and the configured repositories when
// they do not exist. It returns the generated admin password when it had to
// make one up (shown once to the operator), or "". Processes starting at
// once on one database take turns, so exactly one of them creates (and
// reports) each thing.
func (a *App) Bootstrap(ctx context.Context) (generatedPassword string, err error) {
	return a.bootstrapLocked(ctx, false)
}

// BootstrapServe is Bootstrap for a server about to listen: the check that
// ARCA_ADMIN_PASSWORD still matches the stored password, which only warns
// and costs an argon2id hash (tens of milliseconds, most of a restart's
// time to its first answer), runs in the background; Close waits for it.
func (a *App) BootstrapServe(ctx context.Context) (generatedPassword string, err error) {
	return a.bootstrapLocked(ctx, true)
}

func (a *App) bootstrapLocked(ctx context.Context, deferCheck bool) (generatedPassword string, err error) {
	err = a.DB.WithLock(ctx, "bootstrap", func() error {
		generatedPassword, err = a.bootstrap(ctx, deferCheck)
		return err
	})
	return generatedPassword, err
}

// adminCheckDelay is how long after a start the admin_password check waits.
const adminCheckDelay = 2 * time.Second

// warnAdminPassword logs a warning when pw is not the admin's password.
func (a *App) warnAdminPassword(ctx context.Context, pw string) error {
	same, err := a.Auth.HasPassword(ctx, "admin", pw)
	if err != nil {
		return err
	}
	if !same {
		a.Log.Warn("ARCA_ADMIN_PASSWORD (admin_password) differs from the stored password of the user admin, which stays in force: "+
			"it only sets the password when arca creates the admin, at the first start on a data directory or database. "+
			"Sign in with the stored password, or change it with `arca admin user passwd admin`",
			"data_dir", a.Config.DataDir)
	}
	return nil
}

func (a *App) bootstrap(ctx context.Context, deferCheck bool) (generatedPassword string, err error) {
	if _, err := a.Auth.GetUser(ctx, "admin"); errs.Is(err, errs.NotFound) {
		pw := a.Config.AdminPassword
		if pw == "" {
			pw = auth.RandomTypable(24)
			generatedPassword = pw
		}
		if _, err := a.Auth.CreateUser(ctx, "admin", pw, "", auth.Admin); err != nil && !errs.Is(err, errs.Conflict) {
			return "", fmt.Errorf("creating admin user: %w", err)
		} else if errs.Is(err, errs.Conflict) {
			generatedPassword = "" // another process created it first
		} else {
			a.Audit.Record(ctx, audit.Event{Actor: "arca", Action: "user.create", Subject: "admin"})
		}
	} else if err != nil {
		return "", err
	} else if pw := a.Config.AdminPassword; pw != "" {
		// The admin exists: admin_password applied only when it was created.
		// Say so when it no longer matches, rather than leaving every
		// client that uses it with a bare 401.
		if !deferCheck {
			if err := a.warnAdminPassword(ctx, pw); err != nil {
				return "", err
			}
		} else {
			a.background.Add(1)
			go func() {
				defer a.background.Done()
				// Later still: the check is one argon2id hash of CPU,
				// which beside a start slowed its first answers by tens
				// of milliseconds, and a warning is in no hurry.
				select {
				case <-time.After(adminCheckDelay):
				case <-a.closing:
					return
				}
				if err := a.warnAdminPassword(context.WithoutCancel(ctx), pw); err != nil {
					a.Log.Debug("checking ARCA_ADMIN_PASSWORD", "err", err)
				}
			}()
		}
	}
	if n, err := a.Repos.SealStored(ctx); err != nil {
		return "", fmt.Errorf("sealing upstream credentials: %w", err)
	} else if n > 0 {
		a.Log.Info("sealed the upstream credentials of proxy repositories", "repositories", n)
	}
	if err := a.MLflow.Bootstrap(ctx); err != nil {
		return "", fmt.Errorf("creating the Default MLflow experiment: %w", err)
	}
	// Groups last, so that their members exist (groups of groups in the
	// order configured).
	ordered := slices.Clone(a.Config.Repositories)
	slices.SortStableFunc(ordered, func(x, y config.Repository) int {
		return cmp.Compare(boolInt(x.Kind == repo.Group), boolInt(y.Kind == repo.Group))
	})
	for _, rc := range ordered {
		r := &repo.Repository{Name: rc.Name, Format: rc.Format, Kind: rc.Kind, Visibility: rc.Visibility,
			Description: rc.Description, Settings: rc.Settings, Owner: rc.Owner, QuotaBytes: rc.QuotaBytes}
		created, err := a.Repos.Ensure(ctx, r)
		if err != nil {
			return "", fmt.Errorf("repository %q from configuration: %w", rc.Name, err)
		}
		if created {
			a.Log.Info("created repository", "name", r.Name, "format", r.Format, "kind", r.Kind)
			a.Audit.Record(ctx, audit.Event{Actor: "arca", Action: "repository.create", Repository: r.Name})
		}
	}
	return generatedPassword, nil
}

// Handler returns the HTTP handler of every surface on the main listener.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	raw.New(raw.Deps{Quota: a.Quota, Downloads: a.Downloads, DB: a.DB, Repos: a.Repos, Auth: a.Auth, Blobs: a.Blobs, Audit: a.Audit, Log: a.Log,
		MaxUpload: a.Config.Limits.MaxUploadBytes}).Routes(mux)
	a.OCI.Routes(mux)
	pypi.New(pypi.Deps{Quota: a.Quota, Downloads: a.Downloads, DB: a.DB, Repos: a.Repos, Auth: a.Auth, Blobs: a.Blobs, Audit: a.Audit, Log: a.Log,
		PublicURL: a.Config.PublicURL, MaxUpload: a.Config.Limits.MaxUploadBytes, Gate: a.downloadGate(),
		Client: a.Upstreams.Client(pypi.Format, 30*time.Minute)}).Routes(mux)
	npm.New(npm.Deps{Quota: a.Quota, Downloads: a.Downloads, DB: a.DB, Repos: a.Repos, Auth: a.Auth, Blobs: a.Blobs, Audit: a.Audit, Log: a.Log,
		PublicURL: a.Config.PublicURL, MaxUpload: a.Config.Limits.MaxUploadBytes, Gate: a.downloadGate(),
		Client: a.Upstreams.Client(npm.Format, 30*time.Minute)}).Routes(mux)
	maven.New(maven.Deps{Quota: a.Quota, Downloads: a.Downloads, DB: a.DB, Repos: a.Repos, Auth: a.Auth, Blobs: a.Blobs, Audit: a.Audit, Log: a.Log,
		MaxUpload: a.Config.Limits.MaxUploadBytes, Client: a.Upstreams.Client(maven.Format, 30*time.Minute), Gate: a.downloadGate()}).Routes(mux)
	goproxy.New(goproxy.Deps{Quota: a.Quota, Downloads: a.Downloads, DB: a.DB, Repos: a.Repos, Auth: a.Auth, Blobs: a.Blobs, Audit: a.Audit, Log: a.Log,
		MaxUpload: a.Config.Limits.MaxUploadBytes, Client: a.Upstreams.Client(goproxy.Format, 30*time.Minute), Gate: a.downloadGate()}).Routes(mux)
	helm.New(helm.Deps{Quota: a.Quota, Downloads: a.Downloads, DB: a.DB, Repos: a.Repos, Auth: a.Auth, Blobs: a.Blobs, Audit: a.Audit, Log: a.Log,
		MaxUpload: a.Config.Limits.MaxUploadBytes, Client: a.Upstreams.Client(helm.Format, 30*time.Minute)}).Routes(mux)
	a.MLflow.Routes(mux)
	a.Replication.Routes(mux, a.Audit)
	scan.NewAPI(a.Scanner, a.Auth, appJobs{Runner: a.Jobs}, a.Log).Routes(mux)
	search.NewAPI(a.Search, appJobs{Runner: a.Jobs}, a.Audit, a.Log).Routes(mux)
	api.New(a.Repos, a.Auth, a.Audit, a.Log, a.Collector(), appJobs{Runner: a.Jobs}).Routes(mux)
	a.Webhooks.Routes(mux)
	cleanup.NewAPI(a.Cleanup, a.Auth, appJobs{Runner: a.Jobs}).Routes(mux)
	a.Usage.Routes(mux)
	a.Lineage.Routes(mux)
	ops.Routes(mux, a.Registry, []ops.Check{
		{Name: "database", Run: a.DB.PingContext},
		{Name: "blobstore", Run: a.Blobs.Ping},
		{Name: "serving", Run: func(context.Context) error {
			if a.draining.Load() {
				return errors.New("shutting down")
			}
			return nil
		}},
	}, ops.Options{MetricsAuth: a.Config.Metrics.Auth, Auth: a.Auth, Log: a.Log})
	ui.New(ui.Deps{DB: a.DB, Repos: a.Repos, Auth: a.Auth, Blobs: a.Blobs, Audit: a.Audit, Log: a.Log, GC: a.Collector(),
		PublicURL: a.Config.PublicURL, S3Addr: a.Config.S3Addr, Version: version.String(), Webhooks: a.Webhooks,
		Scans: a.Scanner, ScanQueue: appJobs{Runner: a.Jobs}, SSO: a.ssoRoutes(mux), Lineage: a.Lineage, Usage: a.Usage, Search: a.Search}).Routes(mux) // GET / and /ui/
	fallback := httpx.Surface{Name: "other", WriteError: httpx.WriteJSONError, Log: a.Log}
	mux.Handle("/", fallback.Handle(func(w http.ResponseWriter, r *http.Request) error {
		return errs.E(errs.NotFound, "nothing at %s", r.URL.Path)
	}))
	return a.bodyProgress(a.trace(httpx.Instrument(httpx.ClientAddress(httpx.Routed(mux), a.trustedProxies()), a.Log, a.metrics.get(a.Registry))))
}

// trace makes every request a span when tracing is on.
func (a *App) trace(h http.Handler) http.Handler {
	if tp := tracerProvider(a.Tracing); tp != nil {
		return httpx.Trace(h, tp, a.Tracing.Propagator)
	}
	return h
}

// trustedProxies are the validated auth.trusted_proxies.
func (a *App) trustedProxies() []netip.Prefix {
	p, _ := a.Config.TrustedProxies() // Validate checked them
	return p
}

// bodyProgress drops stalled request bodies (http.body_timeout).
func (a *App) bodyProgress(h http.Handler) http.Handler {
	return httpx.BodyProgress(h, time.Duration(a.Config.HTTP.BodyTimeout), a.Config.HTTP.BodyMinBytes)
}

// S3Handler returns the handler of the S3 listener.
func (a *App) S3Handler() http.Handler {
	return a.bodyProgress(a.trace(httpx.InstrumentAnyPath(httpx.ClientAddress(a.S3.Handler(), a.trustedProxies()), a.Log, a.metrics.get(a.Registry))))
}
