package cli

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

const goUsage = `usage: arca go publish <dir> <version> --url URL [--repo NAME] --user NAME (--token TOKEN | --token-stdin)

Builds the module zip of the module in <dir> (its go.mod names the module
path) as the go command would (golang.org/x/mod/zip: no vendor directory or
nested modules, checked file names and sizes) and publishes it as
<version> to a hosted Go repository (--repo, default go-hosted) with
PUT /go/<repo>/<module>/@v/<version>.zip.
`

// goCommand runs arca go <subcommand>.
func goCommand(args []string, env Env) error {
	if len(args) == 0 || args[0] != "publish" {
		return usageError{strings.TrimSpace(goUsage)}
	}
	fset := flag.NewFlagSet("go publish", flag.ContinueOnError)
	fset.SetOutput(env.Stderr)
	var rawURL, repoName, user, token string
	var tokenStdin bool
	fset.StringVar(&rawURL, "url", "", "arca's address")
	fset.StringVar(&repoName, "repo", "go-hosted", "hosted Go repository")
	fset.StringVar(&user, "user", "", "user or robot name")
	fset.StringVar(&token, "token", "", "API token")
	fset.BoolVar(&tokenStdin, "token-stdin", false, "read the token from standard input")
	// Flags may come before or after the two arguments.
	var pos []string
	rest := args[1:]
	for len(rest) > 0 {
		if err := fset.Parse(rest); err != nil {
			return usageError{err.Error()}
		}
		rest = fset.Args()
		if len(rest) > 0 {
			pos, rest = append(pos, rest[0]), rest[1:]
		}
	}
	if len(pos) != 2 {
		return usageError{strings.TrimSpace(goUsage)}
	}
	dir, version := pos[0], pos[1]
	if tokenStdin {
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return usageError{"nothing to read on standard input"}
		}
		token = strings.TrimSpace(line)
	}
	u, err := parseServerURL(rawURL)
	if err != nil {
		return err
	}
	if user == "" || token == "" {
		return usageError{"go publish needs --user and --token (or --token-stdin)"}
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return fmt.Errorf("reading the module's go.mod: %w", err)
	}
	mod := modfile.ModulePath(gomod)
	if mod == "" {
		return fmt.Errorf("%s has no module directive", filepath.Join(dir, "go.mod"))
	}
	mv := module.Version{Path: mod, Version: version}
	if err := module.Check(mod, version); err != nil {
		return err
	}
	tmp, err := os.CreateTemp("", "arca-go-publish-*.zip")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := modzip.CreateFromDir(tmp, mv, dir); err != nil {
		return fmt.Errorf("building the module zip: %w", err)
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	escMod, _ := module.EscapePath(mod)
	escVer, _ := module.EscapeVersion(version)
	target := strings.TrimSuffix(u.String(), "/") + "/go/" + repoName + "/" + escMod + "/@v/" + escVer + ".zip"
	req, err := http.NewRequest(http.MethodPut, target, tmp)
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/zip")
	req.SetBasicAuth(user, token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusCreated:
		fmt.Fprintf(env.Stdout, "published %s", body)
	case http.StatusOK:
		fmt.Fprintf(env.Stdout, "already published, unchanged: %s", body)
	default:
		return fmt.Errorf("publishing %s@%s: %s: %s", mod, version, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
