package cli

import (
	"context"
	"flag"
	"net/http"
	"time"

	"github.com/arcaproject/arca/internal/app"
	"github.com/arcaproject/arca/internal/importer"
	"github.com/arcaproject/arca/internal/pypi"
	"github.com/arcaproject/arca/internal/transfer"
)

func runImportPyPI(args []string, env Env) error {
	var c importCommon
	var src importer.PyPISource
	var repository string
	return runImportSource("pypi", args, env, func(fs *flag.FlagSet) {
		fs.StringVar(&src.Dir, "dir", "", "a package directory (what pypiserver serves)")
		fs.StringVar(&src.Index, "index", "", "a simple index URL (PEP 691 JSON or PEP 503 HTML), e.g. https://host/simple/")
		fs.StringVar(&src.Username, "username", "", "user name for the index")
		fs.StringVar(&src.Password, "password", env.Getenv("ARCA_IMPORT_PASSWORD"), "password for the index (default $ARCA_IMPORT_PASSWORD)")
		fs.StringVar(&repository, "repo", "", "hosted PyPI repository of arca to import into")
		fs.IntVar(&src.Workers, "workers", 4, "files copied at once")
	}, &c, func(ctx context.Context, a *app.App, opts importer.Options, r *importer.Report) error {
		if repository == "" || (src.Dir == "") == (src.Index == "") {
			return usageError{"arca import pypi: --repo and one of --dir or --index are required"}
		}
		src.Client = &http.Client{Transport: transfer.Remote(5*time.Minute, 0)}
		h := pypi.New(pypi.Deps{DB: a.DB, Repos: a.Repos, Auth: a.Auth, Blobs: a.Blobs, Audit: a.Audit, Log: a.Log,
			PublicURL: a.Config.PublicURL, MaxUpload: a.Config.Limits.MaxUploadBytes})
		return importer.ImportPyPI(importPrincipal(ctx, "pypi"), src, h, repository, opts, r)
	})
}
