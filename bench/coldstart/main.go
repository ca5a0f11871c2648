// Command coldstart measures how long a server takes from exec to its
// first successful answer: it starts the command given after "--", polls
// the URL every 200 µs until it answers 200 (or -status), records the time, stops the
// server (SIGTERM, then waits) and repeats. It prints the runs and their
// median, in milliseconds, as one line per run and a last "median" line.
//
// Usage: coldstart -url http://127.0.0.1:PORT/v2/ -runs 20 [-user U -password P] -- COMMAND ARGS...
//
// The server's environment is coldstart's. The data directory is the
// caller's to prepare: the point is an existing one, as at a restart.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"
)

func main() {
	url := flag.String("url", "", "the URL polled until it answers 200")
	runs := flag.Int("runs", 20, "starts measured")
	user := flag.String("user", "", "HTTP Basic user, if the URL needs one")
	password := flag.String("password", "", "HTTP Basic password")
	timeout := flag.Duration("timeout", 30*time.Second, "give up on a start after this long")
	status := flag.Int("status", http.StatusOK, "the status that counts as the answer (0: any)")
	flag.Parse()
	args := flag.Args()
	if *url == "" || len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: coldstart -url URL [-runs N] -- COMMAND ARGS...")
		os.Exit(2)
	}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var took []float64
	for i := 0; i < *runs; i++ {
		ms, err := once(client, *url, *user, *password, *status, *timeout, args)
		if err != nil {
			fmt.Fprintln(os.Stderr, "coldstart:", err)
			os.Exit(1)
		}
		fmt.Printf("run %d: %.1f ms\n", i+1, ms)
		took = append(took, ms)
	}
	slices.Sort(took)
	fmt.Printf("median %.1f ms (min %.1f, max %.1f, %d runs)\n", took[len(took)/2], took[0], took[len(took)-1], len(took))
}

func once(client *http.Client, url, user, password string, status int, timeout time.Duration, args []string) (float64, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = nil, nil
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if status == 0 || resp.StatusCode == status {
				return float64(time.Since(start).Microseconds()) / 1000, nil
			}
		}
		select {
		case err := <-exited:
			return 0, fmt.Errorf("%s exited before it answered: %v", args[0], err)
		case <-ctx.Done():
			return 0, fmt.Errorf("%s did not answer %s within %s", args[0], url, timeout)
		case <-time.After(200 * time.Microsecond):
		}
	}
}
