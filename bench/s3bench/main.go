// Command s3bench measures an S3 server with the AWS SDK for Go v2: PUT and
// GET of small and large objects at two concurrencies, and ListObjectsV2
// pages over a bucket of many keys; beside them, this machine's MD5 and
// SHA-256 throughput (an S3 PUT must compute both). It prints a Markdown
// table. It is driven by bench/s3.sh.
package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"hash"
	"io"
	"log"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

var (
	endpoint = flag.String("endpoint", "http://127.0.0.1:9000", "S3 endpoint")
	keyID    = flag.String("key", "", "access key ID")
	secret   = flag.String("secret", "", "secret access key")
	bucket   = flag.String("bucket", "bench", "bucket to create and use")
	smallDur = flag.Duration("small-duration", 5*time.Second, "how long each 4 KiB measurement runs")
	bigCount = flag.Int("big-count", 16, "64 MiB objects per large measurement")
	listKeys = flag.Int("list-keys", 100000, "keys in the bucket for the listing measurement")
	label    = flag.String("label", "arca", "name of the server in the table")
	freePort = flag.Bool("free-port", false, "print a free loopback TCP port and exit")
	// -only-small N does N 4 KiB PUTs then N GETs at -concurrency and
	// exits: a fixed amount of work for counting a server's system calls
	// (strace -f -c) or profiling it, independent of the machine's load.
	onlySmall   = flag.Int("only-small", 0, "only PUT then GET this many 4 KiB objects at -concurrency, then exit")
	concurrency = flag.Int("concurrency", 16, "concurrency of -only-small")
	onlyGet     = flag.Bool("only-small-get", true, "with -only-small, GET the objects after the PUTs")
	onlyList    = flag.Bool("only-list", false, "only fill the listing bucket (-list-keys) and measure the listings, then exit")
	listWait    = flag.Duration("list-wait", 0, "with -only-list, wait this long between the fill and the listings")
	objSize     = flag.Int("only-size", 4<<10, "object size of -only-small (for profiling large PUTs: 67108864)")
	jsonOut     = flag.String("json", "", "also write the results to this JSON file (for -report)")
	report      = flag.String("report", "", "print a side-by-side table of the comma-separated JSON files of several runs (label:file,...; the first label is arca) and exit")
	roundsOnly  = flag.Bool("no-listing", false, "skip the listing measurement")
)

type result struct {
	name    string
	ops     int
	bytes   int64
	took    time.Duration
	latency []time.Duration
}

