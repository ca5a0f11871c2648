package scan

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rpmdb "github.com/knqyf263/go-rpmdb/pkg"
)

// The databases go-rpmdb (MIT) tests itself with — BerkeleyDB Packages
// of CentOS 5 to 7 and UBI 8 (s390x, big-endian), NDB Packages.db of SLE
// 15, rpmdb.sqlite of Fedora 35 and CBL-Mariner 2.0, taken from real
// images — are read from its module (a test dependency, in the module
// cache, not copied into arca) and arca's reader must list exactly the
// packages go-rpmdb lists, with the same epoch, version, release, arch
// and source RPM. go-rpmdb is the oracle here, on trusted files only.
func TestRPMDBAgreesWithGoRPMDB(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/knqyf263/go-rpmdb").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "pkg", "testdata")
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*"))
	kinds := map[string]int{}
	for _, f := range files {
		base := filepath.Base(f)
		if base != "Packages" && base != "Packages.db" && base != "rpmdb.sqlite" {
			continue
		}
		kinds[base]++
		t.Run(filepath.Base(filepath.Dir(f)), func(t *testing.T) {
			db, err := rpmdb.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			pkgs, err := db.ListPackages()
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, p := range pkgs {
				if p.Name == "gpg-pubkey" {
					continue
				}
				e := -1
				if p.Epoch != nil {
					e = *p.Epoch
				}
				want = append(want, fmt.Sprintf("%s %d %s-%s %s %s", p.Name, e, p.Version, p.Release, p.Arch, p.SourceRpm))
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, blob := range rpmBlobs(context.Background(), b) {
				h, ok := parseRPMHeader(blob)
				if !ok {
					t.Fatalf("unreadable header of %d bytes", len(blob))
				}
				if h.Name != "gpg-pubkey" {
					got = append(got, fmt.Sprintf("%s %d %s-%s %s %s", h.Name, h.Epoch, h.Version, h.Release, h.Arch, h.SourceRPM))
				}
			}
			slices.Sort(want)
			slices.Sort(got)
			if len(want) == 0 || !slices.Equal(got, want) {
				t.Fatalf("%d packages, go-rpmdb %d\n got %.600q\nwant %.600q", len(got), len(want), got, want)
			}
			t.Logf("%d packages", len(got))
		})
	}
	if kinds["Packages"] == 0 || kinds["Packages.db"] == 0 || kinds["rpmdb.sqlite"] == 0 {
		t.Fatalf("fixtures of every kind expected in %s: %v", dir, kinds)
	}
}
