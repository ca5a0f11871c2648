// Command pypibench is the load generator of bench/pypi.sh (standard
// library only):
//
//	pypibench gen -dir DIR -project NAME -versions N
//	    writes N tiny wheels and N sdists of NAME (versions 1.0.0 .. 1.0.N-1)
//	pypibench upload -url REPO_URL -user U -password P -dir DIR -c 4
//	    uploads every file of DIR with the legacy upload API, as twine does
//	pypibench get -url PAGE_URL -n 200 -c 4 [-accept TYPE] [-gzip] [-user U -password P] [-expect N]
//	    fetches a page n times from c workers, checks it lists N files, and
//	    prints one line: requests/s, median and p99 latency (ms), bytes
//	    (uncompressed)
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pypibench gen|upload|get [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "upload":
		err = upload(os.Args[2:])
	case "get":
		err = get(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pypibench:", err)
		os.Exit(1)
	}
}

func metadata(name, version string) []byte {
	return []byte("Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\nSummary: benchmark package\nRequires-Python: >=3.8\n\nbenchmark\n")
}

func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	dir := fs.String("dir", "", "output directory")
	project := fs.String("project", "benchpkg", "project name (letters, digits, _)")
	versions := fs.Int("versions", 1000, "versions, each a wheel and an sdist")
	fs.Parse(args)
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	for i := 0; i < *versions; i++ {
		v := fmt.Sprintf("1.0.%d", i)
		md := metadata(*project, v)
		var whl bytes.Buffer
		zw := zip.NewWriter(&whl)
		for name, b := range map[string][]byte{
			*project + "/__init__.py":                  []byte("VERSION = '" + v + "'\n"),
			*project + "-" + v + ".dist-info/METADATA": md,
			*project + "-" + v + ".dist-info/WHEEL":    []byte("Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
			*project + "-" + v + ".dist-info/RECORD":   nil,
		} {
			w, _ := zw.Create(name)
			w.Write(b)
		}
		zw.Close()
		if err := os.WriteFile(filepath.Join(*dir, *project+"-"+v+"-py3-none-any.whl"), whl.Bytes(), 0o644); err != nil {
			return err
		}
		var sd bytes.Buffer
		gz := gzip.NewWriter(&sd)
		tw := tar.NewWriter(gz)
		for name, b := range map[string][]byte{*project + "-" + v + "/PKG-INFO": md, *project + "-" + v + "/setup.py": []byte("")} {
			tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)})
			tw.Write(b)
		}
		tw.Close()
		gz.Close()
		if err := os.WriteFile(filepath.Join(*dir, *project+"-"+v+".tar.gz"), sd.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func upload(args []string) error {
	fs := flag.NewFlagSet("upload", flag.ExitOnError)
	target := fs.String("url", "", "repository upload URL, e.g. http://host/pypi/bench/")
	user := fs.String("user", "", "user")
	password := fs.String("password", "", "password")
	dir := fs.String("dir", "", "directory of files")
	conc := fs.Int("c", 4, "concurrent uploads")
	fs.Parse(args)
	files, err := filepath.Glob(filepath.Join(*dir, "*"))
	if err != nil {
		return err
	}
	work := make(chan string)
	var failed atomic.Value
	var wg sync.WaitGroup
	for i := 0; i < *conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				if err := uploadOne(*target, *user, *password, f); err != nil {
					failed.Store(err)
				}
			}
		}()
	}
	for _, f := range files {
		work <- f
	}
	close(work)
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		return err
	}
	return nil
}

func uploadOne(target, user, password, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	base := filepath.Base(path)
	name, rest, _ := strings.Cut(base, "-")
	version, _, _ := strings.Cut(strings.TrimSuffix(rest, ".tar.gz"), "-")
	filetype, pyversion := "sdist", "source"
	if strings.HasSuffix(base, ".whl") {
		filetype, pyversion = "bdist_wheel", "py3"
	}
	sum := sha256.Sum256(data)
	m := md5.Sum(data)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range map[string]string{":action": "file_upload", "protocol_version": "1", "name": name, "version": version,
		"filetype": filetype, "pyversion": pyversion, "sha256_digest": hex.EncodeToString(sum[:]), "md5_digest": hex.EncodeToString(m[:])} {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("content", base)
	fw.Write(data)
	mw.Close()
	req, err := http.NewRequest("POST", target, &body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("upload %s: %s %s", base, resp.Status, b)
	}
	return nil
}

func get(args []string) error {
	fs := flag.NewFlagSet("get", flag.ExitOnError)
	target := fs.String("url", "", "page URL")
	n := fs.Int("n", 200, "requests")
	conc := fs.Int("c", 4, "concurrent clients")
	accept := fs.String("accept", "", "Accept header")
	user := fs.String("user", "", "user")
	password := fs.String("password", "", "password")
	expect := fs.Int("expect", 0, "links the page must list (0: do not check)")
	gz := fs.Bool("gzip", false, "accept gzip (and decompress), as pip does; otherwise ask for identity")
	fs.Parse(args)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc}}
	fetch := func() (int, error) {
		req, err := http.NewRequest("GET", *target, nil)
		if err != nil {
			return 0, err
		}
		if *accept != "" {
			req.Header.Set("Accept", *accept)
		}
		if !*gz {
			req.Header.Set("Accept-Encoding", "identity")
		}
		if *user != "" {
			req.SetBasicAuth(*user, *password)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != 200 {
			return 0, fmt.Errorf("GET %s: %s", *target, resp.Status)
		}
		if *expect > 0 {
			links := bytes.Count(b, []byte("<a href")) + bytes.Count(b, []byte(`"filename"`))
			if links != *expect {
				return 0, fmt.Errorf("GET %s: %d links, want %d", *target, links, *expect)
			}
		}
		return len(b), nil
	}
	size, err := fetch() // warm up, and check
	if err != nil {
		return err
	}
	lat := make([]time.Duration, *n)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < *conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j := int(next.Add(1)) - 1
				if j >= *n {
					return
				}
				t := time.Now()
				if _, err := fetch(); err != nil {
					failed.Store(err)
					return
				}
				lat[j] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if err, ok := failed.Load().(error); ok {
		return err
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	fmt.Printf("%.1f %.2f %.2f %d\n", float64(*n)/took.Seconds(), ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100]), size)
	return nil
}