func (r result) row() string {
	sort.Slice(r.latency, func(i, j int) bool { return r.latency[i] < r.latency[j] })
	pct := func(p float64) string {
		if len(r.latency) == 0 {
			return "-"
		}
		return fmtDur(r.latency[min(len(r.latency)-1, int(float64(len(r.latency))*p))])
	}
	mbps := float64(r.bytes) / r.took.Seconds() / 1e6
	return fmt.Sprintf("| %s | %d | %.0f | %.1f | %s | %s |", r.name, r.ops, float64(r.ops)/r.took.Seconds(), mbps, pct(0.5), pct(0.99))
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func main() {
	flag.Parse()
	log.SetFlags(0)
	if *freePort {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
		return
	}
	ctx := context.Background()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(*endpoint), UsePathStyle: true, HTTPClient: hc,
		Credentials: credentials.NewStaticCredentialsProvider(*keyID, *secret, ""),
		// Measure the server: the client neither hashes payloads for the
		// signature nor computes checksums.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}, s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))

	if *report != "" {
		if err := printReport(*report); err != nil {
			log.Fatal(err)
		}
		return
	}
	if *onlySmall > 0 {
		smallOnly(ctx, client)
		return
	}
	if *onlyList {
		listing(ctx, client)
		return
	}
	fmt.Println("| hash (Go, in memory, 256 MiB) | MB/s |")
	fmt.Println("|---|---:|")
	md5Rate := hashRate(md5.New())
	shaRate := hashRate(sha256.New())
	fmt.Printf("| MD5 | %.0f |\n| SHA-256 | %.0f |\n| MD5 + SHA-256, one after the other over each buffer (what a PUT computes) | %.0f |\n\n",
		md5Rate, shaRate, 1/(1/md5Rate+1/shaRate))

	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil && !strings.Contains(err.Error(), "BucketAlreadyOwnedByYou") {
		log.Fatalf("create bucket: %v", err)
	}
	var results []result
	for _, c := range []int{1, 16} {
		results = append(results, runFor(fmt.Sprintf("PUT 4 KiB, concurrency %d", c), c, *smallDur, 4<<10, func(i int, body []byte) error {
			_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(fmt.Sprintf("small/%d-%08d", c, i)),
				Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
			return err
		}))
		put := results[len(results)-1].ops
		results = append(results, runFor(fmt.Sprintf("GET 4 KiB, concurrency %d", c), c, *smallDur, 4<<10, func(i int, _ []byte) error {
			return get(ctx, client, fmt.Sprintf("small/%d-%08d", c, i%put))
		}))
	}
	for _, c := range []int{1, 16} {
		n := *bigCount
		results = append(results, runCount(fmt.Sprintf("PUT 64 MiB, concurrency %d", c), c, n, 64<<20, func(i int, body []byte) error {
			_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(fmt.Sprintf("big/%d-%d", c, i)),
				Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
			return err
		}))
		results = append(results, runCount(fmt.Sprintf("GET 64 MiB, concurrency %d", c), c, n, 64<<20, func(i int, _ []byte) error {
			return get(ctx, client, fmt.Sprintf("big/%d-%d", c, i))
		}))
	}
	fmt.Printf("| %s: operation | requests | requests/s | MB/s | p50 | p99 |\n|---|---:|---:|---:|---:|---:|\n", *label)
	for _, r := range results {
		fmt.Println(r.row())
	}
	fmt.Println()
	var lists []listResult
	if !*roundsOnly {
		lists = listing(ctx, client)
	}
	if *jsonOut != "" {
		if err := writeJSON(*jsonOut, results, lists); err != nil {
			log.Fatal(err)
		}
	}
}

// hashRate measures h over 256 MiB in 1 MiB writes, in MB/s.
func hashRate(h hash.Hash) float64 {
	buf := make([]byte, 1<<20)
	rand.Read(buf)
	start := time.Now()
	for i := 0; i < 256; i++ {
		h.Write(buf)
	}
	h.Sum(nil)
	return 256 * (1 << 20) / time.Since(start).Seconds() / 1e6
}

// body returns size random bytes, distinct per request (the index is
// written into them), so that no object deduplicates against another.
func body(rnd []byte, i int) []byte {
	b := bytes.Clone(rnd)
	binary.LittleEndian.PutUint64(b, uint64(i)+uint64(time.Now().UnixNano()))
	return b
}

func runFor(name string, conc int, d time.Duration, size int, op func(i int, body []byte) error) result {
	rnd := make([]byte, size)
	rand.Read(rnd)
	var next atomic.Int64
	var mu sync.Mutex
	r := result{name: name}
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				i := int(next.Add(1) - 1)
				b := body(rnd, i)
				t := time.Now()
				if err := op(i, b); err != nil {
					log.Fatalf("%s: %v", name, err)
				}
				mu.Lock()
				r.ops++
				r.bytes += int64(size)
				r.latency = append(r.latency, time.Since(t))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	r.took = time.Since(start)
	return r
}

func runCount(name string, conc, n, size int, op func(i int, body []byte) error) result {
	rnd := make([]byte, size)
	rand.Read(rnd)
	bodies := make(chan int, n)
	for i := 0; i < n; i++ {
		bodies <- i
	}
	close(bodies)
	var mu sync.Mutex
	r := result{name: name}
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := bytes.Clone(rnd)
			for i := range bodies {
				binary.LittleEndian.PutUint64(b, uint64(i)+uint64(time.Now().UnixNano()))
				t := time.Now()
				if err := op(i, b); err != nil {
					log.Fatalf("%s: %v", name, err)
				}
				mu.Lock()
				r.ops++
				r.bytes += int64(size)
				r.latency = append(r.latency, time.Since(t))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	r.took = time.Since(start)
	return r
}

func get(ctx context.Context, c *s3.Client, key string) error {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String(key)})
	if err != nil {
		return err
	}
	defer out.Body.Close()
	_, err = io.Copy(io.Discard, out.Body)
	return err
}

