package fault

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// arcaBin is the binary built once by TestMain for every test.
var arcaBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fault:", err)
		return 1
	}
	root := filepath.Clean(filepath.Join(wd, "..", ".."))
	dir, err := os.MkdirTemp("", "arca-fault-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "fault:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	arcaBin = filepath.Join(dir, "arca")
	goTool := "go"
	if p, err := exec.LookPath("go"); err == nil {
		goTool = p
	}
	cmd := exec.Command(goTool, "build", "-o", arcaBin, "./cmd/arca")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "fault: go build ./cmd/arca failed: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}
