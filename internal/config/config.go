// Package config holds arca's one typed configuration. Defaults are the
// embedded mode (SQLite and filesystem blobs under one data directory);
// a YAML file, then ARCA_* environment variables, then command-line flags
// override them, later sources winning.
package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration.
type Config struct {
	// Addr is the HTTP listener for every surface but S3.
	Addr string `yaml:"addr"`
	// S3Addr is the S3 API listener.
	S3Addr string `yaml:"s3_addr"`
	// PublicURL is the base URL clients reach arca at, used in links and
	// usage snippets; empty means derived from each request's Host.
	PublicURL string `yaml:"public_url"`
	// DataDir holds the SQLite database and the filesystem blob store.
	DataDir string `yaml:"data_dir"`
	// DatabaseURL selects the metadata database: empty for SQLite in
	// DataDir, postgres://... for PostgreSQL.
	DatabaseURL string `yaml:"database_url"`
	// AdminPassword is the initial password of the admin user, applied
	// only when the user is first created.
	AdminPassword string `yaml:"admin_password"`

	Log          Log          `yaml:"log"`
	HTTP         HTTP         `yaml:"http"`
	TLS          TLS          `yaml:"tls"`
	Secrets      Secrets      `yaml:"secrets"`
	OCI          OCI          `yaml:"oci"`
	Auth         Auth         `yaml:"auth"`
	Metrics      Metrics      `yaml:"metrics"`
	Blob         Blob         `yaml:"blob"`
	S3           S3           `yaml:"s3"`
	GC           GC           `yaml:"gc"`
	Jobs         Jobs         `yaml:"jobs"`
	Webhooks     Webhooks     `yaml:"webhooks"`
	Backup       Backup       `yaml:"backup"`
	Cleanup      Cleanup      `yaml:"cleanup"`
	Usage        Usage        `yaml:"usage"`
	VulnDB       VulnDB       `yaml:"vulndb"`
	Scan         Scan         `yaml:"scan"`
	Limits       Limits       `yaml:"limits"`
	Repositories []Repository `yaml:"repositories"`
}

// Log configures structured logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// HTTP configures how both listeners (main and S3) treat connections.
type HTTP struct {
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// IdleTimeout closes a keep-alive connection idle this long.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// BodyTimeout and BodyMinBytes bound slow request bodies: a body
	// that delivers fewer than BodyMinBytes within a BodyTimeout is
	// dropped (and what it staged discarded). 0 disables the check.
	BodyTimeout  Duration `yaml:"body_timeout"`
	BodyMinBytes int64    `yaml:"body_min_bytes"`
	// DrainDelay is how long, after SIGTERM, arca keeps serving while
	// /readyz answers 503, so that a load balancer stops sending it
	// requests before it stops accepting them. 0 (the default) stops at
	// once; Kubernetes' preStop pause does the same job there.
	DrainDelay Duration `yaml:"drain_delay"`
}

// TLS makes both listeners serve HTTPS with a certificate from files
// (PEM), re-read when they change, so a renewed certificate (cert-manager,
// certbot) takes effect without a restart. Empty: plain HTTP (behind a
// TLS-terminating proxy or ingress).
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether the listeners serve HTTPS.
func (t TLS) Enabled() bool { return t.CertFile != "" }

// Secrets configures the key-encryption key (KEK) that wraps the server
// keys kept in the database (registry token signing, sealing of S3 secrets
// and upstream credentials). The first of KEK, KEKFile, <data_dir>/kek is
// used; the last is created at first start.
type Secrets struct {
	// KEK is the key itself: 32 bytes as base64 or hex (ARCA_KEK).
	KEK string `yaml:"kek"`
	// KEKFile names a file holding it (ARCA_KEK_FILE), e.g. a mounted
	// Kubernetes Secret.
	KEKFile string `yaml:"kek_file"`
}

// KEKFile is where the key-encryption key is read from when Secrets.KEK is
// empty.
func (c *Config) KEKFile() string {
	if c.Secrets.KEKFile != "" {
		return c.Secrets.KEKFile
	}
	return c.DataDir + "/kek"
}

