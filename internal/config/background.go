package config

// The background work: garbage collection, the job queue, webhook
// deliveries and scheduled backups.

// GC configures garbage collection of unreferenced blobs.
type GC struct {
	// Interval between periodic runs; 0 disables them (run `arca gc`).
	Interval Duration `yaml:"interval"`
	// Grace protects blobs committed or referenced this recently. It is not
	// what keeps acknowledged data safe (the blob/GC rule in
	// docs/architecture.md does that at any grace); a write whose bytes GC
	// takes before the write records them fails and is retried by the
	// client, so a short grace costs retries, never data.
	Grace Duration `yaml:"grace"`
}

// Jobs configures the background job queue (docs/operations.md).
type Jobs struct {
	// Workers is how many jobs one process runs at once.
	Workers int `yaml:"workers"`
	// Timeout is the longest a job may run: past it the job is cancelled,
	// and a job whose process died is retried by another.
	// process takes its process for dead and retries it.
	Timeout Duration `yaml:"timeout"`
	// Retention is how long finished jobs stay in the history.
	Retention Duration `yaml:"retention"`
}

// Webhooks configures webhook delivery (docs/webhooks.md).
type Webhooks struct {
	// Timeout bounds one delivery attempt: connecting, sending, and
	// reading the receiver's answer.
	Timeout Duration `yaml:"timeout"`
	// MaxAttempts is how often a delivery is tried (with river's
	// exponential backoff between tries) before it is logged as failed.
	MaxAttempts int `yaml:"max_attempts"`
	// Retention is how long finished deliveries stay in the delivery log.
	Retention Duration `yaml:"retention"`
	// Workers is how many deliveries one process makes at once (a queue
	// of their own, beside jobs.workers).
	Workers int `yaml:"workers"`
}

// Backup configures scheduled backups (docs/disaster-recovery.md): with
// To and Interval set, the job runner's leader takes one backup per
// Interval, once per cluster, then prunes by Keep and KeepDays.
type Backup struct {
	// To is a directory or s3://bucket/prefix; empty: no scheduled backups.
	To       string   `yaml:"to"`
	Interval Duration `yaml:"interval"`
	// Keep the newest Keep backups and every one younger than KeepDays
	// days; both 0: keep every backup.
	Keep     int `yaml:"keep"`
	KeepDays int `yaml:"keep_days"`
	// S3Endpoint (another arca, MinIO; empty: AWS), S3Region, S3AccessKey
	// and S3SecretKey reach an s3:// target.
	S3Endpoint  string `yaml:"s3_endpoint"`
	S3Region    string `yaml:"s3_region"`
	S3AccessKey string `yaml:"s3_access_key"`
	S3SecretKey string `yaml:"s3_secret_key"`
}

// Cleanup configures cleanup policies (docs/storage.md).
type Cleanup struct {
	// Interval between scheduled runs of every enabled policy (followed
	// by garbage collection); 0 disables them.
	Interval Duration `yaml:"interval"`
	// DownloadFlush is how often last-download times noted in memory are
	// written to the database (and at shutdown).
	DownloadFlush Duration `yaml:"download_flush"`
	// DownloadMaxPending bounds the download times held in memory between
	// writes.
	DownloadMaxPending int `yaml:"download_max_pending"`
}

// Usage configures storage accounting (docs/storage.md).
type Usage struct {
	// SampleInterval is how often storage use is sampled into the history
	// (one sample per UTC day is kept); 0 disables sampling.
	SampleInterval Duration `yaml:"sample_interval"`
	// PricePerGBMonth turns bytes into a monthly cost (GB = 2^30 bytes);
	// 0 shows no cost.
	PricePerGBMonth float64 `yaml:"price_per_gb_month"`
	// Currency labels the cost ("USD", "EUR", ...).
	Currency string `yaml:"currency"`
}
