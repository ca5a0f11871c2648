package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/arcaproject/arca/internal/app"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/keyring"
)

// rotateKEK re-wraps every server key under a new key-encryption key.
//
//  1. The new KEK is newFile when given (created if it does not exist), or
//     else <data_dir>/kek.new, next to the default <data_dir>/kek (created,
//     or reused when an earlier rotation was interrupted).
//  2. Every key is re-wrapped in one transaction.
//  3. With the default file, kek.new then replaces kek; with newFile, the
//     operator points secrets.kek_file at it. A crash between 2 and 3
//     leaves kek.new, which the next start names in its error.
//
// Every arca process must be stopped meanwhile (see docs/operations.md).
func rotateKEK(ctx context.Context, a *app.App, cfg config.Config, newFile string, out io.Writer) error {
	useDefault := newFile == ""
	if useDefault {
		if cfg.Secrets.KEK != "" || cfg.Secrets.KEKFile != "" {
			return usageError{"admin kek rotate: the KEK is configured (ARCA_KEK or secrets.kek_file); give --new-kek-file FILE"}
		}
		newFile = cfg.KEKFile() + ".new"
	}
	if _, err := keyring.CreateKEKFile(newFile); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	next, _, err := keyring.LoadKEK(keyring.Source{File: newFile})
	if err != nil {
		return err
	}
	current := a.Keys.KEK()
	if next.ID() == current.ID() {
		return fmt.Errorf("%s holds the current key-encryption key", newFile)
	}
	n, err := keyring.Rotate(ctx, a.DB, current, next)
	if err != nil {
		return err
	}
	if useDefault {
		if err := os.Rename(newFile, cfg.KEKFile()); err != nil {
			return fmt.Errorf("re-wrapped %d server keys under %s, but could not move %s to %s: %w (do it by hand before starting arca)",
				n, next.ID(), newFile, cfg.KEKFile(), err)
		}
		fmt.Fprintf(out, "re-wrapped %d server keys under key-encryption key %s (%s); back it up\n", n, next.ID(), cfg.KEKFile())
		return nil
	}
	fmt.Fprintf(out, "re-wrapped %d server keys under key-encryption key %s (%s)\n"+
		"point secrets.kek_file (ARCA_KEK_FILE) of every process at it before starting arca again\n", n, next.ID(), newFile)
	return nil
}
