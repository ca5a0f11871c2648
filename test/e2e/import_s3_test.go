package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// importObjects is how many objects the S3 import test moves.
const importObjects = 10_000

// TestImportS3 imports a bucket of another arca's S3 API (10,000 small
// objects, some with metadata, content types and tags) into arca: a dry
// run, a run interrupted midway (SIGINT), the resumed run, the listing and
// a sample of bytes compared, and a repeated run that skips everything.
func TestImportS3(t *testing.T) {
	needTool(t, "curl")
	src := startS3Server(t)
	dst := startS3Server(t)
	ctx := context.Background()
	sc := s3Client(src)
	if _, err := sc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("source")}); err != nil {
		t.Fatal(err)
	}
	body := func(i int) []byte { return []byte(fmt.Sprintf("object %d %s", i, strings.Repeat("x", i%200))) }
	key := func(i int) string { return fmt.Sprintf("dir%02d/obj-%05d.txt", i%37, i) }
	start := time.Now()
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	next := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				in := &s3.PutObjectInput{Bucket: aws.String("source"), Key: aws.String(key(i)), Body: bytes.NewReader(body(i))}
				if i%100 == 0 {
					in.ContentType = aws.String("text/x-test")
					in.Metadata = map[string]string{"owner": "team-" + strconv.Itoa(i)}
					in.Tagging = aws.String("n=" + strconv.Itoa(i) + "&kind=sample")
				}
				if _, err := sc.PutObject(ctx, in); err != nil {
					select {
					case errc <- err:
					default:
					}
				}
			}
		}()
	}
	for i := range importObjects {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatalf("filling the source bucket: %v", err)
	default:
	}
	t.Logf("filled the source bucket with %d objects in %s", importObjects, time.Since(start).Round(time.Millisecond))

	env := []string{"AWS_ACCESS_KEY_ID=" + src.KeyID, "AWS_SECRET_ACCESS_KEY=" + src.Secret}
	args := []string{"s3", "--endpoint", src.URL, "--bucket", "source", "--to-bucket", "copy"}

	dry, _, err := arcaImportRun(t, dst.Server, env, append(args, "--dry-run")...)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if n := dry.count("object", "would-import"); n != importObjects || dry.Totals["would-import"].Bytes == 0 {
		t.Errorf("dry run plans %d objects (%d bytes), want %d", n, dry.Totals["would-import"].Bytes, importObjects)
	}
	dc := s3Client(dst)
	if _, err := dc.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("copy")}); err == nil {
		t.Error("the dry run created the destination bucket")
	}

	// Interrupted midway: SIGINT once a fifth is in.
	interrupted := interruptImport(t, dst.Server, env, importObjects/5, args...)
	t.Logf("interrupted after %d imported objects", interrupted)

	rep, _, err := arcaImportRun(t, dst.Server, env, args...)
	if err != nil {
		t.Fatalf("resumed import: %v", err)
	}
	rep.wantNoFailures(t)
	if imp, skip := rep.count("object", "imported"), rep.count("object", "skipped"); imp+skip != importObjects || skip < interrupted {
		t.Errorf("resumed import: %d imported, %d skipped; want %d together, at least %d skipped", imp, skip, importObjects, interrupted)
	}

	// Same listing (keys, sizes, ETags); a sample of bytes, metadata, tags.
	list := func(c *s3.Client, bucket string) map[string]string {
		out := map[string]string{}
		p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page.Contents {
				out[aws.ToString(o.Key)] = fmt.Sprintf("%d %s", aws.ToInt64(o.Size), aws.ToString(o.ETag))
			}
		}
		return out
	}
	a, b := list(sc, "source"), list(dc, "copy")
	if len(a) != importObjects || len(b) != len(a) {
		t.Fatalf("listings: source %d, copy %d objects, want %d", len(a), len(b), importObjects)
	}
	for k, v := range a {
		if b[k] != v {
			t.Errorf("%s: source %s, copy %q", k, v, b[k])
		}
	}
	for i := 0; i < importObjects; i += 100 {
		got, err := dc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("copy"), Key: aws.String(key(i))})
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(got.Body)
		got.Body.Close()
		if !bytes.Equal(data, body(i)) || aws.ToString(got.ContentType) != "text/x-test" || got.Metadata["owner"] != "team-"+strconv.Itoa(i) {
			t.Errorf("%s: %q %q %v, want the source's bytes, type and metadata", key(i), data, aws.ToString(got.ContentType), got.Metadata)
		}
		tags, err := dc.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("copy"), Key: aws.String(key(i))})
		if err != nil || !hasTag(tags.TagSet, "n", strconv.Itoa(i)) || !hasTag(tags.TagSet, "kind", "sample") {
			t.Errorf("%s: tags %v (%v), want n=%d and kind=sample", key(i), tags, err, i)
		}
	}

	again, _, err := arcaImportRun(t, dst.Server, env, args...)
	if err != nil {
		t.Fatalf("repeated import: %v", err)
	}
	again.wantAllSkipped(t)
	if n := again.count("object", "skipped"); n != importObjects {
		t.Errorf("repeated import skipped %d objects, want %d", n, importObjects)
	}
	dst.WantNoServerErrors()
}

func hasTag(tags []types.Tag, k, v string) bool {
	for _, t := range tags {
		if aws.ToString(t.Key) == k && aws.ToString(t.Value) == v {
			return true
		}
	}
	return false
}

var progressRe = regexp.MustCompile(`^\d+ items: (\d+) imported`)

// interruptImport starts an import and sends it SIGINT once after items
// are imported; it returns how many were, as its last progress line says.
func interruptImport(t *testing.T, srv *Server, env []string, after int, args ...string) int {
	t.Helper()
	cmd := exec.Command(arcaBin, append([]string{"import"}, args...)...)
	cmd.Env = append(srv.Env(), env...)
	cmd.Dir = srv.DataDir()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	last, signalled := 0, false
	for sc.Scan() {
		m := progressRe.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		last, _ = strconv.Atoi(m[1])
		if last >= after && !signalled {
			cmd.Process.Signal(syscall.SIGINT)
			signalled = true
		}
	}
	err = cmd.Wait()
	t.Logf("interrupted import: %v\n%s", err, indent(stdout.String()))
	if !signalled {
		t.Fatalf("the import ended before %d objects were in (last progress %d)", after, last)
	}
	if err == nil {
		t.Fatal("an interrupted import exited 0")
	}
	if strings.Contains(stdout.String(), "failed:") {
		t.Errorf("an interrupted import reported failures:\n%s", stdout.String())
	}
	return last
}
