package scan_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/scan"
)

// TestMeasureLargeImage scans an image with a dpkg status of 300
// packages among many files and checks what it found; with
// ARCA_SCAN_MEASURE set it is the 200 MB image (2,000 files of 100 KB) of
// the measurement, and prints the time it took, on SQLite:
// ARCA_SCAN_MEASURE=1 go test -run TestMeasureLargeImage -v ./internal/scan/
// Without it, 200 files (20 MB), so the suite checks the same path quickly.
// The same image is then scanned through the external-scanner path: the
// test adapter (test/scanneradapter) pulls it over HTTP with its token,
// reads its dpkg database and reports, polled as Harbor polls.
func TestMeasureLargeImage(t *testing.T) {
	files := 200
	if os.Getenv("ARCA_SCAN_MEASURE") != "" {
		files = 2000
	}
	s := apptest.Start(t, "", func(c *config.Config) { c.Scan.OnPush = false })
	start(t, s)
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(gz)
	add := func(name string, b []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	add("etc/os-release", []byte("ID=debian\nVERSION_ID=\"11\"\n"))
	add("var/lib/dpkg/status", []byte(dpkgStatus(298)))
	// ARCA_SCAN_MEASURE=compressible fills files with 16 letters, which
	// gzip halves (real layers compress 2-4x); otherwise the data is
	// incompressible and gzip stores it.
	compressible := os.Getenv("ARCA_SCAN_MEASURE") == "compressible"
	rng := rand.New(rand.NewPCG(1, 2))
	chunk := make([]byte, 100<<10)
	for i := range files {
		for j := 0; j < len(chunk); j += 8 {
			v := rng.Uint64()
			for k := 0; k < 8; k++ {
				chunk[j+k] = byte(v >> (8 * k))
				if compressible {
					chunk[j+k] = 'a' + chunk[j+k]%16
				}
			}
		}
		add(fmt.Sprintf("usr/share/data/%04d.bin", i), chunk)
	}
	tw.Close()
	gz.Close()
	img := pushImage(t, s, "big", "1", buf.Bytes())
	t0 := time.Now()
	rep, err := s.Scanner.Scan(context.Background(), scan.Target{Kind: scan.KindImage, Repository: "library", Name: "big", Ref: img.digest}, false)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	t1 := time.Now()
	if _, err := s.Scanner.Scan(context.Background(), scan.Target{Kind: scan.KindImage, Repository: "library", Name: "big", Ref: img.digest}, true); err != nil {
		t.Fatal(err)
	}
	rescan := time.Since(t1)
	if len(rep.Components) != 300 || rep.Counts["Unknown"] != 1 {
		t.Fatalf("components %d, counts %v", len(rep.Components), rep.Counts)
	}
	t.Logf("FIGURES scan of a %d MB image (%d MB compressed), %d packages: %v (catalogue, match, SBOM, report); rescan from stored components: %v",
		files/10, buf.Len()>>20, len(rep.Components), took.Round(time.Millisecond), rescan.Round(time.Millisecond))

	ad, adURL := startAdapter(t, s, 0)
	register(t, s, "bench", adURL)
	t2 := time.Now()
	arep, err := s.Scanner.ScanWithAdapter(context.Background(), "bench", scan.Target{Kind: scan.KindImage, Repository: "library", Name: "big", Ref: img.digest}, 1)
	if err != nil {
		t.Fatal(err)
	}
	viaAdapter := time.Since(t2)
	pulled, pkgs, adapterTook := ad.Pulled()
	if arep.Counts["Critical"] != 1 || pkgs < 300 || pulled < int64(buf.Len()) {
		t.Fatalf("adapter: counts %v, %d packages, %d bytes pulled", arep.Counts, pkgs, pulled)
	}
	t.Logf("FIGURES the same image through the adapter path (metadata, token, scan request, report polled every 1s): %v, of which the adapter's pull of %d MB over HTTP and its reading: %v",
		viaAdapter.Round(time.Millisecond), pulled>>20, adapterTook.Round(time.Millisecond))
}
