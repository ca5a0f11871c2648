// Package cli is arca's command line: serve, version, config print and
// admin. main calls Main and exits with its status.
package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/arcaproject/arca/internal/app"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/version"
)

// Env is what a command reads from and writes to.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

const usage = `arca — one server for container images, packages, ML experiments, datasets and S3 objects

Usage:
  arca serve [flags]            run the server
  arca version                  print the version
  arca config print [flags]     print the effective configuration, secrets masked
  arca admin <command> [flags]  manage users, robots, tokens and roles (run "arca admin help")
  arca gc [--dry-run] [flags]   delete blobs nothing refers to (safe while the server runs)
  arca fsck [--repair] [flags]  check that every stored artifact has its bytes (exit 1 if not)
  arca configure <client> ...   point pip, uv, twine, npm, docker, aws, dvc, mlflow, go or helm at arca
  arca login --url URL          sign in with the server's identity provider; stores a token for configure
  arca go publish <dir> <version> --url URL ...   publish a Go module version (run "arca go" for its flags)
  arca backup --to LOCATION     online backup to a directory or s3://bucket/prefix (run "arca backup help")
  arca backup list|verify|prune --from LOCATION
  arca restore --from LOCATION  restore a backup into an empty data directory or database
  arca vulndb import|update|status  load vulnerability data (OSV exports) for scanning
  arca import SOURCE [flags]    bring history from MLflow, registries, indexes, S3 or Nexus (run "arca import")
  arca lineage <ref> --url URL  what an artifact was made from and what was made from it (run "arca lineage")
  arca search QUERY --url URL   search names, versions, descriptions or a digest across formats
  arca search reindex [flags]   rebuild the search index (maintenance, like gc)
  arca probe [--live] [flags]   exit 0 if the local server is ready (/readyz; --live: /healthz), for health checks

Flags of serve, config print and admin:
  --config FILE  --addr ADDR  --s3-addr ADDR  --data-dir DIR  --database-url URL
`

// Main runs the command in args and returns the process exit status.
func Main(args []string, env Env) int {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(args[1:], env)
	case "version", "--version":
		fmt.Fprintln(env.Stdout, "arca", version.String())
	case "config":
		if len(args) < 2 || args[1] != "print" {
			fmt.Fprintln(env.Stderr, "usage: arca config print [flags]")
			return 2
		}
		err = configPrint(args[2:], env)
	case "admin":
		err = admin(args[1:], env)
	case "gc":
		err = runGC(args[1:], env)
	case "fsck":
		err = runFsck(args[1:], env)
	case "configure":
		err = configure(args[1:], env)
	case "login":
		err = login(args[1:], env)
	case "backup":
		err = runBackup(args[1:], env)
	case "restore":
		err = runRestore(args[1:], env)
	case "go":
		err = goCommand(args[1:], env)
	case "probe":
		err = probe(args[1:], env)
	case "import":
		err = runImport(args[1:], env)
	case "vulndb":
		err = runVulnDB(args[1:], env)
	case "lineage":
		err = lineageCommand(args[1:], env)
	case "search":
		err = runSearch(args[1:], env)
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, usage)
	default:
		fmt.Fprintf(env.Stderr, "arca: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(env.Stderr, "arca:", err)
		return 2
	default:
		fmt.Fprintln(env.Stderr, "arca:", err)
		return 1
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// loadConfig parses the shared flags from args and returns the effective
// configuration and the remaining arguments.
func loadConfig(name string, args []string, env Env, extra func(*flag.FlagSet)) (config.Config, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var f config.Flags
	f.Register(fs)
	if extra != nil {
		extra(fs)
	}
	// Flags may come before, between and after positional arguments.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return config.Config{}, nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		positional, args = append(positional, args[0]), args[1:]
	}
	cfg, err := config.Load(f, env.Getenv)
	return cfg, positional, err
}

