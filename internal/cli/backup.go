package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/arcaproject/arca/internal/app"
	"github.com/arcaproject/arca/internal/backup"
	"github.com/arcaproject/arca/internal/keyring"
)

const backupUsage = `Usage:
  arca backup --to LOCATION [flags]           back up the metadata and every blob it names (online)
  arca backup list --from LOCATION            the backups in LOCATION, oldest first
  arca backup verify --from LOCATION [--id ID] check a backup's snapshot and every blob's sha256
  arca backup prune --from LOCATION [--keep N] [--keep-days N] [--dry-run]
                                              delete old backups and the blobs only they needed
  arca restore --from LOCATION [--id ID] [flags]
                                              restore into an empty data directory / database

LOCATION is a directory or s3://bucket/prefix. For S3: --s3-endpoint URL (or
AWS_ENDPOINT_URL), AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_REGION.
See docs/operations.md, "Backup and restore".
`

// s3Flags registers the flags that reach an S3 location; the credentials
// come from the environment.
func s3Flags(fs *flag.FlagSet, env Env, opts *backup.S3Options) {
	opts.Endpoint = env.Getenv("AWS_ENDPOINT_URL_S3")
	if opts.Endpoint == "" {
		opts.Endpoint = env.Getenv("AWS_ENDPOINT_URL")
	}
	opts.Region = env.Getenv("AWS_REGION")
	opts.AccessKey, opts.SecretKey = env.Getenv("AWS_ACCESS_KEY_ID"), env.Getenv("AWS_SECRET_ACCESS_KEY")
	fs.StringVar(&opts.Endpoint, "s3-endpoint", opts.Endpoint, "S3 API URL of an s3:// location (another arca, MinIO); default AWS")
}

func runBackup(args []string, env Env) error {
	if len(args) > 0 {
		switch args[0] {
		case "list", "verify", "prune":
			return manageBackups(args[0], args[1:], env)
		case "help", "-h", "--help":
			fmt.Fprint(env.Stdout, backupUsage)
			return nil
		}
	}
	var to string
	var s3 backup.S3Options
	return maintain("backup", args, env, func(fs *flag.FlagSet) {
		fs.StringVar(&to, "to", "", "where to: a directory or s3://bucket/prefix")
		s3Flags(fs, env, &s3)
	}, func(ctx context.Context, a *app.App) error {
		if to == "" {
			return usageError{"backup: --to is required\n\n" + backupUsage}
		}
		t, err := backup.OpenTarget(ctx, to, s3)
		if err != nil {
			return err
		}
		m, err := backup.Run(ctx, backup.Source{DB: a.DB, Blobs: a.Blobs}, t, backup.Options{Progress: env.Stderr})
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "backup %s to %s: %d tables, %d blobs (%s); copied %d blobs (%s) in %s\n",
			m.ID, t, len(m.Tables), m.Blobs, humanize.IBytes(uint64(m.BlobBytes)), m.CopiedBlobs, humanize.IBytes(uint64(m.CopiedBytes)),
			m.FinishedAt.Sub(m.StartedAt).Round(time.Millisecond))
		return nil
	})
}