// Auth configures identity and access.
type Auth struct {
	// LoginMaxFailures is how many consecutive failed logins lock an
	// account for a while; the lock doubles with each further failure.
	LoginMaxFailures int `yaml:"login_max_failures"`
	// LoginLockout is the first lock's length; locks never exceed 15 minutes.
	LoginLockout Duration `yaml:"login_lockout"`
	// CredentialCacheTTL is how long the outcome of a password check is
	// remembered in process memory (by a hash, never the password), so
	// clients that send Basic credentials on every request do not pay for
	// password hashing each time, and a refused pair sent again costs
	// nothing. 0 disables it.
	CredentialCacheTTL Duration `yaml:"credential_cache_ttl"`
	// PasswordHashSlots is how many password hashes (19 MiB of memory
	// each) run at once; 0 means half the CPUs (at least one).
	PasswordHashSlots int `yaml:"password_hash_slots"`
	// PasswordHashWait is how long a login waits for a hashing slot before
	// it is answered 503.
	PasswordHashWait Duration `yaml:"password_hash_wait"`
	// PasswordCheckRate and PasswordCheckBurst limit password checks
	// (hashes; cached answers do not count) per client address: per
	// second, and how many at once. Past them the address gets 429 before
	// any hashing.
	PasswordCheckRate  float64 `yaml:"password_check_rate"`
	PasswordCheckBurst int     `yaml:"password_check_burst"`
	// TrustedProxies are the CIDRs of reverse proxies whose
	// X-Forwarded-For names the client address; requests from anywhere
	// else are keyed by their own address, whatever they send.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// TokenCredentials is what a request authenticated with a token may do
	// with credentials: "bounded" (create tokens that expire no later than
	// itself, when its scope allows) or "none".
	TokenCredentials string `yaml:"token_credentials"`
	// LocalPasswords is who signs in with a local password: "all", or
	// "break_glass" (only BreakGlassUsers; see docs/sso.md).
	LocalPasswords  string   `yaml:"local_passwords"`
	BreakGlassUsers []string `yaml:"break_glass_users"`
	// LDAP and OIDC connect company identity providers (sso.go).
	LDAP LDAP `yaml:"ldap"`
	OIDC OIDC `yaml:"oidc"`
}

// Metrics configures /metrics.
type Metrics struct {
	// Auth is who may read /metrics: "none" (anyone), "user" (any
	// authenticated user or robot) or "admin".
	Auth string `yaml:"auth"`
}

// OCI configures the container registry.
type OCI struct {
	// TokenTTL is how long a registry token from /v2/token is valid.
	TokenTTL Duration `yaml:"token_ttl"`
	// Service is the service name in registry token challenges.
	Service string `yaml:"service"`
}

// Blob configures the blob store.
type Blob struct {
	Driver string `yaml:"driver"` // fs or s3
	// Dir is the filesystem driver's root; default <data_dir>/blobs.
	Dir string `yaml:"dir"`
	// S3 configures the s3 driver: blobs in a bucket of AWS S3, MinIO,
	// Ceph RGW or another arca.
	S3 BlobS3 `yaml:"s3"`
	// StagedMaxAge is how old an abandoned staged write must be before it
	// is purged.
	StagedMaxAge Duration `yaml:"staged_max_age"`
	// InlineMax is the size in bytes up to which an S3 object's bytes are
	// kept in the metadata database instead of the blob store, saving the
	// file and its two syncs; 0 keeps every object in the blob store. On
	// PostgreSQL this release keeps them in the blob store regardless, so
	// that replicas of the previous release beside it read every object.
	InlineMax int `yaml:"inline_max"`
}

// BlobS3 configures the S3 blob driver.
type BlobS3 struct {
	// Endpoint is the S3 API's URL (e.g. http://minio:9000); empty means AWS.
	Endpoint string `yaml:"endpoint"`
	Bucket   string `yaml:"bucket"`
	Region   string `yaml:"region"`
	// Prefix is prepended to every key the driver writes.
	Prefix string `yaml:"prefix"`
	// AccessKey and SecretKey are static credentials; when empty, the AWS
	// SDK's default chain applies (AWS_* environment, profiles, instance roles).
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
	// PathStyle addresses the bucket in the path (MinIO, Ceph, arca)
	// rather than in the host name.
	PathStyle bool `yaml:"path_style"`
	// PartSize is how many bytes of a write are buffered per uploaded
	// segment (at least 5 MiB; default 16 MiB).
	PartSize int64 `yaml:"part_size"`
}

