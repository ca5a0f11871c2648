package cli

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/arcaproject/arca/internal/app"
	"github.com/arcaproject/arca/internal/importer"
)

const importUsage = `usage: arca import SOURCE [flags]
Sources:
` + importOCIUsage + importNPMUsage + importNexusUsage + `
Every source takes --dry-run (list what would be imported, write nothing)
and --report FILE (write the final report as JSON). Running an import again
resumes it: what is already in arca is skipped.`

// runImport brings history from another system into arca.
func runImport(args []string, env Env) error {
	if len(args) == 0 {
		return usageError{importUsage}
	}
	switch args[0] {
	case "oci":
		return runImportOCI(args[1:], env)
	case "npm":
		return runImportNPM(args[1:], env)
	case "nexus":
		return runImportNexus(args[1:], env)
	}
	return usageError{importUsage}
}

// importCommon are the flags every source takes.
type importCommon struct {
	dryRun bool
	report string
}

func (c *importCommon) register(fs *flag.FlagSet) {
	fs.BoolVar(&c.dryRun, "dry-run", false, "list what would be imported, write nothing")
	fs.StringVar(&c.report, "report", "", "write the final report as JSON to this file")
}

// runImportSource opens arca (like the other maintenance commands), runs one
// source's import into a fresh report, prints the summary and writes the
// JSON report. It fails when any item failed.
func runImportSource(source string, args []string, env Env, flags func(*flag.FlagSet), c *importCommon,
	run func(ctx context.Context, a *app.App, opts importer.Options, r *importer.Report) error) error {
	return maintain("import "+source, args, env, func(fs *flag.FlagSet) {
		c.register(fs)
		if flags != nil {
			flags(fs)
		}
	}, func(ctx context.Context, a *app.App) error {
		opts := importer.Options{DryRun: c.dryRun, Progress: env.Stderr, Terminal: isTerminal(env.Stderr)}
		r := importer.NewReport(source, opts)
		err := run(ctx, a, opts, r)
		r.Finish()
		r.Summary(env.Stdout)
		if c.report != "" {
			if werr := r.WriteJSON(c.report); werr != nil && err == nil {
				err = werr
			}
		}
		if err == nil && r.Failures() > 0 {
			err = fmt.Errorf("%d items failed (see the report)", r.Failures())
		}
		return err
	})
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
