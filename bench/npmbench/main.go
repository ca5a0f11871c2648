// Command npmbench measures an npm registry over HTTP: publishing, and
// fetching the packument of a package with many versions. It supports
// bench/npm.sh, which runs it against arca and Verdaccio side by side, and
// uses only the standard library.
//
//	npmbench port                 print a free loopback TCP port
//	npmbench seed [flags]         publish a package with many versions and a set of small packages
//	npmbench get [flags]          fetch a packument repeatedly; latency and rate
//	npmbench project [flags]      write a package.json depending on the small packages
//	npmbench record [flags]       append one measured value to a results file
//	npmbench report [flags]       combine results files into a Markdown table
//
// Results files hold one JSON object per line: {"metric", "value", "unit",
// "better"}. Every response is checked (status, and the packument's number
// of versions), so a broken registry cannot look fast.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: npmbench port|seed|get|project|record|report [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "port":
		err = port()
	case "seed":
		err = seed(os.Args[2:])
	case "get":
		err = get(os.Args[2:])
	case "project":
		err = project(os.Args[2:])
	case "record":
		err = record(os.Args[2:])
	case "report":
		err = report(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "npmbench:", err)
		os.Exit(1)
	}
}

func port() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}

// result is one measured value.
type result struct {
	Metric string  `json:"metric"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Better string  `json:"better"` // "higher", "lower", or "none" (no ratio)
}

func appendResults(path string, rs ...result) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, r := range rs {
		b, _ := json.Marshal(r)
		f.Write(append(b, '\n'))
	}
	return nil
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}, Timeout: 5 * time.Minute}

// tarball builds a package tarball as npm pack would.
func tarball(name, version string, pad int) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	pj, _ := json.Marshal(map[string]any{"name": name, "version": version, "main": "index.js", "license": "MIT"})
	index := fmt.Sprintf("module.exports = %q;\n// %s\n", name+"@"+version, strings.Repeat("x", pad))
	for _, f := range []struct{ name, body string }{{"package/package.json", string(pj)}, {"package/index.js", index}} {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg, ModTime: time.Unix(499162500, 0)})
		tw.Write([]byte(f.body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// publishDoc is the document npm publish sends. The version document is
// about as large as a typical package's (a description, a repository,
// scripts, a handful of dependencies).
func publishDoc(registry, name, version, tag string, tgz []byte, deps map[string]string) []byte {
	s1 := sha1.Sum(tgz)
	s512 := sha512.Sum512(tgz)
	v := map[string]any{
		"name": name, "version": version, "_id": name + "@" + version,
		"description": "A benchmark package with a description about as long as a real one's, version " + version,
		"main":        "index.js", "license": "MIT", "keywords": []string{"bench", "arca", "npm"},
		"author":          map[string]string{"name": "Bench Author", "email": "bench@example.com"},
		"repository":      map[string]string{"type": "git", "url": "git+https://example.com/bench/" + name + ".git"},
		"scripts":         map[string]string{"test": "node test.js", "build": "tsc -p ."},
		"dependencies":    deps,
		"devDependencies": map[string]string{"typescript": "^5.0.0", "mocha": "^10.0.0"},
		"engines":         map[string]string{"node": ">=18"},
		"_nodeVersion":    "20.0.0", "_npmVersion": "11.0.0",
		"dist": map[string]any{
			"shasum": hex.EncodeToString(s1[:]), "integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]),
			"tarball": strings.TrimSuffix(registry, "/") + "/" + name + "/-/" + name + "-" + version + ".tgz",
		},
	}
	d := map[string]any{
		"_id": name, "name": name, "description": v["description"], "dist-tags": map[string]string{tag: version},
		"versions": map[string]any{version: v}, "access": "public",
		"_attachments": map[string]any{name + "-" + version + ".tgz": map[string]any{
			"content_type": "application/octet-stream", "data": base64.StdEncoding.EncodeToString(tgz), "length": len(tgz),
		}},
	}
	b, _ := json.Marshal(d)
	return b
}

func publish(registry, token, name, version, tag string, pad int, deps map[string]string) error {
	body := publishDoc(registry, name, version, tag, tarball(name, version, pad), deps)
	req, _ := http.NewRequest(http.MethodPut, strings.TrimSuffix(registry, "/")+"/"+strings.Replace(name, "/", "%2f", 1), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 && resp.StatusCode != 201 {
		return fmt.Errorf("publish %s@%s: %s %s", name, version, resp.Status, b)
	}
	return nil
}

func seed(args []string) error {
	fs := flag.NewFlagSet("seed", flag.ExitOnError)
	registry := fs.String("registry", "", "registry URL, e.g. http://127.0.0.1:8080/npm/npm-hosted/")
	token := fs.String("token", os.Getenv("NPMBENCH_TOKEN"), "bearer token (or $NPMBENCH_TOKEN)")
	pkg := fs.String("package", "bench-big", "the package with many versions")
	versions := fs.Int("versions", 1000, "versions of the big package")
	deps := fs.Int("deps", 50, "small packages to publish")
	prefix := fs.String("dep-prefix", "bench-dep-", "name prefix of the small packages")
	out := fs.String("out", "", "results file to append the publish rate to")
	fs.Parse(args)
	if *registry == "" {
		return errors.New("-registry is required")
	}
	start := time.Now()
	for i := 0; i < *versions; i++ {
		// Dependencies as a typical package lists them (they are never installed).
		deps := map[string]string{"dep-one": "^1.2.3", "dep-two": "~2.0.0", "dep-three": ">=3.0.0 <4", "dep-four": "^4.1.0", "dep-five": "5.x"}
		if err := publish(*registry, *token, *pkg, fmt.Sprintf("1.%d.%d", i/100, i%100), "latest", 64, deps); err != nil {
			return err
		}
	}
	took := time.Since(start)
	for i := 1; i <= *deps; i++ {
		if err := publish(*registry, *token, fmt.Sprintf("%s%02d", *prefix, i), "1.0.0", "latest", 2048, map[string]string{}); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "published %d versions of %s in %s (%.1f/s) and %d small packages\n",
		*versions, *pkg, took.Round(time.Millisecond), float64(*versions)/took.Seconds(), *deps)
	if *out != "" {
		return appendResults(*out, result{Metric: fmt.Sprintf("publish %d versions of one package, one at a time", *versions),
			Value: float64(*versions) / took.Seconds(), Unit: "publishes/s", Better: "higher"})
	}
	return nil
}

func get(args []string) error {
	fs := flag.NewFlagSet("get", flag.ExitOnError)
	registry := fs.String("registry", "", "registry URL")
	token := fs.String("token", os.Getenv("NPMBENCH_TOKEN"), "bearer token (or $NPMBENCH_TOKEN)")
	pkg := fs.String("package", "bench-big", "package")
	form := fs.String("form", "full", "full or abbreviated")
	n := fs.Int("n", 200, "requests")
	conc := fs.Int("c", 1, "concurrency")
	want := fs.Int("versions", 1000, "versions the packument must have")
	maxTime := fs.Duration("max-time", 30*time.Second, "stop sending requests after this long (at least 10 are sent)")
	out := fs.String("out", "", "results file")
	fs.Parse(args)
	accept := "application/json"
	if *form == "abbreviated" {
		accept = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"
	}
	url := strings.TrimSuffix(*registry, "/") + "/" + strings.Replace(*pkg, "/", "%2f", 1)
	fetch := func(check bool) (int, error) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Accept", accept)
		req.Header.Set("Accept-Encoding", "gzip, deflate") // as npm sends it
		req.Header.Set("Authorization", "Bearer "+*token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return 0, fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		var r io.Reader = resp.Body
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				return 0, err
			}
			r = zr
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return 0, err
		}
		if check {
			var doc struct {
				Versions map[string]json.RawMessage `json:"versions"`
			}
			if err := json.Unmarshal(b, &doc); err != nil {
				return 0, fmt.Errorf("the packument is not JSON: %v", err)
			}
			if len(doc.Versions) != *want {
				return 0, fmt.Errorf("the packument has %d versions, want %d", len(doc.Versions), *want)
			}
		}
		return len(b), nil
	}
	size, err := fetch(true) // warm-up, and the check
	if err != nil {
		return err
	}
	lat := make([]time.Duration, 0, *n)
	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t0 := time.Now()
				_, err := fetch(i%50 == 0)
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < *n && (i < 10 || time.Since(start) < *maxTime); i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	took := time.Since(start)
	if firstErr != nil {
		return firstErr
	}
	slices.Sort(lat)
	p50 := lat[len(lat)/2]
	rate := float64(len(lat)) / took.Seconds()
	fmt.Fprintf(os.Stderr, "%s packument (%d KiB decoded), concurrency %d: %.1f req/s, p50 %s, p99 %s\n",
		*form, size>>10, *conc, rate, p50.Round(10*time.Microsecond), lat[len(lat)*99/100].Round(10*time.Microsecond))
	if *out == "" {
		return nil
	}
	label := fmt.Sprintf("%s packument, %d versions", *form, *want)
	rs := []result{{Metric: fmt.Sprintf("%s: requests/s at concurrency %d", label, *conc), Value: rate, Unit: "req/s", Better: "higher"}}
	if *conc == 1 {
		rs = append(rs,
			result{Metric: label + ": median latency, one client", Value: float64(p50.Microseconds()) / 1000, Unit: "ms", Better: "lower"},
			result{Metric: label + ": size (decoded)", Value: float64(size) / 1024, Unit: "KiB", Better: "none"})
	}
	return appendResults(*out, rs...)
}

func project(args []string) error {
	fs := flag.NewFlagSet("project", flag.ExitOnError)
	dir := fs.String("dir", "", "directory to write package.json into")
	deps := fs.Int("deps", 50, "dependencies")
	prefix := fs.String("dep-prefix", "bench-dep-", "name prefix of the dependencies")
	fs.Parse(args)
	d := map[string]string{}
	for i := 1; i <= *deps; i++ {
		d[fmt.Sprintf("%s%02d", *prefix, i)] = "^1.0.0"
	}
	b, _ := json.MarshalIndent(map[string]any{"name": "bench-project", "version": "1.0.0", "private": true, "dependencies": d}, "", "  ")
	return os.WriteFile(filepath.Join(*dir, "package.json"), b, 0o644)
}

func record(args []string) error {
	fs := flag.NewFlagSet("record", flag.ExitOnError)
	var r result
	fs.StringVar(&r.Metric, "metric", "", "metric name")
	fs.Float64Var(&r.Value, "value", 0, "value")
	fs.StringVar(&r.Unit, "unit", "s", "unit")
	fs.StringVar(&r.Better, "better", "lower", "higher or lower")
	out := fs.String("out", "", "results file")
	fs.Parse(args)
	return appendResults(*out, r)
}

func readResults(paths string) (map[string][]float64, map[string]result, []string, error) {
	vals := map[string][]float64{}
	meta := map[string]result{}
	var order []string
	for _, p := range strings.Split(paths, ",") {
		f, err := os.Open(p)
		if err != nil {
			return nil, nil, nil, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var r result
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				f.Close()
				return nil, nil, nil, fmt.Errorf("%s: %v", p, err)
			}
			if _, ok := meta[r.Metric]; !ok {
				order = append(order, r.Metric)
			}
			meta[r.Metric] = r
			vals[r.Metric] = append(vals[r.Metric], r.Value)
		}
		f.Close()
	}
	return vals, meta, order, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func report(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	a := fs.String("a", "", "comma-separated results files of arca")
	b := fs.String("b", "", "comma-separated results files of the peer")
	bName := fs.String("b-name", "Verdaccio", "the peer's name")
	fs.Parse(args)
	av, meta, order, err := readResults(*a)
	if err != nil {
		return err
	}
	bv, _, _, err := readResults(*b)
	if err != nil {
		return err
	}
	fmtv := func(v []float64) string {
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = trim(x)
		}
		return strings.Join(parts, " ")
	}
	fmt.Printf("| measurement | unit | arca | %s | arca vs %s | arca runs | %s runs |\n|---|---|---:|---:|---:|---|---|\n", *bName, *bName, *bName)
	for _, m := range order {
		am, bm := median(av[m]), median(bv[m])
		ratio := "n/a"
		if meta[m].Better == "none" {
			ratio = "-"
		} else if am > 0 && bm > 0 {
			x := am / bm
			if meta[m].Better == "lower" {
				x = bm / am
			}
			ratio = fmt.Sprintf("**%.1fx**", x)
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s |\n", m, meta[m].Unit, trim(am), trim(bm), ratio, fmtv(av[m]), fmtv(bv[m]))
	}
	fmt.Printf("\nratio: how many times better arca is (its rate / the peer's, or the peer's time / its time); above 1 favours arca\n")
	return nil
}

func trim(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.2f", x)
}
