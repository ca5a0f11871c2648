package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// arcaBin is the binary built once by TestMain for every test.
var arcaBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "arca-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	arcaBin = filepath.Join(dir, "arca")
	start := time.Now()
	cmd := exec.Command(goTool(), "build", "-o", arcaBin, "./cmd/arca")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/arca failed: %v\n%s", err, out)
		return 1
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "e2e: built %s in %s\n", arcaBin, time.Since(start).Round(time.Millisecond))
	}
	return m.Run()
}

// repoRoot finds the module root from this package's directory (go test runs
// a test binary in its package's source directory): two levels up, holding
// go.mod and cmd/arca.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root := filepath.Clean(filepath.Join(wd, "..", ".."))
	for _, p := range []string{"go.mod", filepath.Join("cmd", "arca")} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			return "", fmt.Errorf("module root not found from %s: %v", wd, err)
		}
	}
	return root, nil
}

// goTool is the go command that runs this test: go test puts its own
// GOROOT/bin first in the PATH of the test binary.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}
