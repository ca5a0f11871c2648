package cli

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/arcaproject/arca/internal/clientconf"
)

const configureUsage = `usage: arca configure <client> --url URL [flags]

Points a client at arca by editing the configuration file it reads, changing
only arca's settings (running it again changes nothing). Clients:
  pip, uv, twine      PyPI (--repo, default pypi-hosted; a group works too)
  npm                 npm and pnpm (.npmrc; --repo, default npm-hosted)
  yarn                yarn classic: the same, plus always-auth, which it needs
  docker              docker, crane, skopeo, oras, podman (~/.docker/config.json)
  mlflow              an environment file to source: ~/.config/arca/mlflow.env
  aws                 the AWS CLI and boto3: profile "arca" (--s3-url and an S3 key pair)
  dvc                 the DVC repository in the working directory: remote "arca"
                      in .dvc/config.local (--repo is the bucket, default dvc-storage)
  go                  the go command: GOPROXY (and GONOSUMDB from --private) in
                      ~/.config/go/env, credentials in ~/.netrc (sent over HTTPS only;
                      --repo, default go-hosted; a group of it and a proxy is the usual choice)
  helm                helm: repository "arca" in ~/.config/helm/repositories.yaml
                      (--repo, default helm-hosted); then helm repo update

Flags:
  --url URL              arca's address, e.g. http://localhost:8080
  --s3-url URL           arca's S3 address, e.g. http://localhost:9000 (aws, dvc)
  --repo NAME            the repository or bucket
  --user NAME            your user or robot name
  --token TOKEN          an API token (arca admin token create, or the web UI)
  --token-stdin          read the token from standard input instead
  --access-key ID        an S3 access key (aws, dvc); --secret-key-stdin reads its secret
  --secret-key SECRET
  --private PREFIXES     go: module path prefixes only arca serves (GONOSUMDB), comma-separated
  --dry-run              show what would change (secrets masked), change nothing
  --undo                 put back the files as they were before arca configure first changed them
`

// configure edits a client's configuration files (issue 16).
func configure(args []string, env Env) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usageError{strings.TrimSpace(configureUsage)}
	}
	client := args[0]
	fset := flag.NewFlagSet("configure", flag.ContinueOnError)
	fset.SetOutput(env.Stderr)
	var rawURL, rawS3, tokenFlag, secretFlag string
	var tokenStdin, secretStdin, dryRun, undo bool
	var t clientconf.Target
	fset.StringVar(&rawURL, "url", "", "arca's address")
	fset.StringVar(&rawS3, "s3-url", "", "arca's S3 address")
	fset.StringVar(&t.Repo, "repo", "", "repository or bucket")
	fset.StringVar(&t.User, "user", "", "user or robot name")
	fset.StringVar(&tokenFlag, "token", "", "API token")
	fset.BoolVar(&tokenStdin, "token-stdin", false, "read the token from standard input")
	fset.StringVar(&t.AccessKey, "access-key", "", "S3 access key ID")
	fset.StringVar(&secretFlag, "secret-key", "", "S3 secret access key")
	fset.StringVar(&t.Private, "private", "", "go: module path prefixes only arca serves (GONOSUMDB)")
	fset.BoolVar(&secretStdin, "secret-key-stdin", false, "read the S3 secret key from standard input")
	fset.BoolVar(&dryRun, "dry-run", false, "show the changes, change nothing")
	fset.BoolVar(&undo, "undo", false, "restore the files as they were before")
	if err := fset.Parse(args[1:]); err != nil {
		return usageError{err.Error()}
	}
	if fset.NArg() > 0 {
		return usageError{fmt.Sprintf("configure takes one client, got %q", append([]string{client}, fset.Args()...))}
	}
	t.Secret, t.SecretKey = tokenFlag, secretFlag
	stdin := bufio.NewReader(env.Stdin)
	for _, s := range []struct {
		on  bool
		dst *string
	}{{tokenStdin, &t.Secret}, {secretStdin, &t.SecretKey}} {
		if s.on {
			line, err := stdin.ReadString('\n')
			if err != nil && line == "" {
				return usageError{"nothing to read on standard input"}
			}
			*s.dst = strings.TrimSpace(line)
		}
	}
	var err error
	if t.URL, err = parseServerURL(rawURL); err != nil && !undo {
		return err
	}
	if t.User == "" && t.Secret == "" && t.URL != nil {
		// What arca login stored for this server, if anything.
		if c, ok := loadCredential(env, t.URL.String()); ok {
			t.User, t.Secret = c.User, c.Token
		}
	}
	if rawS3 != "" {
		if t.S3URL, err = parseServerURL(rawS3); err != nil {
			return err
		}
	}
	if undo { // which files, not what goes in them: placeholders will do
		t = clientconf.Target{URL: &url.URL{Scheme: "http", Host: "localhost"}, S3URL: &url.URL{Scheme: "http", Host: "localhost"},
			User: "-", Secret: "-", AccessKey: "-", SecretKey: "-"}
	}
	edits, err := clientconf.For(client, t)
	if err != nil {
		return usageError{err.Error()}
	}
	home := env.Getenv("HOME")
	if home == "" {
		return errors.New("HOME is not set")
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	for _, e := range edits {
		path := filepath.Join(home, e.Path)
		if e.InWorkDir {
			if _, err := os.Stat(filepath.Join(wd, filepath.Dir(e.Path))); err != nil {
				return fmt.Errorf("%s: run arca configure %s inside the repository (no %s here)", client, client, filepath.Dir(e.Path))
			}
			path = filepath.Join(wd, e.Path)
		}
		if undo {
			if err := restore(path, env); err != nil {
				return err
			}
			continue
		}
		if err := apply(path, e, t, dryRun, env); err != nil {
			return err
		}
	}
	return nil
}

func parseServerURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, usageError{"--url is required, e.g. --url http://localhost:8080"}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, usageError{fmt.Sprintf("%q is not an http(s) URL of a server (credentials go in --user and --token)", raw)}
	}
	return u, nil
}

// Backups: the file as it was before arca configure first changed it, or a
// marker saying it did not exist.
func backupPath(path string) string { return path + ".arca-backup" }
func absentPath(path string) string { return path + ".arca-absent" }

func apply(path string, e clientconf.Edit, t clientconf.Target, dryRun bool, env Env) error {
	oldBytes, err := os.ReadFile(path)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	old := string(oldBytes)
	updated, err := e.Apply(old)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if updated == old {
		fmt.Fprintf(env.Stdout, "%s: already configured\n", path)
		return nil
	}
	if dryRun {
		fmt.Fprintf(env.Stdout, "%s would change:\n%s", path, clientconf.Mask(lineDiff(old, updated), t))
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	_, errB := os.Stat(backupPath(path))
	_, errA := os.Stat(absentPath(path))
	if errors.Is(errB, fs.ErrNotExist) && errors.Is(errA, fs.ErrNotExist) { // keep the first original
		if exists {
			err = os.WriteFile(backupPath(path), oldBytes, 0o600)
		} else {
			err = os.WriteFile(absentPath(path), nil, 0o600)
		}
		if err != nil {
			return err
		}
	}
	// The file holds a secret: only its owner reads it.
	tmp := path + ".arca-tmp"
	if err := os.WriteFile(tmp, []byte(updated), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s: configured (arca configure --undo restores it)\n", path)
	return nil
}

func restore(path string, env Env) error {
	if b, err := os.ReadFile(backupPath(path)); err == nil {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s: restored\n", path)
		return os.Remove(backupPath(path))
	}
	if _, err := os.Stat(absentPath(path)); err == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s: removed (it did not exist before)\n", path)
		return os.Remove(absentPath(path))
	}
	fmt.Fprintf(env.Stdout, "%s: nothing to undo\n", path)
	return nil
}

// lineDiff shows the lines old lacks and the lines it loses, in order.
func lineDiff(old, updated string) string {
	oldLines := map[string]int{}
	for _, l := range strings.Split(old, "\n") {
		oldLines[l]++
	}
	newLines := map[string]int{}
	for _, l := range strings.Split(updated, "\n") {
		newLines[l]++
	}
	var b strings.Builder
	for _, l := range strings.Split(old, "\n") {
		if newLines[l] == 0 && l != "" {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	for _, l := range strings.Split(updated, "\n") {
		if oldLines[l] == 0 && l != "" {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	return b.String()
}
