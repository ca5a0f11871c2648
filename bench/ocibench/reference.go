package main

import (
	"bufio"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ---------------------------------------------------------------------------
// port

func cmdPort() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}

// ---------------------------------------------------------------------------
// ref: the machine's reference speeds

func cmdRef(args []string) error {
	fs := flag.NewFlagSet("ref", flag.ExitOnError)
	file := fs.String("file", "", "file to hash and read (should be in the page cache)")
	mib := fs.Int("mib", 256, "MiB to hash in memory")
	runs := fs.Int("runs", 3, "repetitions; the median is reported")
	doHTTP := fs.Bool("http", true, "with -file, also measure minimal loopback HTTP servers (the floor of what a registry's GET and durable PUT cost)")
	out := fs.String("out", "", "write the result as JSON to this file")
	fs.Parse(args)

	res := Result{Target: "reference", Started: time.Now().UTC()}
	buf := make([]byte, *mib<<20)
	fillRandom(buf, newSeed())
	var mem, fileHash, fileRead []float64
	for range *runs {
		start := time.Now()
		sha256.Sum256(buf)
		mem = append(mem, mbps(int64(len(buf)), time.Since(start)))
		if *file != "" {
			v, err := readFile(*file, true)
			if err != nil {
				return err
			}
			fileHash = append(fileHash, v)
			if v, err = readFile(*file, false); err != nil {
				return err
			}
			fileRead = append(fileRead, v)
		}
	}
	res.add(Metric{Key: "sha256_mem", Label: "Go crypto/sha256, in memory", Unit: "MB/s", Value: median(mem), Higher: true, Samples: mem})
	if *file != "" {
		res.add(Metric{Key: "sha256_file", Label: "Go crypto/sha256 of a page-cached file (32 KiB reads)", Unit: "MB/s", Value: median(fileHash), Higher: true, Samples: fileHash})
		res.add(Metric{Key: "read_file", Label: "read of a page-cached file, Go, 1 MiB reads", Unit: "MB/s", Value: median(fileRead), Higher: true, Samples: fileRead})
		if *doHTTP {
			if err := httpFloor(&res, *file, *runs); err != nil {
				return err
			}
		}
	}
	for _, m := range res.Metrics {
		fmt.Fprintf(os.Stderr, "%-90s %8s %s\n", m.Label, fmtNum(m.Value), m.Unit)
	}
	if *out != "" {
		return writeJSON(*out, res)
	}
	return nil
}