func serve(args []string, env Env) error {
	cfg, rest, err := loadConfig("serve", args, env, nil)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{fmt.Sprintf("serve takes no arguments, got %q", rest)}
	}
	log := app.NewLogger(cfg.Log, env.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	_, err = a.Auth.GetUser(ctx, "admin")
	first := firstStart{DataDir: cfg.DataDir, Database: cfg.Redacted().DatabaseURL, showBanner: errs.Is(err, errs.NotFound)}
	pw, err := a.BootstrapServe(ctx)
	if err != nil {
		return err
	}
	first.PasswordShown = pw != ""
	if pw != "" {
		// Shown once, outside the structured log, like other servers' first-start secrets.
		fmt.Fprintf(env.Stderr, "\n  arca created the user \"admin\" with the password:\n\n      %s\n\n  It is shown only this once. Change it with `arca admin user passwd admin`.\n\n", pw)
	}
	id, secret, err := a.BootstrapS3(ctx)
	if err != nil {
		return err
	}
	if id != "" && cfg.S3Addr == "" {
		s3KeyNotice(env.Stderr, id, secret, "")
	}
	first.S3KeysShown = secret != ""
	return a.Serve(ctx, func(surface, addr string) {
		if surface == "s3" && id != "" {
			// Once the S3 listener is up, so that the notice names its real address.
			s3KeyNotice(env.Stderr, id, secret, app.ListenURL(addr))
		}
		// The banner of a first start, once every listener is up.
		switch surface {
		case "http":
			first.URL = app.ListenURL(addr)
			if a.Config.TLS.Enabled() {
				first.URL = "https://" + strings.TrimPrefix(first.URL, "http://")
			}
		case "s3":
			first.S3URL = app.ListenURL(addr)
			if a.Config.TLS.Enabled() {
				first.S3URL = "https://" + strings.TrimPrefix(first.S3URL, "http://")
			}
			if first.showBanner {
				printBanner(env.Stderr, first)
			}
		}
	})
}

// s3KeyNotice shows the admin's generated S3 key pair once, as the lines
// S3 clients (aws, boto3, dvc, rclone) read it from, beside the endpoint.
func s3KeyNotice(w io.Writer, id, secret, endpoint string) {
	fmt.Fprintf(w, "\n  arca created an S3 access key pair for \"admin\". S3 clients (aws, boto3, dvc) read it from:\n\n"+
		"      export AWS_ACCESS_KEY_ID=%s\n      export AWS_SECRET_ACCESS_KEY=%s\n", id, secret)
	if endpoint != "" {
		fmt.Fprintf(w, "      aws --endpoint-url %s s3 ls\n", endpoint)
	}
	fmt.Fprint(w, "\n  The secret is shown only this once. Manage keys with `arca admin s3key`;\n"+
		"  set ARCA_S3_ACCESS_KEY and ARCA_S3_SECRET_KEY to choose the pair instead.\n\n")
}

func configPrint(args []string, env Env) error {
	cfg, _, err := loadConfig("config print", args, env, nil)
	if err != nil {
		return err
	}
	b, err := cfg.Redacted().YAML()
	if err != nil {
		return err
	}
	_, err = env.Stdout.Write(b)
	return err
}

const adminUsage = `Usage: arca admin <command> [flags] [args]

  user create NAME [--password P | --password-stdin] [--email E] [--role ROLE]
  user list
  user passwd NAME [--password P | --password-stdin]
  user delete NAME
  robot create NAME [--role ROLE]          prints the robot's token once
  token create USER [--name N] [--ttl 720h] prints the token once
  token list USER
  token revoke USER NAME
  s3key create USER [--access-key ID --secret-key-stdin] [--description D]
                                          prints the S3 key pair once
  s3key list USER
  s3key revoke USER KEYID
  grant USER REPOSITORY ROLE              ROLE: reader, developer, maintainer, admin, or none
  repo list
  kek rotate [--new-kek-file FILE]        re-wrap the server keys under a new key-encryption key
                                          (stop every arca process first; see docs/operations.md)

A global --role applies to every repository. admin commands work on the
database directly; run them with the same configuration as the server.
`

