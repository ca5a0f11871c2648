package config

import (
	"strconv"
	"strings"
	"time"
)

// envVars maps each environment variable to the field it sets.
var envVars = []struct {
	name string
	set  func(c *Config, v string) error
}{
	{"ARCA_ADDR", func(c *Config, v string) error { c.Addr = v; return nil }},
	{"ARCA_S3_ADDR", func(c *Config, v string) error { c.S3Addr = v; return nil }},
	{"ARCA_PUBLIC_URL", func(c *Config, v string) error { c.PublicURL = v; return nil }},
	{"ARCA_DATA_DIR", func(c *Config, v string) error { c.DataDir = v; return nil }},
	{"ARCA_DATABASE_URL", func(c *Config, v string) error { c.DatabaseURL = v; return nil }},
	{"ARCA_ADMIN_PASSWORD", func(c *Config, v string) error { c.AdminPassword = v; return nil }},
	{"ARCA_TLS_CERT_FILE", func(c *Config, v string) error { c.TLS.CertFile = v; return nil }},
	{"ARCA_TLS_KEY_FILE", func(c *Config, v string) error { c.TLS.KeyFile = v; return nil }},
	{"ARCA_KEK", func(c *Config, v string) error { c.Secrets.KEK = v; return nil }},
	{"ARCA_KEK_FILE", func(c *Config, v string) error { c.Secrets.KEKFile = v; return nil }},
	{"ARCA_LOG_LEVEL", func(c *Config, v string) error { c.Log.Level = v; return nil }},
	{"ARCA_LOG_FORMAT", func(c *Config, v string) error { c.Log.Format = v; return nil }},
	{"ARCA_BLOB_DIR", func(c *Config, v string) error { c.Blob.Dir = v; return nil }},
	{"ARCA_BLOB_DRIVER", func(c *Config, v string) error { c.Blob.Driver = v; return nil }},
	{"ARCA_BLOB_INLINE_MAX", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		c.Blob.InlineMax = n
		return err
	}},
	{"ARCA_BLOB_S3_ENDPOINT", func(c *Config, v string) error { c.Blob.S3.Endpoint = v; return nil }},
	{"ARCA_BLOB_S3_BUCKET", func(c *Config, v string) error { c.Blob.S3.Bucket = v; return nil }},
	{"ARCA_BLOB_S3_REGION", func(c *Config, v string) error { c.Blob.S3.Region = v; return nil }},
	{"ARCA_BLOB_S3_PREFIX", func(c *Config, v string) error { c.Blob.S3.Prefix = v; return nil }},
	{"ARCA_BLOB_S3_ACCESS_KEY", func(c *Config, v string) error { c.Blob.S3.AccessKey = v; return nil }},
	{"ARCA_BLOB_S3_SECRET_KEY", func(c *Config, v string) error { c.Blob.S3.SecretKey = v; return nil }},
	{"ARCA_BLOB_S3_PATH_STYLE", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		c.Blob.S3.PathStyle = b
		return err
	}},
	{"ARCA_S3_REGION", func(c *Config, v string) error { c.S3.Region = v; return nil }},
	{"ARCA_S3_DOMAIN", func(c *Config, v string) error { c.S3.Domain = v; return nil }},
	{"ARCA_S3_ACCESS_KEY", func(c *Config, v string) error { c.S3.AccessKey = v; return nil }},
	{"ARCA_S3_SECRET_KEY", func(c *Config, v string) error { c.S3.SecretKey = v; return nil }},
	{"ARCA_S3_CREATE_BUCKET_ROLE", func(c *Config, v string) error { c.S3.CreateBucketRole = v; return nil }},
	{"ARCA_TRUSTED_PROXIES", func(c *Config, v string) error {
		c.Auth.TrustedProxies = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
		return nil
	}},
	{"ARCA_LDAP_BIND_PASSWORD", func(c *Config, v string) error { c.Auth.LDAP.BindPassword = v; return nil }},
	{"ARCA_OIDC_CLIENT_SECRET", func(c *Config, v string) error { c.Auth.OIDC.ClientSecret = v; return nil }},
	{"ARCA_METRICS_AUTH", func(c *Config, v string) error { c.Metrics.Auth = v; return nil }},
	{"ARCA_VULNDB_URL", func(c *Config, v string) error { c.VulnDB.URL = v; return nil }},
	{"ARCA_SCAN_ADAPTER_REGISTRY_URL", func(c *Config, v string) error { c.Scan.AdapterRegistryURL = v; return nil }},
	{"ARCA_SCAN_ON_PUSH", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		c.Scan.OnPush = b
		return err
	}},
	{"ARCA_HTTP_BODY_TIMEOUT", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		c.HTTP.BodyTimeout = Duration(d)
		return err
	}},
	{"ARCA_HTTP_DRAIN_DELAY", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		c.HTTP.DrainDelay = Duration(d)
		return err
	}},
	{"ARCA_HTTP_BODY_MIN_BYTES", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		c.HTTP.BodyMinBytes = n
		return err
	}},
	{"ARCA_MAX_UPLOAD_BYTES", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		c.Limits.MaxUploadBytes = n
		return err
	}},
	{"ARCA_GC_INTERVAL", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		c.GC.Interval = Duration(d)
		return err
	}},
	{"ARCA_GC_GRACE", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		c.GC.Grace = Duration(d)
		return err
	}},
	{"ARCA_CLEANUP_INTERVAL", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		c.Cleanup.Interval = Duration(d)
		return err
	}},
	{"ARCA_USAGE_PRICE_PER_GB_MONTH", func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		c.Usage.PricePerGBMonth = f
		return err
	}},
	{"ARCA_BACKUP_TO", func(c *Config, v string) error { c.Backup.To = v; return nil }},
	{"ARCA_BACKUP_INTERVAL", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		c.Backup.Interval = Duration(d)
		return err
	}},
	{"ARCA_BACKUP_KEEP", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		c.Backup.Keep = n
		return err
	}},
	{"ARCA_BACKUP_KEEP_DAYS", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		c.Backup.KeepDays = n
		return err
	}},
	{"ARCA_BACKUP_S3_ENDPOINT", func(c *Config, v string) error { c.Backup.S3Endpoint = v; return nil }},
	{"ARCA_BACKUP_S3_ACCESS_KEY", func(c *Config, v string) error { c.Backup.S3AccessKey = v; return nil }},
	{"ARCA_BACKUP_S3_SECRET_KEY", func(c *Config, v string) error { c.Backup.S3SecretKey = v; return nil }},
	{"ARCA_JOBS_TIMEOUT", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		c.Jobs.Timeout = Duration(d)
		return err
	}},
}

// EnvNames lists the environment variables Load reads, for documentation.
func EnvNames() []string {
	names := make([]string, len(envVars))
	for i, e := range envVars {
		names[i] = e.name
	}
	return names
}