// S3 configures the S3-compatible API.
type S3 struct {
	// Region is what HeadBucket and GetBucketLocation report. Requests
	// signed for any region are accepted.
	Region string `yaml:"region"`
	// Domain enables virtual-host addressing: <bucket>.<domain>.
	Domain string `yaml:"domain"`
	// AccessKey and SecretKey are the admin's first key pair, applied at
	// start (like MinIO's root credentials). When both are empty and the
	// admin has no key yet, one is generated and printed once.
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
	// UploadMaxAge is how long an unfinished multipart upload is kept.
	UploadMaxAge Duration `yaml:"upload_max_age"`
	// CreateBucketRole is the least global role that may create buckets
	// with CreateBucket (reader, developer, maintainer or admin; "any":
	// every signed-in user or robot, also without a global role); the
	// creator gets the admin role on the new bucket.
	CreateBucketRole string `yaml:"create_bucket_role"`
}

// Limits bounds what clients may send.
type Limits struct {
	// MaxUploadBytes caps one uploaded file; 0 means no limit.
	MaxUploadBytes int64 `yaml:"max_upload_bytes"`
}

// Repository is a repository created at start if it does not exist.
type Repository struct {
	Name        string         `yaml:"name" json:"name"`
	Format      string         `yaml:"format" json:"format"`
	Kind        string         `yaml:"kind" json:"kind"`
	Visibility  string         `yaml:"visibility" json:"visibility"`
	Description string         `yaml:"description" json:"description"`
	Settings    map[string]any `yaml:"settings,omitempty" json:"settings,omitempty"`
	// Owner and QuotaBytes: see repo.Repository.
	Owner      string `yaml:"owner,omitempty" json:"owner,omitempty"`
	QuotaBytes int64  `yaml:"quota_bytes,omitempty" json:"quota_bytes,omitempty"`
}

// Duration is a time.Duration written as "90s" or "5m" in YAML.
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// Default returns the embedded-mode configuration.
func Default() Config {
	return Config{
		Addr:    ":8080",
		S3Addr:  ":9000",
		DataDir: "./arca-data",
		Log:     Log{Level: "info", Format: "text"},
		HTTP: HTTP{
			ReadHeaderTimeout: Duration(10 * time.Second),
			IdleTimeout:       Duration(2 * time.Minute),
			BodyTimeout:       Duration(30 * time.Second),
			BodyMinBytes:      16 << 10,
		},
		Auth: Auth{
			LoginMaxFailures:   5,
			LoginLockout:       Duration(time.Second),
			CredentialCacheTTL: Duration(time.Minute),
			PasswordHashWait:   Duration(2 * time.Second),
			PasswordCheckRate:  1,
			PasswordCheckBurst: 30,
			TokenCredentials:   "bounded",
			LocalPasswords:     "all",
			LDAP:               LDAP{SyncInterval: Duration(15 * time.Minute), Timeout: Duration(5 * time.Second)},
			OIDC:               OIDC{MaxSyncAge: Duration(30 * 24 * time.Hour), CLITokenTTL: Duration(30 * 24 * time.Hour)},
		},
		Metrics:  Metrics{Auth: "none"},
		OCI:      OCI{TokenTTL: Duration(5 * time.Minute), Service: "arca"},
		Blob:     Blob{Driver: "fs", StagedMaxAge: Duration(24 * time.Hour), InlineMax: 16 << 10, S3: BlobS3{Region: "us-east-1", PartSize: 16 << 20}},
		S3:       S3{Region: "us-east-1", UploadMaxAge: Duration(7 * 24 * time.Hour), CreateBucketRole: "developer"},
		GC:       GC{Interval: Duration(24 * time.Hour), Grace: Duration(time.Hour)},
		Jobs:     Jobs{Workers: 2, Timeout: Duration(time.Hour), Retention: Duration(7 * 24 * time.Hour)},
		Webhooks: Webhooks{Timeout: Duration(10 * time.Second), MaxAttempts: 8, Retention: Duration(30 * 24 * time.Hour), Workers: 8},
		Backup:   Backup{Interval: Duration(24 * time.Hour)},
		Cleanup:  Cleanup{Interval: Duration(24 * time.Hour), DownloadFlush: Duration(10 * time.Second), DownloadMaxPending: 100_000},
		Usage:    Usage{SampleInterval: Duration(24 * time.Hour)},
		VulnDB:   defaultVulnDB(),
		Scan:     Scan{OnPush: true},
		Repositories: []Repository{
			{Name: "files", Format: "raw", Kind: "hosted", Visibility: "private", Description: "Raw files and DVC HTTP remote"},
			{Name: "library", Format: "oci", Kind: "hosted", Visibility: "private", Description: "Container images and OCI artifacts"},
			{Name: "mlflow-artifacts", Format: "s3", Kind: "hosted", Visibility: "private", Description: "S3 bucket: MLflow artifact store"},
			{Name: "dvc-storage", Format: "s3", Kind: "hosted", Visibility: "private", Description: "S3 bucket: DVC remote"},
			{Name: "backups", Format: "s3", Kind: "hosted", Visibility: "private", Description: "S3 bucket: backups"},
			{Name: "npm-hosted", Format: "npm", Kind: "hosted", Visibility: "private", Description: "npm packages published with npm publish"},
			{Name: "pypi-hosted", Format: "pypi", Kind: "hosted", Visibility: "private", Description: "Python packages (twine upload, pip install)"},
			{Name: "maven-hosted", Format: "maven", Kind: "hosted", Visibility: "private", Description: "Maven artifacts, releases and snapshots (mvn deploy)"},
			{Name: "go-hosted", Format: "go", Kind: "hosted", Visibility: "private", Description: "Go modules (GOPROXY; publish with PUT of a module zip)"},
			{Name: "helm-hosted", Format: "helm", Kind: "hosted", Visibility: "private", Description: "Helm charts (index.yaml; helm cm-push or curl to upload)"},
			{Name: "mlflow", Format: "mlflow", Kind: "hosted", Visibility: "private", Description: "MLflow experiments, runs and models (artifacts in bucket mlflow-artifacts)"},
		},
	}
}