// listing fills a bucket with listKeys keys (by CopyObject of one small
// object, which stores no new bytes) in 100 "directories", then times
// ListObjectsV2 pages: the first page, a page from the middle, and the
// delimited listing of the top level.
func listing(ctx context.Context, client *s3.Client) []listResult {
	var out []listResult
	lb := aws.String(*bucket + "-list")
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: lb}); err != nil && !strings.Contains(err.Error(), "BucketAlreadyOwnedByYou") {
		log.Fatalf("create bucket: %v", err)
	}
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: lb, Key: aws.String("src"), Body: strings.NewReader("x")}); err != nil {
		log.Fatal(err)
	}
	start := time.Now()
	keys := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range keys {
				_, err := client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: lb, Key: aws.String(fmt.Sprintf("dir%03d/key%07d", i%100, i)),
					CopySource: aws.String(*lb + "/src")})
				if err != nil {
					log.Fatalf("copy: %v", err)
				}
			}
		}()
	}
	for i := 0; i < *listKeys; i++ {
		keys <- i
	}
	close(keys)
	wg.Wait()
	fill := time.Since(start)
	fmt.Printf("Listing: %d keys in 100 prefixes, created with CopyObject at concurrency 32 in %s (%.0f keys/s).\n\n", *listKeys, fill.Round(time.Millisecond), float64(*listKeys)/fill.Seconds())
	time.Sleep(*listWait)
	fmt.Println("| ListObjectsV2 (20 runs each) | items | p50 | p99 |\n|---|---:|---:|---:|")
	for _, tc := range []struct {
		name string
		in   s3.ListObjectsV2Input
	}{
		{"first page, 1000 keys", s3.ListObjectsV2Input{Bucket: lb}},
		{"page of 1000 keys after start-after in the middle", s3.ListObjectsV2Input{Bucket: lb, StartAfter: aws.String("dir050/")}},
		{"delimiter /: the 100 prefixes over all keys", s3.ListObjectsV2Input{Bucket: lb, Delimiter: aws.String("/")}},
		{"prefix dir042/ + delimiter /, 1000 keys", s3.ListObjectsV2Input{Bucket: lb, Prefix: aws.String("dir042/"), Delimiter: aws.String("/")}},
	} {
		var lat []time.Duration
		items := 0
		for i := 0; i < 20; i++ {
			t := time.Now()
			out, err := client.ListObjectsV2(ctx, &tc.in)
			if err != nil {
				log.Fatal(err)
			}
			lat = append(lat, time.Since(t))
			items = len(out.Contents) + len(out.CommonPrefixes)
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		fmt.Printf("| %s | %d | %s | %s |\n", tc.name, items, fmtDur(lat[10]), fmtDur(lat[19]))
		out = append(out, listResult{Name: "ListObjectsV2 " + tc.name, P50ms: ms(lat[10]), P99ms: ms(lat[19])})
	}
	return out
}

// smallOnly PUTs then GETs -only-small distinct 4 KiB objects at
// -concurrency and prints the two result rows.
func smallOnly(ctx context.Context, client *s3.Client) {
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil && !strings.Contains(err.Error(), "BucketAlreadyOwnedByYou") {
		log.Fatalf("create bucket: %v", err)
	}
	n, c := *onlySmall, *concurrency
	run := fmt.Sprint(time.Now().UnixNano())
	put := runCount(fmt.Sprintf("PUT %d KiB x %d, concurrency %d", *objSize>>10, n, c), c, n, *objSize, func(i int, body []byte) error {
		_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(fmt.Sprintf("only/%s-%08d", run, i)),
			Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
		return err
	})
	fmt.Printf("| %s: operation | requests | requests/s | MB/s | p50 | p99 |\n|---|---:|---:|---:|---:|---:|\n", *label)
	fmt.Println(put.row())
	if *onlyGet {
		get := runCount(fmt.Sprintf("GET %d KiB x %d, concurrency %d", *objSize>>10, n, c), c, n, *objSize, func(i int, _ []byte) error {
			return get(ctx, client, fmt.Sprintf("only/%s-%08d", run, i))
		})
		fmt.Println(get.row())
	}
}
