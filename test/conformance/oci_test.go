// Package conformance runs external conformance suites against the built
// arca binary.
package conformance

import (
	"bufio"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOCIConformance runs scripts/oci-conformance.sh: the OCI
// distribution-spec conformance suite against a fresh arca, with
// authentication and every optional API and data set enabled. It fails when
// the script fails, which it does when any suite test failed or errored.
//
// Under CI (CI=true) it always runs. Elsewhere ARCA_SKIP_OCI_CONFORMANCE=1
// or -short skips it. Results go to $OCI_CONFORMANCE_RESULTS, default
// results/oci-conformance under the repository root.
func TestOCIConformance(t *testing.T) {
	if os.Getenv("CI") != "true" {
		if os.Getenv("ARCA_SKIP_OCI_CONFORMANCE") == "1" {
			t.Skip("ARCA_SKIP_OCI_CONFORMANCE=1")
		}
		if testing.Short() {
			t.Skip("the OCI conformance suite takes minutes; skipped with -short")
		}
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash is needed to run scripts/oci-conformance.sh: %v", err)
	}
	root := repoRoot(t)
	results := os.Getenv("OCI_CONFORMANCE_RESULTS")
	if results == "" {
		results = filepath.Join(root, "results", "oci-conformance")
	} else if !filepath.IsAbs(results) {
		// the script resolves a relative directory from the repository root
		results = filepath.Join(root, results)
	}

	// Leave the script time to stop arca before the test binary's deadline.
	ctx := context.Background()
	if deadline, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-30*time.Second))
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, bash, filepath.Join(root, "scripts", "oci-conformance.sh"), "--results", results)
	cmd.Dir = root
	// SIGTERM, not SIGKILL, so that the script's exit trap stops arca.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	streamed := make(chan struct{})
	go func() {
		defer close(streamed)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
		for sc.Scan() {
			t.Log(sc.Text())
		}
		// drain whatever a too long line left, so the script never blocks
		_, _ = io.Copy(io.Discard, pr)
	}()
	start := time.Now()
	runErr := cmd.Run()
	pw.Close()
	<-streamed
	t.Logf("scripts/oci-conformance.sh finished in %s", time.Since(start).Round(time.Second))

	counts, cases, junitErr := readJUnit(filepath.Join(results, "junit.xml"))
	if junitErr == nil {
		t.Logf("OCI conformance: %s", counts)
		// With every option on, a skip means the registry answered
		// "unsupported" (say, 202 to a mount); it does not fail the test.
		var bad []junitCase
		for _, c := range cases {
			if c.Status == "skipped" {
				t.Logf("skipped: %s", c.name())
			} else {
				bad = append(bad, c)
			}
		}
		const shown = 60
		for i, c := range bad {
			if i == shown {
				t.Errorf("... and %d more failed or errored tests (see %s)", len(bad)-shown, results)
				break
			}
			t.Errorf("%s: %s", c.Status, c.name())
		}
	}
	switch {
	case ctx.Err() != nil:
		t.Fatalf("scripts/oci-conformance.sh did not finish before the test deadline: %v", runErr)
	case runErr != nil && junitErr != nil:
		t.Fatalf("scripts/oci-conformance.sh failed (%v) and left no readable results: %v", runErr, junitErr)
	case runErr != nil:
		t.Fatalf("scripts/oci-conformance.sh failed (%v): %s; results in %s", runErr, counts, results)
	case junitErr != nil:
		t.Fatalf("scripts/oci-conformance.sh succeeded but its results are unreadable: %v", junitErr)
	case counts.Failures+counts.Errors > 0:
		t.Fatalf("%s; results in %s", counts, results)
	}
}

// repoRoot finds the repository root: the nearest parent directory of the
// working directory with the module's go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/arcaproject/arca\n") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repository root (go.mod of github.com/arcaproject/arca) not found above the working directory")
		}
		dir = parent
	}
}

// junitCounts are the totals of the suite's junit.xml. Every test has exactly
// one status, so Passed is what the others leave.
type junitCounts struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Skipped  int `xml:"skipped,attr"`
	Disabled int `xml:"disabled,attr"`
}

func (c junitCounts) Passed() int {
	return c.Tests - c.Failures - c.Errors - c.Skipped - c.Disabled
}

func (c junitCounts) String() string {
	return fmt.Sprintf("%d tests: %d passed, %d failed, %d errors, %d skipped, %d disabled",
		c.Tests, c.Passed(), c.Failures, c.Errors, c.Skipped, c.Disabled)
}

type junitCase struct {
	Name   string `xml:"name,attr"`
	Status string `xml:"status,attr"`
	// The suite writes a test's errors to system-out and its requests,
	// responses and skip reasons to system-err.
	Out string `xml:"system-out"`
	Err string `xml:"system-err"`
}

func (c junitCase) name() string {
	name := strings.TrimPrefix(c.Name, "OCI Conformance Test/")
	if msg, _, _ := strings.Cut(strings.TrimSpace(c.Out), "\n"); msg != "" {
		const limit = 300
		if len(msg) > limit {
			msg = msg[:limit] + "..."
		}
		name += ": " + msg
	}
	return name
}

// readJUnit reads the counts of the suite's junit.xml and its test cases that
// did not pass: failed, errored and skipped (disabled ones are left out).
func readJUnit(path string) (junitCounts, []junitCase, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return junitCounts{}, nil, err
	}
	var doc struct {
		Suites []struct {
			junitCounts
			Cases []junitCase `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		return junitCounts{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Suites) == 0 {
		return junitCounts{}, nil, errors.New(path + ": no testsuite")
	}
	var total junitCounts
	var notPassed []junitCase
	for _, s := range doc.Suites {
		total.Tests += s.Tests
		total.Failures += s.Failures
		total.Errors += s.Errors
		total.Skipped += s.Skipped
		total.Disabled += s.Disabled
		for _, c := range s.Cases {
			switch c.Status {
			case "failure", "error":
				notPassed = append(notPassed, c)
			case "skipped":
				// the suite marks disabled tests "skipped" too; their
				// output says so
				if !strings.Contains(c.Out+c.Err, "disabled in the configuration") {
					notPassed = append(notPassed, c)
				}
			}
		}
	}
	return total, notPassed, nil
}