// Flags are the command-line overrides of `arca serve`.
type Flags struct {
	ConfigPath  string
	Addr        string
	S3Addr      string
	DataDir     string
	DatabaseURL string
}

// Register adds the flags to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.ConfigPath, "config", "", "YAML configuration file (or ARCA_CONFIG)")
	fs.StringVar(&f.Addr, "addr", "", "HTTP listen address (ARCA_ADDR, default :8080)")
	fs.StringVar(&f.S3Addr, "s3-addr", "", "S3 API listen address (ARCA_S3_ADDR, default :9000)")
	fs.StringVar(&f.DataDir, "data-dir", "", "data directory (ARCA_DATA_DIR, default ./arca-data)")
	fs.StringVar(&f.DatabaseURL, "database-url", "", "metadata database URL (ARCA_DATABASE_URL, default SQLite in the data directory)")
}

// Load builds the effective configuration: defaults, then the YAML file
// (flags.ConfigPath or ARCA_CONFIG), then environment, then flags.
func Load(flags Flags, getenv func(string) string) (Config, error) {
	c := Default()
	path := flags.ConfigPath
	if path == "" {
		path = getenv("ARCA_CONFIG")
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("reading config: %w", err)
		}
		if err := Parse(b, &c); err != nil {
			return c, fmt.Errorf("%s: %w", path, err)
		}
	}
	for _, e := range envVars {
		if v := getenv(e.name); v != "" {
			if err := e.set(&c, v); err != nil {
				return c, fmt.Errorf("%s: %w", e.name, err)
			}
		}
	}
	for _, o := range []struct {
		flag  string
		field *string
	}{
		{flags.Addr, &c.Addr}, {flags.S3Addr, &c.S3Addr}, {flags.DataDir, &c.DataDir}, {flags.DatabaseURL, &c.DatabaseURL},
	} {
		if o.flag != "" {
			*o.field = o.flag
		}
	}
	return c, c.Validate()
}

