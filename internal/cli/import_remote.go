package cli

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/arcaproject/arca/internal/app"
	"github.com/arcaproject/arca/internal/importer"
)

// The sources of `arca import` that read other registries (oci, npm,
// nexus) write through arca's own handlers in process.

// remoteCreds are a source's credentials: --username with --password or
// --password-stdin (one line of standard input).
type remoteCreds struct {
	username, password string
	passwordStdin      bool
}

func (c *remoteCreds) register(fs *flag.FlagSet) {
	fs.StringVar(&c.username, "username", "", "user name at the source")
	fs.StringVar(&c.password, "password", "", "password or token at the source (prefer --password-stdin)")
	fs.BoolVar(&c.passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
}

func (c *remoteCreds) resolve(env Env) error {
	if !c.passwordStdin {
		return nil
	}
	if c.password != "" {
		return usageError{"--password and --password-stdin exclude each other"}
	}
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return fmt.Errorf("reading the password from standard input: %w", err)
	}
	c.password = strings.TrimRight(line, "\r\n")
	return nil
}

// target is arca as the destination of a remote source.
func target(a *app.App) importer.Target {
	return importer.Target{Handler: a.Handler(), Fetch: a.Upstreams.Client("import", 0)}
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

const importOCIUsage = `  oci     --url REGISTRY [--username U --password-stdin] [--repos a/b,c/d] [--prefix REPO[/PATH]]
          every tag and referrer of a registry's repositories (its /v2/_catalog,
          or --repos); Harbor's project/repo goes to arca repository project
`

func runImportOCI(args []string, env Env) error {
	var c importCommon
	var creds remoteCreds
	var src importer.OCISource
	var repos string
	return runImportSource("oci", args, env, func(fs *flag.FlagSet) {
		fs.StringVar(&src.URL, "url", "", "the registry (https://host[:port], http:// for a plain-HTTP one)")
		creds.register(fs)
		fs.StringVar(&repos, "repos", "", "comma-separated repositories to import (default: every one in /v2/_catalog)")
		fs.StringVar(&src.Prefix, "prefix", "", "import below this arca repository (and path) instead of by each name's first segment")
	}, &c, func(ctx context.Context, a *app.App, opts importer.Options, r *importer.Report) error {
		if err := creds.resolve(env); err != nil {
			return err
		}
		src.Username, src.Password, src.Repositories = creds.username, creds.password, splitList(repos)
		return importer.OCI(ctx, target(a), src, opts, r)
	})
}

const importNPMUsage = `  npm     --url REGISTRY --packages a,@s/b [--username U --password-stdin | --token-stdin] --repo NAME
  npm     --verdaccio-storage DIR --repo NAME
          every version, dist-tag and deprecation of the packages into a hosted
          arca npm repository, through arca's npm publish
`

func runImportNPM(args []string, env Env) error {
	var c importCommon
	var creds remoteCreds
	var src importer.NPMSource
	var packages string
	var tokenStdin bool
	return runImportSource("npm", args, env, func(fs *flag.FlagSet) {
		fs.StringVar(&src.URL, "url", "", "the registry (http(s)://host[/path])")
		fs.StringVar(&packages, "packages", "", "comma-separated packages to import from --url")
		creds.register(fs)
		fs.BoolVar(&tokenStdin, "token-stdin", false, "read a Bearer token for the registry from the first line of standard input")
		fs.StringVar(&src.Storage, "verdaccio-storage", "", "import from a Verdaccio storage directory instead of --url")
		fs.StringVar(&src.Repository, "repo", "", "the arca npm repository (created hosted when absent)")
	}, &c, func(ctx context.Context, a *app.App, opts importer.Options, r *importer.Report) error {
		if tokenStdin {
			creds.passwordStdin = true
		}
		if err := creds.resolve(env); err != nil {
			return err
		}
		src.Username, src.Password, src.Packages = creds.username, creds.password, splitList(packages)
		if tokenStdin {
			src.Token, src.Password = creds.password, ""
		}
		return importer.NPM(ctx, target(a), src, opts, r)
	})
}

const importNexusUsage = `  nexus   --url URL --repository NAME --to REPO [--username U --password-stdin] [--docker-url REGISTRY]
          a Nexus 3 repository (maven2, pypi, npm, raw; docker through --docker-url)
          through its REST API into arca repository REPO
`

func runImportNexus(args []string, env Env) error {
	var c importCommon
	var creds remoteCreds
	var src importer.NexusSource
	return runImportSource("nexus", args, env, func(fs *flag.FlagSet) {
		fs.StringVar(&src.URL, "url", "", "the Nexus base URL (http(s)://host:port)")
		fs.StringVar(&src.Repository, "repository", "", "the Nexus repository to import")
		fs.StringVar(&src.To, "to", "", "the arca repository (created hosted when absent)")
		fs.StringVar(&src.DockerURL, "docker-url", "", "for a docker repository: its registry address (the connector port)")
		creds.register(fs)
	}, &c, func(ctx context.Context, a *app.App, opts importer.Options, r *importer.Report) error {
		if err := creds.resolve(env); err != nil {
			return err
		}
		src.Username, src.Password = creds.username, creds.password
		return importer.Nexus(ctx, target(a), src, opts, r)
	})
}
