package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/arcaproject/arca/internal/app"
	"github.com/arcaproject/arca/internal/vulndb"
)

const vulndbUsage = `usage:
  arca vulndb import PATH [flags]  load OSV export zips (<ecosystem>/all.zip), a directory of them, or .json records
  arca vulndb update [flags]       download the exports of vulndb.ecosystems from vulndb.url and load them
  arca vulndb status [flags]       show what is loaded
Either queues a rescan of every scanned artifact when anything changed.`

// runVulnDB manages the vulnerability data that scans match against.
func runVulnDB(args []string, env Env) error {
	if len(args) == 0 {
		return usageError{vulndbUsage}
	}
	report := func(res []vulndb.ImportResult) {
		for _, r := range res {
			fmt.Fprintf(env.Stdout, "%s: %d advisories, %d new or changed, %d skipped\n", r.Source, r.Advisories, r.Changed, r.Skipped)
		}
	}
	switch args[0] {
	case "import":
		if len(args) < 2 {
			return usageError{vulndbUsage}
		}
		path := args[1]
		return maintain("vulndb import", args[2:], env, nil, func(ctx context.Context, a *app.App) error {
			res, err := a.ImportVulnDB(ctx, path)
			report(res)
			return err
		})
	case "update":
		return maintain("vulndb update", args[1:], env, nil, func(ctx context.Context, a *app.App) error {
			res, err := a.UpdateVulnDB(ctx)
			report(res)
			return err
		})
	case "status":
		return maintain("vulndb status", args[1:], env, nil, func(ctx context.Context, a *app.App) error {
			total, sources, err := a.Vulns.Status(ctx)
			if err != nil {
				return err
			}
			for _, s := range sources {
				fmt.Fprintf(env.Stdout, "%s: %d advisories, imported %s\n", s.Name, s.Advisories, time.UnixMilli(s.ImportedAt).UTC().Format(time.RFC3339))
			}
			fmt.Fprintf(env.Stdout, "%d advisories in all\n", total)
			return nil
		})
	}
	return usageError{vulndbUsage}
}