// manageBackups runs list, verify and prune, which need only the location.
func manageBackups(cmd string, args []string, env Env) error {
	var from, id string
	var keep, keepDays int
	var dryRun bool
	var s3 backup.S3Options
	_, rest, err := loadConfig("backup "+cmd, args, env, func(fs *flag.FlagSet) {
		fs.StringVar(&from, "from", "", "the backup location: a directory or s3://bucket/prefix")
		fs.StringVar(&id, "id", "", "verify: the backup (default: the newest)")
		fs.IntVar(&keep, "keep", 0, "prune: keep the newest N backups")
		fs.IntVar(&keepDays, "keep-days", 0, "prune: keep the backups younger than N days")
		fs.BoolVar(&dryRun, "dry-run", false, "prune: report, delete nothing")
		s3Flags(fs, env, &s3)
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 || from == "" {
		return usageError{fmt.Sprintf("backup %s: want --from LOCATION and no arguments\n\n%s", cmd, backupUsage)}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t, err := backup.OpenTarget(ctx, from, s3)
	if err != nil {
		return err
	}
	out := env.Stdout
	switch cmd {
	case "list":
		all, err := backup.List(ctx, t)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTARTED\tTOOK\tVERSION\tSCHEMA\tBLOBS\tBYTES\tCOPIED")
		for _, e := range all {
			m := e.Manifest
			if m == nil {
				fmt.Fprintf(tw, "%s\t(incomplete)\t\t\t\t\t\t\n", e.ID)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s %d\t%d\t%s\t%s\n", m.ID, m.StartedAt.Format(time.RFC3339), m.FinishedAt.Sub(m.StartedAt).Round(time.Second),
				m.ArcaVersion, m.Dialect, m.SchemaVersion, m.Blobs, humanize.IBytes(uint64(m.BlobBytes)), humanize.IBytes(uint64(m.CopiedBytes)))
		}
		return tw.Flush()
	case "verify":
		m, err := backup.Find(ctx, t, id)
		if err != nil {
			return err
		}
		rep, err := backup.Verify(ctx, t, m, env.Stderr)
		if err != nil {
			return err
		}
		for _, p := range rep.Problems {
			fmt.Fprintln(out, p)
		}
		fmt.Fprintf(out, "backup %s: %d tables, %d blobs (%s) checked: %d problems\n", m.ID, len(rep.Tables), rep.Blobs, humanize.IBytes(uint64(rep.Bytes)), len(rep.Problems))
		if len(rep.Problems) > 0 {
			return fmt.Errorf("backup %s is damaged", m.ID)
		}
		return nil
	default: // prune
		rep, err := backup.Prune(ctx, t, backup.Retention{Keep: keep, KeepDays: keepDays}, time.Now(), dryRun)
		if err != nil {
			return err
		}
		verb := "deleted"
		if dryRun {
			verb = "would delete"
		}
		for _, id := range rep.Deleted {
			fmt.Fprintf(out, "%s backup %s\n", verb, id)
		}
		fmt.Fprintf(out, "kept %d backups; %s %d backups and %d blobs (%s) no kept backup needs\n",
			len(rep.Kept), verb, len(rep.Deleted), rep.Blobs, humanize.IBytes(uint64(rep.BlobsBytes)))
		return nil
	}
}

// runRestore restores a backup into the data directory and database the
// configuration names, which must be empty, with the key-encryption key
// the configuration names (ARCA_KEK, ARCA_KEK_FILE or an existing
// <data_dir>/kek: restore never makes one up).
func runRestore(args []string, env Env) error {
	var from, id string
	var s3 backup.S3Options
	cfg, rest, err := loadConfig("restore", args, env, func(fs *flag.FlagSet) {
		fs.StringVar(&from, "from", "", "the backup location: a directory or s3://bucket/prefix")
		fs.StringVar(&id, "id", "", "the backup to restore (default: the newest)")
		s3Flags(fs, env, &s3)
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 || from == "" {
		return usageError{"restore: want --from LOCATION and no arguments\n\n" + backupUsage}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	kek, _, err := keyring.LoadKEK(keyring.Source{Value: cfg.Secrets.KEK, File: cfg.KEKFile()})
	if err != nil {
		return fmt.Errorf("%w: a restore needs the key-encryption key the backup was taken under (ARCA_KEK, ARCA_KEK_FILE, or copy it to %s)", err, cfg.KEKFile())
	}
	t, err := backup.OpenTarget(ctx, from, s3)
	if err != nil {
		return err
	}
	m, err := backup.Find(ctx, t, id)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return err
	}
	blobs, err := app.OpenBlobStore(ctx, cfg)
	if err != nil {
		return err
	}
	rep, err := backup.Restore(ctx, t, m, backup.Destination{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir, Blobs: blobs, KEK: kek}, env.Stderr)
	if err != nil {
		return err
	}
	var rows int64
	for _, n := range rep.Tables {
		rows += n
	}
	fmt.Fprintf(env.Stdout, "restored backup %s (%s, schema %d) into %s: %d rows in %d tables, %d blobs (%s; %d copied, %d already stored), every sha256 verified\n",
		m.ID, m.Dialect, m.SchemaVersion, rep.Dialect, rows, len(m.Tables), rep.Blobs, humanize.IBytes(uint64(rep.Bytes)), rep.Copied, rep.AlreadyStored)
	return nil
}