func admin(args []string, env Env) error {
	if len(args) == 0 || args[0] == "help" {
		fmt.Fprint(env.Stdout, adminUsage)
		return nil
	}
	cmd := args[0]
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") && (cmd == "user" || cmd == "robot" || cmd == "token" || cmd == "repo" || cmd == "s3key" || cmd == "kek") {
		cmd += " " + args[1]
		args = args[1:]
	}
	var password, email, role, tokenName, accessKey, description, newKEKFile string
	var passwordStdin, secretStdin bool
	var ttl time.Duration
	cfg, rest, err := loadConfig("admin "+cmd, args[1:], env, func(fs *flag.FlagSet) {
		fs.StringVar(&password, "password", "", "password (prefer --password-stdin)")
		fs.BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")
		fs.StringVar(&email, "email", "", "e-mail address")
		fs.StringVar(&role, "role", "", "global role: reader, developer, maintainer or admin")
		fs.StringVar(&tokenName, "name", "cli", "token name")
		fs.DurationVar(&ttl, "ttl", 0, "token lifetime (0: never expires)")
		fs.StringVar(&accessKey, "access-key", "", "S3 access key ID to create (default: generated)")
		fs.BoolVar(&secretStdin, "secret-key-stdin", false, "read the S3 secret access key from standard input (default: generated)")
		fs.StringVar(&description, "description", "", "what the S3 key is for")
		fs.StringVar(&newKEKFile, "new-kek-file", "", "kek rotate: file of the new key-encryption key (created if missing)")
	})
	if err != nil {
		return err
	}
	if passwordStdin {
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("reading password from standard input: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	secretKey := ""
	if secretStdin {
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("reading the secret key from standard input: %w", err)
		}
		secretKey = strings.TrimRight(line, "\r\n")
	}
	globalRole := auth.NoRole
	if role != "" {
		if globalRole, err = auth.ParseRole(role); err != nil {
			return err
		}
	}
	need := func(n int, what string) error {
		if len(rest) != n {
			return usageError{fmt.Sprintf("admin %s: want %s", cmd, what)}
		}
		return nil
	}

	ctx := context.Background()
	a, err := app.Open(ctx, cfg, app.NewLogger(config.Log{Level: "warn", Format: "text"}, env.Stderr))
	if err != nil {
		return err
	}
	defer a.Close()
	out := env.Stdout

	switch cmd {
	case "user create":
		if err := need(1, "NAME"); err != nil {
			return err
		}
		generated := false
		if password == "" {
			password, generated = auth.RandomTypable(24), true
		}
		u, err := a.Auth.CreateUser(ctx, rest[0], password, email, globalRole)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "created user %s\n", u.Name)
		if generated {
			fmt.Fprintf(out, "password: %s\n", password)
		}
	case "user list":
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tKIND\tROLE\tDISABLED\tCREATED")
		users, err := a.Auth.ListUsers(ctx)
		if err != nil {
			return err
		}
		for _, u := range users {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", u.Name, u.Kind, orDash(string(u.Role)), u.Disabled, time.UnixMilli(u.CreatedAt).UTC().Format(time.RFC3339))
		}
		tw.Flush()
	case "user passwd":
		if err := need(1, "NAME"); err != nil {
			return err
		}
		if password == "" {
			return usageError{"admin user passwd: give --password or --password-stdin"}
		}
		if err := a.Auth.SetPassword(ctx, rest[0], password); err != nil {
			return err
		}
		fmt.Fprintf(out, "password of %s changed\n", rest[0])
	case "user delete":
		if err := need(1, "NAME"); err != nil {
			return err
		}
		if err := a.Auth.DeleteUser(ctx, rest[0]); err != nil {
			return err
		}
		fmt.Fprintf(out, "deleted user %s\n", rest[0])
	case "robot create":
		if err := need(1, "NAME"); err != nil {
			return err
		}
		u, err := a.Auth.CreateRobot(ctx, rest[0], globalRole)
		if err != nil {
			return err
		}
		secret, _, err := a.Auth.CreateToken(ctx, u.Name, "default", ttl)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "created robot %s\ntoken: %s\n", u.Name, secret)
	case "token create":
		if err := need(1, "USER"); err != nil {
			return err
		}
		secret, _, err := a.Auth.CreateToken(ctx, rest[0], tokenName, ttl)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, secret)
	case "token list":
		if err := need(1, "USER"); err != nil {
			return err
		}
		toks, err := a.Auth.ListTokens(ctx, rest[0])
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tPREFIX\tEXPIRES\tLAST USED")
		for _, t := range toks {
			fmt.Fprintf(tw, "%s\t%s…\t%s\t%s\n", t.Name, t.Prefix, msTime(t.ExpiresAt), msTime(t.LastUsedAt))
		}
		tw.Flush()
	case "token revoke":
		if err := need(2, "USER NAME"); err != nil {
			return err
		}
		if err := a.Auth.RevokeToken(ctx, rest[0], rest[1]); err != nil {
			return err
		}
		fmt.Fprintf(out, "revoked token %s of %s\n", rest[1], rest[0])
	case "s3key create":
		if err := need(1, "USER"); err != nil {
			return err
		}
		k, secret, err := a.Auth.CreateAccessKey(ctx, rest[0], accessKey, secretKey, description)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "access key ID:     %s\nsecret access key: %s\n", k.ID, secret)
	case "s3key list":
		if err := need(1, "USER"); err != nil {
			return err
		}
		keys, err := a.Auth.ListAccessKeys(ctx, rest[0])
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ACCESS KEY ID\tCREATED\tLAST USED\tDESCRIPTION")
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, msTime(k.CreatedAt), msTime(k.LastUsedAt), k.Description)
		}
		tw.Flush()
	case "s3key revoke":
		if err := need(2, "USER KEYID"); err != nil {
			return err
		}
		if err := a.Auth.RevokeAccessKey(ctx, rest[0], rest[1]); err != nil {
			return err
		}
		fmt.Fprintf(out, "revoked S3 access key %s of %s\n", rest[1], rest[0])
	case "grant":
		if err := need(3, "USER REPOSITORY ROLE"); err != nil {
			return err
		}
		r, err := a.Repos.Get(ctx, rest[1])
		if err != nil {
			return err
		}
		role := auth.NoRole
		if rest[2] != "none" {
			if role, err = auth.ParseRole(rest[2]); err != nil {
				return err
			}
		}
		if err := a.Auth.Grant(ctx, rest[0], r.ID, role); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s is now %s on %s\n", rest[0], orDash(string(role)), r.Name)
	case "kek rotate":
		if err := need(0, "no arguments"); err != nil {
			return err
		}
		return rotateKEK(ctx, a, cfg, newKEKFile, out)
	case "repo list":
		repos, err := a.Repos.List(ctx, "")
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tFORMAT\tKIND\tVISIBILITY")
		for _, r := range repos {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Format, r.Kind, r.Visibility)
		}
		tw.Flush()
	default:
		return usageError{fmt.Sprintf("unknown admin command %q\n\n%s", cmd, adminUsage)}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func msTime(ms int64) string {
	if ms == 0 {
		return "never"
	}
	return time.UnixMilli(ms).UTC().Format(time.RFC3339)
}