// httpFloor measures what plain Go HTTP servers on loopback, with none of a
// registry's work, reach for the same transfers ocibench makes: GET of the
// page-cached file (as http.ServeContent serves an *os.File, with sendfile,
// and through a 32 KiB user-space copy), and a streamed (chunked) PUT that
// the server hashes with sha256 while writing a staging file beside the
// file, then fsyncs and renames, the least a durable push must do. The
// server is `ocibench sink` in a process of its own, as a registry would be.
func httpFloor(res *Result, name string, runs int) error {
	want, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(filepath.Dir(name), "ocibench-sink-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "sink", "-file", name, "-dir", dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	// The sink exits when this pipe closes, so it never outlives us.
	if _, err := cmd.StdinPipe(); err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	base := "http://" + strings.TrimSpace(addr)
	c := newClient(config{})
	digest := digestOf(want)
	var getSF, getCopy, put []float64
	for range runs {
		for _, m := range []struct {
			path string
			out  *[]float64
		}{{"/sendfile", &getSF}, {"/copy", &getCopy}} {
			syscall.Sync()
			t0 := time.Now()
			resp, err := c.call("GET "+m.path, []int{200}, "GET", base+m.path, nil, 0)
			if err != nil {
				return err
			}
			n, err := io.Copy(&compareWriter{want: want}, struct{ io.Reader }{resp.Body})
			resp.Body.Close()
			if err != nil || n != int64(len(want)) {
				return fmt.Errorf("GET %s: %d bytes, %v", m.path, n, err)
			}
			*m.out = append(*m.out, mbps(n, time.Since(t0)))
		}
		syscall.Sync()
		t0 := time.Now()
		resp, err := c.call("PUT /store", []int{201}, "PUT", base+"/store", &streamBody{b: want}, -1)
		if err != nil {
			return err
		}
		drain(resp)
		if resp.Header.Get("Docker-Content-Digest") != digest {
			return errors.New("PUT /store: wrong digest")
		}
		put = append(put, mbps(int64(len(want)), time.Since(t0)))
	}
	res.add(Metric{Key: "http_get_sendfile", Label: "GET of the file from a minimal Go HTTP server (ServeContent of an *os.File: sendfile)", Unit: "MB/s", Value: median(getSF), Higher: true, Samples: getSF})
	res.add(Metric{Key: "http_get_copy", Label: "GET of the file from a minimal Go HTTP server (32 KiB read/write copy)", Unit: "MB/s", Value: median(getCopy), Higher: true, Samples: getCopy})
	res.add(Metric{Key: "http_put_store", Label: "streamed PUT to a minimal Go HTTP server: sha256 + write + fsync + rename", Unit: "MB/s", Value: median(put), Higher: true, Samples: put})
	return nil
}

// cmdSink is the server httpFloor measures: it prints its address, then
// serves GET /sendfile and GET /copy of -file and PUT /store into -dir.
func cmdSink(args []string) error {
	fs := flag.NewFlagSet("sink", flag.ExitOnError)
	name := fs.String("file", "", "file served by GET")
	dir := fs.String("dir", "", "directory PUT bodies are staged in")
	fs.Parse(args)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	serve := func(w http.ResponseWriter, r *http.Request, sendfile bool) {
		f, err := os.Open(*name)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer f.Close()
		fi, _ := f.Stat()
		if sendfile {
			http.ServeContent(w, r, "", fi.ModTime(), f)
			return
		}
		w.Header().Set("Content-Length", strconv.FormatInt(fi.Size(), 10))
		io.Copy(w, struct{ io.Reader }{f}) // hides WriteTo: 32 KiB reads and writes
	}
	mux.HandleFunc("GET /sendfile", func(w http.ResponseWriter, r *http.Request) { serve(w, r, true) })
	mux.HandleFunc("GET /copy", func(w http.ResponseWriter, r *http.Request) { serve(w, r, false) })
	mux.HandleFunc("PUT /store", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		f, err := os.CreateTemp(*dir, "staging-*")
		if err == nil {
			defer os.Remove(f.Name())
			defer f.Close()
			_, err = io.Copy(io.MultiWriter(f, h), r.Body)
		}
		if err == nil {
			err = f.Sync()
		}
		if err == nil {
			err = os.Rename(f.Name(), f.Name()+".done")
		}
		if err == nil {
			os.Remove(f.Name() + ".done")
		}
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Docker-Content-Digest", "sha256:"+hex.EncodeToString(h.Sum(nil)))
		w.WriteHeader(http.StatusCreated)
	})
	go func() { // the parent holds our stdin open while it needs us
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	fmt.Println(ln.Addr().String())
	return http.Serve(ln, mux)
}

// readFile reads name once, hashing it with 32 KiB reads (what io.Copy into
// a hash does) or discarding it with 1 MiB reads, and returns MB/s.
func readFile(name string, hash bool) (float64, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	size := 1 << 20
	if hash {
		size = 32 << 10
	}
	buf := make([]byte, size)
	h := sha256.New()
	var n int64
	start := time.Now()
	for {
		m, err := f.Read(buf)
		if hash {
			h.Write(buf[:m])
		}
		n += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	h.Sum(nil)
	return mbps(n, time.Since(start)), nil
}

// ---------------------------------------------------------------------------
// Random content

func newSeed() [32]byte {
	var s [32]byte
	crand.Read(s[:])
	return s
}

// fillRandom fills b with pseudo-random bytes (ChaCha8 from seed), fast
// enough that generating hundreds of MiB costs well under a second.
func fillRandom(b []byte, seed [32]byte) {
	rand.NewChaCha8(seed).Read(b)
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}
