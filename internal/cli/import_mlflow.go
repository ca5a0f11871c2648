package cli

import (
	"context"
	"flag"
	"net/http"
	"time"

	"github.com/arcaproject/arca/internal/app"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/importer"
	"github.com/arcaproject/arca/internal/transfer"
)

// importPrincipal is who an import acts as: it writes as an administrator
// of the process, recorded as "import:<source>".
func importPrincipal(ctx context.Context, source string) context.Context {
	return auth.WithPrincipal(ctx, auth.Principal{UserID: -1, Name: "import:" + source, Kind: auth.KindRobot, Role: auth.Admin})
}

func runImportMLflow(args []string, env Env) error {
	var c importCommon
	src := importer.MLflowSource{}
	return runImportSource("mlflow", args, env, func(fs *flag.FlagSet) {
		fs.StringVar(&src.URL, "url", "", "tracking URI of the MLflow server to import from (http://host:5000)")
		fs.StringVar(&src.Username, "username", env.Getenv("MLFLOW_TRACKING_USERNAME"), "user name (default $MLFLOW_TRACKING_USERNAME)")
		fs.StringVar(&src.Password, "password", env.Getenv("MLFLOW_TRACKING_PASSWORD"), "password (default $MLFLOW_TRACKING_PASSWORD)")
		fs.StringVar(&src.Token, "token", env.Getenv("MLFLOW_TRACKING_TOKEN"), "bearer token (default $MLFLOW_TRACKING_TOKEN)")
		fs.IntVar(&src.Workers, "workers", 4, "runs imported at once")
	}, &c, func(ctx context.Context, a *app.App, opts importer.Options, r *importer.Report) error {
		if src.URL == "" {
			return usageError{"arca import mlflow: --url is required"}
		}
		src.Client = &http.Client{Transport: transfer.Remote(5*time.Minute, 0)}
		return importer.ImportMLflow(importPrincipal(ctx, "mlflow"), src, a.MLflow.Importer(), opts, r)
	})
}