// maintain runs a maintenance command (gc, fsck) that takes flags but no
// arguments: it opens the data directory and database the flags name and
// calls run until it returns or the process is interrupted.
func maintain(name string, args []string, env Env, flags func(*flag.FlagSet), run func(context.Context, *app.App) error) error {
	cfg, rest, err := loadConfig(name, args, env, flags)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{fmt.Sprintf("%s takes no arguments, got %q", name, rest)}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.Open(ctx, cfg, app.NewLogger(config.Log{Level: "warn", Format: "text"}, env.Stderr))
	if err != nil {
		return err
	}
	defer a.Close()
	return run(ctx, a)
}

func runGC(args []string, env Env) error {
	var dryRun bool
	return maintain("gc", args, env, func(fs *flag.FlagSet) {
		fs.BoolVar(&dryRun, "dry-run", false, "report what would be deleted, delete nothing")
	}, func(ctx context.Context, a *app.App) error {
		return collect(ctx, a, dryRun, env)
	})
}

func collect(ctx context.Context, a *app.App, dryRun bool, env Env) error {
	res, err := a.Collector().Run(ctx, dryRun, func(r gc.Result) {
		fmt.Fprintf(env.Stderr, "scanned %d blobs, %d deletable so far\n", r.Scanned, r.Deleted)
	})
	if err != nil {
		return err
	}
	verb := "deleted"
	if dryRun {
		verb = "would delete"
	}
	fmt.Fprintf(env.Stdout, "scanned %d blobs: %s %d (%s), %d in use, %d within the grace window; purged %d abandoned uploads (%d ms)\n",
		res.Scanned, verb, res.Deleted, humanize.IBytes(uint64(res.BytesFreed)), res.InUse, res.Young, res.StagedPurged+res.UploadsEnded, res.TookMillis)
	return nil
}

// runFsck checks metadata against the blob store and, with --repair,
// removes the artifacts whose bytes are gone.
func runFsck(args []string, env Env) error {
	var repair bool
	return maintain("fsck", args, env, func(fs *flag.FlagSet) {
		fs.BoolVar(&repair, "repair", false, "delete the metadata of artifacts whose bytes are missing")
	}, func(ctx context.Context, a *app.App) error {
		return fsck(ctx, a, repair, env)
	})
}

func fsck(ctx context.Context, a *app.App, repair bool, env Env) error {
	rep, err := a.Collector().Fsck(ctx, repair)
	if err != nil {
		return err
	}
	for _, m := range rep.Missing {
		fmt.Fprintf(env.Stdout, "%s: %s\n", m.Digest, m.Problem)
		for _, u := range m.UsedBy {
			fmt.Fprintf(env.Stdout, "  used by %s\n", u)
		}
	}
	fmt.Fprintf(env.Stdout, "checked %d blob rows against %d stored blobs: %d without their bytes; %d orphaned blobs (%s) for gc\n",
		rep.Rows, rep.Blobs, len(rep.Missing), rep.Orphans, humanize.IBytes(uint64(rep.OrphanBytes)))
	if rep.Deleting > 0 {
		fmt.Fprintf(env.Stdout, "%d blobs are being deleted by a collector (or by the next one, if it was interrupted)\n", rep.Deleting)
	}
	switch {
	case rep.Repaired:
		fmt.Fprintf(env.Stdout, "repaired: removed the metadata of %d missing blobs\n", len(rep.Missing))
	case len(rep.Missing) > 0:
		return fmt.Errorf("%d blobs are missing; run arca fsck --repair to remove what refers to them", len(rep.Missing))
	}
	return nil
}