// Parse decodes YAML over c, rejecting unknown keys.
func Parse(b []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// Validate checks the configuration for mistakes an operator can fix.
func (c *Config) Validate() error {
	var problems []string
	if c.Addr == "" {
		problems = append(problems, "addr must not be empty")
	}
	if c.DataDir == "" {
		problems = append(problems, "data_dir must not be empty")
	}
	switch c.S3.CreateBucketRole {
	case "any", "reader", "developer", "maintainer", "admin":
	default:
		problems = append(problems, fmt.Sprintf("s3.create_bucket_role %q: want any, reader, developer, maintainer or admin", c.S3.CreateBucketRole))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		problems = append(problems, fmt.Sprintf("log.level %q: want debug, info, warn or error", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		problems = append(problems, fmt.Sprintf("log.format %q: want text or json", c.Log.Format))
	}
	if c.Blob.InlineMax < 0 || c.Blob.InlineMax > 1<<20 {
		problems = append(problems, fmt.Sprintf("blob.inline_max %d: want 0 to 1048576 bytes", c.Blob.InlineMax))
	}
	switch c.Blob.Driver {
	case "fs":
	case "s3":
		if c.Blob.S3.Bucket == "" {
			problems = append(problems, "blob.s3.bucket must be set with blob.driver s3")
		}
		if (c.Blob.S3.AccessKey == "") != (c.Blob.S3.SecretKey == "") {
			problems = append(problems, "blob.s3.access_key and blob.s3.secret_key must be set together")
		}
		if c.Blob.S3.Endpoint != "" && !strings.HasPrefix(c.Blob.S3.Endpoint, "http://") && !strings.HasPrefix(c.Blob.S3.Endpoint, "https://") {
			problems = append(problems, fmt.Sprintf("blob.s3.endpoint %q: want an http:// or https:// URL", c.Blob.S3.Endpoint))
		}
		if c.Blob.S3.PartSize != 0 && (c.Blob.S3.PartSize < 5<<20 || c.Blob.S3.PartSize > 5<<30) {
			problems = append(problems, "blob.s3.part_size must be between 5 MiB and 5 GiB")
		}
	default:
		problems = append(problems, fmt.Sprintf("blob.driver %q: want fs or s3", c.Blob.Driver))
	}
	if (c.S3.AccessKey == "") != (c.S3.SecretKey == "") {
		problems = append(problems, "s3.access_key and s3.secret_key (ARCA_S3_ACCESS_KEY, ARCA_S3_SECRET_KEY) must be set together")
	}
	if c.S3.SecretKey != "" && len(c.S3.SecretKey) < 8 {
		problems = append(problems, "s3.secret_key must be at least 8 characters")
	}
	if c.S3.Region == "" {
		problems = append(problems, "s3.region must not be empty")
	}
	if u := c.Scan.AdapterRegistryURL; u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		problems = append(problems, fmt.Sprintf("scan.adapter_registry_url %q: want an http:// or https:// URL", u))
	}
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		problems = append(problems, fmt.Sprintf("public_url %q: want an http:// or https:// URL", c.PublicURL))
	}
	if c.OCI.TokenTTL < Duration(time.Second) || c.OCI.Service == "" {
		problems = append(problems, "oci.token_ttl must be at least 1s and oci.service set")
	}
	if c.Backup.To != "" && c.Backup.Interval < Duration(time.Minute) {
		problems = append(problems, "backup.interval must be at least 1m when backup.to is set")
	}
	if c.Backup.Keep < 0 || c.Backup.KeepDays < 0 {
		problems = append(problems, "backup.keep and backup.keep_days must not be negative")
	}
	if c.GC.Grace < Duration(time.Second) {
		problems = append(problems, "gc.grace must be at least 1s: shorter windows make uploads racing a collection fail")
	}
	if c.Usage.PricePerGBMonth < 0 || c.Cleanup.Interval < 0 || c.Usage.SampleInterval < 0 || c.Cleanup.DownloadMaxPending < 0 {
		problems = append(problems, "usage.price_per_gb_month, cleanup.interval, usage.sample_interval and cleanup.download_max_pending cannot be negative")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		problems = append(problems, "tls.cert_file and tls.key_file must be set together")
	}
	if c.Jobs.Workers < 1 || c.Jobs.Timeout < Duration(time.Second) || c.Jobs.Retention < Duration(time.Minute) {
		problems = append(problems, "jobs.workers must be at least 1, jobs.timeout at least 1s and jobs.retention at least 1m")
	}
	if c.Webhooks.Timeout < Duration(100*time.Millisecond) || c.Webhooks.Timeout > Duration(5*time.Minute) ||
		c.Webhooks.MaxAttempts < 1 || c.Webhooks.MaxAttempts > 25 || c.Webhooks.Retention < Duration(time.Hour) ||
		c.Webhooks.Workers < 1 || c.Webhooks.Workers > 100 {
		problems = append(problems, "webhooks.timeout must be between 100ms and 5m, webhooks.max_attempts between 1 and 25, webhooks.retention at least 1h, webhooks.workers between 1 and 100")
	}
	if c.HTTP.ReadHeaderTimeout < Duration(time.Second) || c.HTTP.IdleTimeout < Duration(time.Second) {
		problems = append(problems, "http.read_header_timeout and http.idle_timeout must be at least 1s")
	}
	if c.HTTP.DrainDelay < 0 || c.HTTP.DrainDelay > Duration(time.Minute) {
		problems = append(problems, "http.drain_delay must be between 0 and 1m")
	}
	if c.HTTP.BodyTimeout < 0 || (c.HTTP.BodyTimeout > 0 && c.HTTP.BodyMinBytes < 1) {
		problems = append(problems, "http.body_timeout must not be negative, and http.body_min_bytes must be at least 1 when it is set")
	}
	if c.Auth.LoginMaxFailures < 1 {
		problems = append(problems, "auth.login_max_failures must be at least 1")
	}
	if c.Auth.PasswordHashSlots < 0 {
		problems = append(problems, "auth.password_hash_slots must not be negative (0: half the CPUs)")
	}
	if c.Auth.PasswordHashWait <= 0 {
		problems = append(problems, "auth.password_hash_wait must be positive")
	}
	if c.Auth.PasswordCheckRate <= 0 || c.Auth.PasswordCheckBurst < 1 {
		problems = append(problems, "auth.password_check_rate must be positive and auth.password_check_burst at least 1")
	}
	if _, err := c.TrustedProxies(); err != nil {
		problems = append(problems, err.Error())
	}
	switch c.Auth.TokenCredentials {
	case "bounded", "none":
	default:
		problems = append(problems, fmt.Sprintf("auth.token_credentials %q: want bounded or none", c.Auth.TokenCredentials))
	}
	problems = append(problems, c.validateSSO()...)
	switch c.Metrics.Auth {
	case "none", "user", "admin":
	default:
		problems = append(problems, fmt.Sprintf("metrics.auth %q: want none, user or admin", c.Metrics.Auth))
	}
	seen := map[string]bool{}
	for i, r := range c.Repositories {
		if r.Name == "" {
			problems = append(problems, fmt.Sprintf("repositories[%d]: name must not be empty", i))
		}
		if seen[r.Name] {
			problems = append(problems, fmt.Sprintf("repositories[%d]: duplicate name %q", i, r.Name))
		}
		seen[r.Name] = true
	}
	if len(problems) > 0 {
		return errors.New("invalid configuration: " + strings.Join(problems, "; "))
	}
	return nil
}

// TrustedProxies parses auth.trusted_proxies: CIDRs, or single addresses.
func (c *Config) TrustedProxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range c.Auth.TrustedProxies {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("auth.trusted_proxies: %q is neither a CIDR nor an address", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// BlobDir is the filesystem blob driver's root.
func (c *Config) BlobDir() string {
	if c.Blob.Dir != "" {
		return c.Blob.Dir
	}
	return c.DataDir + "/blobs"
}

// Redacted returns a copy safe to print: secrets are masked.
func (c Config) Redacted() Config {
	if c.AdminPassword != "" {
		c.AdminPassword = "xxxxx"
	}
	if c.S3.SecretKey != "" {
		c.S3.SecretKey = "xxxxx"
	}
	if c.Secrets.KEK != "" {
		c.Secrets.KEK = "xxxxx"
	}
	if c.Blob.S3.SecretKey != "" {
		c.Blob.S3.SecretKey = "xxxxx"
	}
	if c.Auth.LDAP.BindPassword != "" {
		c.Auth.LDAP.BindPassword = "xxxxx"
	}
	if c.Auth.OIDC.ClientSecret != "" {
		c.Auth.OIDC.ClientSecret = "xxxxx"
	}
	if c.Auth.OIDC.DeviceClientSecret != "" {
		c.Auth.OIDC.DeviceClientSecret = "xxxxx"
	}
	c.DatabaseURL = redactURL(c.DatabaseURL)
	return c
}

// YAML renders the configuration as YAML.
func (c Config) YAML() ([]byte, error) { return yaml.Marshal(c) }

func redactURL(s string) string {
	// Mask "user:password@" in URLs without depending on url.Parse, which
	// rejects some valid libpq URLs.
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return s
	}
	userinfo := rest[:at]
	if user, _, hasPw := strings.Cut(userinfo, ":"); hasPw {
		return scheme + "://" + user + ":xxxxx" + rest[at:]
	}
	return s
}
