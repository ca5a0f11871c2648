package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRawClientBehaviour drives the raw format with curl the way people and
// scripts use it: ranges, conditional requests, HEAD, authentication with
// passwords and tokens, hostile paths, declared checksums, chunked uploads,
// replacement and deletion.
func TestRawClientBehaviour(t *testing.T) {
	needTool(t, "curl")
	srv := StartServer(t, ServerOptions{})
	work := t.TempDir()
	u := srv.URL + "/raw/files/"

	// A 1 MiB + 3 byte file (not a multiple of anything) to read back.
	const size = 1<<20 + 3
	file := filepath.Join(work, "data.bin")
	sum := writeRandomFile(t, file, size)
	content, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	r := curl(t, nil, "-u", srv.Cred(), "-T", file, u+"dir/data.bin")
	wantStatus(t, r, http.StatusCreated, "upload")
	etag := `"` + sum + `"`
	if got := r.Header.Get("ETag"); got != etag {
		t.Errorf("upload ETag = %q, want %q", got, etag)
	}

	t.Run("GetWhole", func(t *testing.T) {
		r := curl(t, nil, "-u", srv.Cred(), u+"dir/data.bin")
		wantStatus(t, r, http.StatusOK, "GET")
		if !bytes.Equal(r.Body(t), content) {
			t.Fatalf("GET returned %d bytes (sha256 %s), want the %d uploaded (sha256 %s)",
				len(r.Body(t)), sha256Hex(r.Body(t)), size, sum)
		}
		if got := r.Header.Get("Accept-Ranges"); got != "bytes" {
			t.Errorf("Accept-Ranges = %q, want bytes", got)
		}
	})

	t.Run("Range", func(t *testing.T) {
		for _, tc := range []struct {
			rng        string
			start, end int // inclusive
		}{
			{"0-99", 0, 99},
			{"1000-1999", 1000, 1999},
			{"-100", size - 100, size - 1},  // the last 100 bytes
			{"1048570-", 1048570, size - 1}, // from an offset to the end
			{"5-5", 5, 5},                   // one byte
			{"0-99999999", 0, size - 1},     // end past the size is clamped
		} {
			r := curl(t, nil, "-u", srv.Cred(), "-r", tc.rng, u+"dir/data.bin")
			wantStatus(t, r, http.StatusPartialContent, "range "+tc.rng)
			if want := content[tc.start : tc.end+1]; !bytes.Equal(r.Body(t), want) {
				t.Errorf("range %s: got %d bytes, want bytes %d-%d", tc.rng, len(r.Body(t)), tc.start, tc.end)
			}
			wantCR := fmt.Sprintf("bytes %d-%d/%d", tc.start, tc.end, size)
			if got := r.Header.Get("Content-Range"); got != wantCR {
				t.Errorf("range %s: Content-Range %q, want %q", tc.rng, got, wantCR)
			}
		}
		// A range that starts past the end cannot be satisfied.
		r := curl(t, nil, "-u", srv.Cred(), "-r", fmt.Sprintf("%d-", size+10), u+"dir/data.bin")
		wantStatus(t, r, http.StatusRequestedRangeNotSatisfiable, "range past the end")
		if got := r.Header.Get("Content-Range"); got != fmt.Sprintf("bytes */%d", size) {
			t.Errorf("unsatisfiable range: Content-Range %q, want bytes */%d", got, size)
		}
	})

	t.Run("Head", func(t *testing.T) {
		r := curl(t, nil, "-u", srv.Cred(), "-I", u+"dir/data.bin")
		wantStatus(t, r, http.StatusOK, "HEAD")
		if got := r.Header.Get("Content-Length"); got != strconv.Itoa(size) {
			t.Errorf("HEAD Content-Length = %q, want %d", got, size)
		}
		if got := r.Header.Get("X-Checksum-Sha256"); got != sum {
			t.Errorf("HEAD X-Checksum-Sha256 = %q, want %s", got, sum)
		}
		if got := r.Header.Get("ETag"); got != etag {
			t.Errorf("HEAD ETag = %q, want %q", got, etag)
		}
		if got := r.Header.Get("Last-Modified"); got == "" {
			t.Errorf("HEAD has no Last-Modified")
		}
	})

	t.Run("Conditional", func(t *testing.T) {
		r := curl(t, nil, "-u", srv.Cred(), "-H", "If-None-Match: "+etag, u+"dir/data.bin")
		wantStatus(t, r, http.StatusNotModified, "If-None-Match with the current ETag")
		if n := len(r.Body(t)); n != 0 {
			t.Errorf("304 carried a %d byte body", n)
		}
		if got := r.Header.Get("ETag"); got != etag {
			t.Errorf("304 ETag = %q, want %q", got, etag)
		}
		r = curl(t, nil, "-u", srv.Cred(), "-H", `If-None-Match: "0000"`, u+"dir/data.bin")
		wantStatus(t, r, http.StatusOK, "If-None-Match with another ETag")
		if len(r.Body(t)) != size {
			t.Errorf("If-None-Match with another ETag returned %d bytes, want %d", len(r.Body(t)), size)
		}
		r = curl(t, nil, "-u", srv.Cred(), "-H", `If-Match: "0000"`, u+"dir/data.bin")
		wantStatus(t, r, http.StatusPreconditionFailed, "If-Match with another ETag")
		r = curl(t, nil, "-u", srv.Cred(), "-H", "If-Match: "+etag, "-r", "0-9", u+"dir/data.bin")
		wantStatus(t, r, http.StatusPartialContent, "If-Match with the current ETag and a range")
		// curl -z sends If-Modified-Since from a date.
		r = curl(t, nil, "-u", srv.Cred(), "-z", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), u+"dir/data.bin")
		wantStatus(t, r, http.StatusNotModified, "If-Modified-Since in the future")
	})

	t.Run("Authentication", func(t *testing.T) {
		// Anonymous read of the private default repository.
		r := curl(t, nil, u+"dir/data.bin")
		wantJSONError(t, r, http.StatusUnauthorized, "anonymous GET of a private repository")
		wantBasicChallenge(t, r)
		// A wrong password (once: repeated failures lock the account).
		r = curl(t, nil, "-u", "admin:not-the-password", u+"dir/data.bin")
		wantJSONError(t, r, http.StatusUnauthorized, "wrong password")
		wantBasicChallenge(t, r)
		// An unknown user.
		r = curl(t, nil, "-u", "nobody:whatever-pw", u+"dir/data.bin")
		wantJSONError(t, r, http.StatusUnauthorized, "unknown user")
		wantBasicChallenge(t, r)
		// Wrong credentials on upload are refused before anything is stored.
		r = curl(t, nil, "-u", "admin:not-the-password", "-T", file, u+"dir/unauthorized.bin")
		wantJSONError(t, r, http.StatusUnauthorized, "upload with a wrong password")
		r = curl(t, nil, "-u", srv.Cred(), "-I", u+"dir/unauthorized.bin")
		wantStatus(t, r, http.StatusNotFound, "HEAD of the refused upload")
		// The right password still works after the failures.
		r = curl(t, nil, "-u", srv.Cred(), "-I", u+"dir/data.bin")
		wantStatus(t, r, http.StatusOK, "HEAD with the right password after failures")
	})

	t.Run("Tokens", func(t *testing.T) {
		token := strings.TrimSpace(srv.Admin("token", "create", "admin", "--name", "e2e-ci"))
		if token == "" || strings.ContainsAny(token, " \n") {
			t.Fatalf("arca admin token create printed %q, want one token", token)
		}
		bearer := "Authorization: Bearer " + token

		r := curl(t, nil, "-H", bearer, u+"dir/data.bin")
		wantStatus(t, r, http.StatusOK, "GET with a Bearer token")
		if sha256Hex(r.Body(t)) != sum {
			t.Errorf("GET with a Bearer token returned other content")
		}
		r = curl(t, nil, "-u", "admin:"+token, u+"dir/data.bin")
		wantStatus(t, r, http.StatusOK, "GET with the token as Basic password")
		if sha256Hex(r.Body(t)) != sum {
			t.Errorf("GET with the token as Basic password returned other content")
		}
		// Upload with the token.
		r = curl(t, bytes.NewReader([]byte("via token\n")), "-H", bearer, "-T", "-", u+"tokens/bearer.txt")
		wantStatus(t, r, http.StatusCreated, "upload with a Bearer token")
		r = curl(t, nil, "-u", "admin:"+token, u+"tokens/bearer.txt")
		wantStatus(t, r, http.StatusOK, "GET of the file uploaded with a token")
		if got := string(r.Body(t)); got != "via token\n" {
			t.Errorf("file uploaded with a token reads %q", got)
		}
		// A forged token, and a real token for another user name.
		forged := token[:len(token)-4] + flip(token[len(token)-4:])
		r = curl(t, nil, "-H", "Authorization: Bearer "+forged, u+"dir/data.bin")
		wantJSONError(t, r, http.StatusUnauthorized, "a forged Bearer token")
		wantBasicChallenge(t, r)
		r = curl(t, nil, "-H", "Authorization: Bearer not-a-token", u+"dir/data.bin")
		wantJSONError(t, r, http.StatusUnauthorized, "a malformed Bearer token")
		r = curl(t, nil, "-u", "someoneelse:"+token, u+"dir/data.bin")
		wantJSONError(t, r, http.StatusUnauthorized, "a token as the password of another user")
		// A revoked token stops working.
		srv.Admin("token", "revoke", "admin", "e2e-ci")
		r = curl(t, nil, "-H", bearer, u+"dir/data.bin")
		wantJSONError(t, r, http.StatusUnauthorized, "a revoked token")
	})

	t.Run("PathTraversal", func(t *testing.T) {
		base := srv.URL + "/raw/files/"
		before := treeOf(t, srv, "files", "")
		for _, p := range []string{
			"../etc/passwd",
			"dir/../../etc/passwd",
			"dir/..",
			"%2e%2e/etc/passwd",
			"%2E%2E/%2E%2E/etc/passwd",
			"dir/%2e%2e/%2e%2e/etc/passwd",
			"..%2fetc%2fpasswd",
			"%2e%2e%2Fetc%2Fpasswd",
			"dir%2Fdata.bin", // an encoded slash must not reach dir/data.bin
			"%2Fetc/passwd",
			"dir/%2Fetc/passwd",
			"..%5c..%5cetc%5cpasswd",
			"dir/./data.bin",
			"dir//data.bin",
		} {
			for _, method := range []string{"GET", "PUT", "DELETE"} {
				args := []string{"--path-as-is", "-u", srv.Cred(), "-X", method}
				if method == "PUT" {
					args = append(args, "--data-binary", "owned")
				}
				r := curl(t, nil, append(args, base+p)...)
				wantJSONError(t, r, http.StatusBadRequest, method+" /raw/files/"+p)
			}
		}
		// A traversal above the repository into another one.
		r := curl(t, nil, "--path-as-is", "-u", srv.Cred(), srv.URL+"/raw/files/../files/dir/data.bin")
		wantJSONError(t, r, http.StatusBadRequest, "GET /raw/files/../files/dir/data.bin")
		// Nothing of the PUTs landed, and nothing was deleted.
		if after := treeOf(t, srv, "files", ""); after != before {
			t.Errorf("the traversal attempts changed the repository:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		r = curl(t, nil, "-u", srv.Cred(), "-I", u+"dir/data.bin")
		wantStatus(t, r, http.StatusOK, "HEAD dir/data.bin after the traversal attempts")
	})

	t.Run("UnknownRepository", func(t *testing.T) {
		for _, method := range []string{"GET", "HEAD", "PUT", "DELETE"} {
			args := []string{"-u", srv.Cred(), "-X", method, srv.URL + "/raw/no-such-repo/file.txt"}
			if method == "HEAD" {
				args = []string{"-u", srv.Cred(), "-I", srv.URL + "/raw/no-such-repo/file.txt"}
			}
			if method == "PUT" {
				args = append(args, "--data-binary", "x")
			}
			r := curl(t, nil, args...)
			if method == "HEAD" {
				wantStatus(t, r, http.StatusNotFound, "HEAD in an unknown repository")
				continue
			}
			wantJSONError(t, r, http.StatusNotFound, method+" in an unknown repository")
		}
		r := curl(t, nil, "-u", srv.Cred(), srv.URL+"/raw/no-such-repo/")
		wantJSONError(t, r, http.StatusNotFound, "listing of an unknown repository")
	})

	t.Run("DeclaredChecksumMismatch", func(t *testing.T) {
		body := []byte("the bytes that are actually sent\n")
		actual := sha256Hex(body)
		wrong := sha256Hex([]byte("something else"))
		wrongB64 := base64.StdEncoding.EncodeToString(mustDecodeHex(t, wrong))
		for _, tc := range []struct{ name, header string }{
			{"mismatch-sha256.txt", "X-Checksum-Sha256: " + wrong},
			{"mismatch-digest.txt", "Content-Digest: sha-256=:" + wrongB64 + ":"},
			{"mismatch-upper.txt", "X-Checksum-Sha256: " + strings.ToUpper(wrong)},
		} {
			r := curl(t, bytes.NewReader(body), "-u", srv.Cred(), "-H", tc.header, "-T", "-", u+"checks/"+tc.name)
			wantJSONError(t, r, http.StatusBadRequest, "upload with "+tc.header)
			r = curl(t, nil, "-u", srv.Cred(), u+"checks/"+tc.name)
			wantJSONError(t, r, http.StatusNotFound, "GET after the refused upload "+tc.name)
		}
		// Nothing stored: no blob of those bytes, and no staged leftovers.
		if _, ok := committedBlobs(t, srv.DataDir())[actual]; ok {
			t.Errorf("a blob of the refused bytes (%s) was committed", actual)
		}
		if st := stagedFiles(t, srv.DataDir()); len(st) != 0 {
			t.Errorf("refused uploads left staged writes: %v", st)
		}
		// The right declared checksum (either header) is accepted.
		r := curl(t, bytes.NewReader(body), "-u", srv.Cred(), "-H", "X-Checksum-Sha256: "+actual, "-T", "-", u+"checks/ok-sha256.txt")
		wantStatus(t, r, http.StatusCreated, "upload with the right X-Checksum-Sha256")
		okB64 := base64.StdEncoding.EncodeToString(mustDecodeHex(t, actual))
		r = curl(t, bytes.NewReader(body), "-u", srv.Cred(), "-H", "Content-Digest: sha-256=:"+okB64+":", "-T", "-", u+"checks/ok-digest.txt")
		wantStatus(t, r, http.StatusCreated, "upload with the right Content-Digest")
		// Malformed declarations are refused too.
		r = curl(t, bytes.NewReader(body), "-u", srv.Cred(), "-H", "X-Checksum-Sha256: xyz", "-T", "-", u+"checks/bad-header.txt")
		wantJSONError(t, r, http.StatusBadRequest, "upload with a malformed X-Checksum-Sha256")
	})

	t.Run("ShortBody", func(t *testing.T) {
		// The client declares 1000 bytes, sends 100 and closes its side: the
		// upload must fail and store nothing.
		host := strings.TrimPrefix(srv.URL, "http://")
		conn, err := net.DialTimeout("tcp", host, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		auth := base64.StdEncoding.EncodeToString([]byte(srv.Cred()))
		fmt.Fprintf(conn, "PUT /raw/files/checks/short.bin HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n", host, auth)
		conn.Write(bytes.Repeat([]byte("x"), 100))
		conn.(*net.TCPConn).CloseWrite()
		resp, _ := io.ReadAll(conn)
		if status := statusOf(resp); status >= 200 && status < 300 {
			t.Errorf("an upload shorter than its Content-Length got %d:\n%s", status, resp)
		}
		r := curl(t, nil, "-u", srv.Cred(), "-I", u+"checks/short.bin")
		wantStatus(t, r, http.StatusNotFound, "HEAD of the short upload")
		if _, ok := committedBlobs(t, srv.DataDir())[sha256Hex(bytes.Repeat([]byte("x"), 100))]; ok {
			t.Errorf("the 100 bytes of the short upload were committed as a blob")
		}
		waitNoStaged(t, srv.DataDir())
	})

	t.Run("ChunkedUpload", func(t *testing.T) {
		// curl -T - reads stdin and sends it with Transfer-Encoding: chunked,
		// as DVC's HTTP remote does; -v shows the request headers.
		payload := make([]byte, 3<<20+5)
		newRand().Read(payload)
		r := curl(t, bytes.NewReader(payload), "-v", "-u", srv.Cred(), "-H", "Transfer-Encoding: chunked", "-T", "-", u+"chunked/stdin.bin")
		wantStatus(t, r, http.StatusCreated, "chunked upload")
		if !strings.Contains(strings.ToLower(r.Stderr), "> transfer-encoding: chunked") {
			t.Fatalf("curl did not send a chunked request:\n%s", r.Stderr)
		}
		var up struct {
			Size   int64  `json:"size"`
			Digest string `json:"digest"`
		}
		decodeJSON(t, r, &up)
		if up.Size != int64(len(payload)) || up.Digest != "sha256:"+sha256Hex(payload) {
			t.Errorf("chunked upload response %+v, want %d bytes sha256:%s", up, len(payload), sha256Hex(payload))
		}
		r = curl(t, nil, "-u", srv.Cred(), u+"chunked/stdin.bin")
		if !bytes.Equal(r.Body(t), payload) {
			t.Errorf("chunked upload reads back as %d bytes, want the %d sent", len(r.Body(t)), len(payload))
		}
		// An empty chunked body is an empty file.
		r = curl(t, bytes.NewReader(nil), "-u", srv.Cred(), "-T", "-", u+"chunked/empty.bin")
		wantStatus(t, r, http.StatusCreated, "empty chunked upload")
		r = curl(t, nil, "-u", srv.Cred(), "-I", u+"chunked/empty.bin")
		wantStatus(t, r, http.StatusOK, "HEAD of the empty file")
		if got := r.Header.Get("Content-Length"); got != "0" {
			t.Errorf("empty file Content-Length = %q", got)
		}
		if got := r.Header.Get("X-Checksum-Sha256"); got != sha256Hex(nil) {
			t.Errorf("empty file X-Checksum-Sha256 = %q, want %s", got, sha256Hex(nil))
		}
	})

	t.Run("PostUpload", func(t *testing.T) {
		// curl --data-binary sends a POST (as DVC's HTTP remote does).
		r := curl(t, nil, "-u", srv.Cred(), "--data-binary", "@"+file, u+"post/data.bin")
		wantStatus(t, r, http.StatusCreated, "POST upload")
		r = curl(t, nil, "-u", srv.Cred(), "-I", u+"post/data.bin")
		if got := r.Header.Get("X-Checksum-Sha256"); got != sum {
			t.Errorf("POSTed file X-Checksum-Sha256 = %q, want %s", got, sum)
		}
		if got := r.Header.Get("Content-Type"); strings.Contains(got, "x-www-form-urlencoded") {
			t.Errorf("curl's form Content-Type was stored: %q", got)
		}
	})

	t.Run("ReplaceAndDelete", func(t *testing.T) {
		r := curl(t, nil, "-u", srv.Cred(), "-T", "-", u+"replace/f.txt")
		wantStatus(t, r, http.StatusCreated, "first upload") // empty stdin
		r = curl(t, strings.NewReader("version 2\n"), "-u", srv.Cred(), "-T", "-", u+"replace/f.txt")
		wantStatus(t, r, http.StatusOK, "replacing upload")
		r = curl(t, nil, "-u", srv.Cred(), u+"replace/f.txt")
		if got := string(r.Body(t)); got != "version 2\n" {
			t.Errorf("replaced file reads %q", got)
		}
		// If-None-Match: * refuses to replace.
		r = curl(t, strings.NewReader("version 3\n"), "-u", srv.Cred(), "-H", "If-None-Match: *", "-T", "-", u+"replace/f.txt")
		if r.Status != http.StatusPreconditionFailed && r.Status != http.StatusConflict {
			t.Errorf("If-None-Match: * on an existing file: status %d, want 412 or 409", r.Status)
		}
		r = curl(t, nil, "-u", srv.Cred(), u+"replace/f.txt")
		if got := string(r.Body(t)); got != "version 2\n" {
			t.Errorf("after a refused conditional upload the file reads %q", got)
		}
		r = curl(t, nil, "-u", srv.Cred(), "-X", "DELETE", u+"replace/f.txt")
		wantStatus(t, r, http.StatusNoContent, "DELETE")
		r = curl(t, nil, "-u", srv.Cred(), u+"replace/f.txt")
		wantJSONError(t, r, http.StatusNotFound, "GET after DELETE")
		r = curl(t, nil, "-u", srv.Cred(), "-X", "DELETE", u+"replace/f.txt")
		wantJSONError(t, r, http.StatusNotFound, "DELETE of a deleted file")
		r = curl(t, nil, "-u", srv.Cred(), u+"replace/")
		wantJSONError(t, r, http.StatusNotFound, "listing of a directory whose only file was deleted")
	})

	t.Run("Listing", func(t *testing.T) {
		files := map[string]string{
			"listing/one.txt":            "1",
			"listing/two.txt":            "22",
			"listing/sub/three.txt":      "333",
			"listing/sub2/deep/four.txt": "4444",
			"listing/sub2/deep/five.txt": "55555",
			"listing/sub-dash/six.txt":   "666666",
		}
		for p, c := range files {
			r := curl(t, strings.NewReader(c), "-u", srv.Cred(), "-T", "-", u+p)
			wantStatus(t, r, http.StatusCreated, "upload of "+p)
		}
		l := list(t, srv, "files", "listing/")
		if l.Repository != "files" || l.Path != "listing/" {
			t.Errorf("listing of listing/ says repository %q path %q", l.Repository, l.Path)
		}
		var got []string
		for _, e := range l.Entries {
			got = append(got, e.Type+":"+e.Path)
		}
		// Byte order; subdirectories collapsed into one entry each.
		want := "file:listing/one.txt directory:listing/sub-dash/ directory:listing/sub/ directory:listing/sub2/ file:listing/two.txt"
		if strings.Join(got, " ") != want {
			t.Errorf("listing of listing/:\n got %s\nwant %s", strings.Join(got, " "), want)
		}
		for _, e := range l.Entries {
			if e.Type == "file" {
				c := files[e.Path]
				if e.Name != filepath.Base(e.Path) || e.Size != int64(len(c)) || e.Digest != "sha256:"+sha256Hex([]byte(c)) || e.Modified == 0 {
					t.Errorf("listing entry %+v, want name %s, %d bytes, sha256:%s, a modification time", e, filepath.Base(e.Path), len(c), sha256Hex([]byte(c)))
				}
			}
		}
		deep := list(t, srv, "files", "listing/sub2/deep/")
		if len(deep.Entries) != 2 || deep.Entries[0].Name != "five.txt" || deep.Entries[1].Name != "four.txt" {
			t.Errorf("listing of listing/sub2/deep/ = %+v, want five.txt and four.txt", deep.Entries)
		}
		// Paging: limit=1 walks the directory one entry at a time.
		var paged []string
		after := ""
		for range 20 {
			r := curl(t, nil, "-u", srv.Cred(), "-G", "--data-urlencode", "limit=1", "--data-urlencode", "after="+after, u+"listing/")
			wantStatus(t, r, http.StatusOK, "paged listing")
			var page Listing
			decodeJSON(t, r, &page)
			if len(page.Entries) != 1 {
				t.Fatalf("a page with limit=1 has %d entries", len(page.Entries))
			}
			paged = append(paged, page.Entries[0].Type+":"+page.Entries[0].Path)
			if page.Next == "" {
				break
			}
			after = page.Next
		}
		if strings.Join(paged, " ") != want {
			t.Errorf("paging with limit=1:\n got %s\nwant %s", strings.Join(paged, " "), want)
		}
		r := curl(t, nil, "-u", srv.Cred(), u+"listing/missing/")
		wantJSONError(t, r, http.StatusNotFound, "listing of a missing directory")
		r = curl(t, nil, "-u", srv.Cred(), u+"listing/?limit=0")
		wantJSONError(t, r, http.StatusBadRequest, "listing with limit=0")
		r = curl(t, nil, "-u", srv.Cred(), "-H", "Accept: text/html", u+"listing/")
		wantStatus(t, r, http.StatusOK, "HTML listing")
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !bytes.Contains(r.Body(t), []byte("two.txt")) {
			t.Errorf("HTML listing: Content-Type %q, body %s", ct, truncate(r.Body(t), 300))
		}
		r = curl(t, nil, "-u", srv.Cred(), srv.URL+"/raw/files")
		wantStatus(t, r, http.StatusMovedPermanently, "GET /raw/files")
		if loc := r.Header.Get("Location"); loc != "/raw/files/" {
			t.Errorf("GET /raw/files redirects to %q, want /raw/files/", loc)
		}
	})

	// No request above was an internal failure, and the server shuts down
	// cleanly after all of that.
	srv.WantNoServerErrors()
	srv.Stop()
}

// treeOf returns every file below dir, one "path size digest" line each.
func treeOf(t *testing.T, srv *Server, repo, dir string) string {
	t.Helper()
	var b strings.Builder
	for _, e := range list(t, srv, repo, dir).Entries {
		if e.Type == "directory" {
			b.WriteString(treeOf(t, srv, repo, e.Path))
			continue
		}
		fmt.Fprintf(&b, "%s %d %s\n", e.Path, e.Size, e.Digest)
	}
	return b.String()
}

func wantBasicChallenge(t *testing.T, r *Response) {
	t.Helper()
	if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(strings.ToLower(got), "basic ") {
		t.Errorf("401 without a Basic WWW-Authenticate challenge (got %q)", got)
	}
}

// flip changes every character of s to another token character.
func flip(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
	}
	return string(b)
}

func mustDecodeHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		t.Fatalf("not a sha256 hex digest: %q", s)
	}
	return b
}

// statusOf returns the status code of a raw HTTP response, or 0.
func statusOf(resp []byte) int {
	var proto string
	var status int
	fmt.Sscanf(string(resp), "%s %d", &proto, &status)
	return status
}

// waitNoStaged waits briefly for the staging directory to be empty (a
// failed upload cancels its staged write as the handler returns, which may
// be just after the client saw the end of the connection).
func waitNoStaged(t *testing.T, dataDir string) {
	t.Helper()
	var st map[string]int64
	for range 100 {
		if st = stagedFiles(t, dataDir); len(st) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("a failed upload left staged writes: %v", st)
}
