package oci_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/meta/metatest"
)

// TestConcurrentPatchesOfOneUpload sends two chunks for the same range of
// one upload session at the same time, then finishes the upload with the
// digest of the chunk that was accepted. The blob store must then serve
// exactly that chunk under that digest: the other chunk's bytes must never
// reach it (issue 22, item 1), on the filesystem and the S3 blob driver,
// on SQLite and PostgreSQL.
func TestConcurrentPatchesOfOneUpload(t *testing.T) {
	pairs, size := 100, 1<<20
	if testing.Short() {
		pairs = 20
	}
	if v, err := strconv.Atoi(os.Getenv("ARCA_TEST_RACE_PAIRS")); err == nil {
		pairs = v
	}
	for _, db := range []string{"sqlite", "postgres"} {
		for _, driver := range []string{"fs", "s3"} {
			t.Run(db+"/"+driver, func(t *testing.T) {
				url := ""
				if db == "postgres" {
					url = metatest.PostgresURL(t)
				}
				var edit func(*config.Config)
				if driver == "s3" {
					edit = apptest.S3Blobs(t)
				}
				s := apptest.Start(t, url, edit)
				mismatches := 0
				for i := 0; i < pairs; i++ {
					if !racePatches(t, s, size) {
						mismatches++
					}
				}
				t.Logf("%d concurrent PATCH pairs: %d mismatches", pairs, mismatches)
				if mismatches > 0 {
					t.Fatalf("%d of %d uploads published bytes other than their digest's", mismatches, pairs)
				}
			})
		}
	}
}

// racePatches runs one pair and reports whether the published blob holds
// the accepted chunk.
func racePatches(t *testing.T, s *apptest.Server, size int) bool {
	t.Helper()
	resp, body := s.Do(t, "POST", "/v2/library/race/blobs/uploads/", admin, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("start upload = %d %s", resp.StatusCode, body)
	}
	loc := resp.Header.Get("Location")
	chunks := [2][]byte{make([]byte, size), make([]byte, size)}
	rand.Read(chunks[0])
	rand.Read(chunks[1])
	var status [2]int
	var wg sync.WaitGroup
	for i := range chunks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("PATCH", s.URL+loc, bytes.NewReader(chunks[i]))
			req.SetBasicAuth("admin", apptest.AdminPassword)
			req.Header.Set("Content-Type", "application/octet-stream")
			req.Header.Set("Content-Range", fmt.Sprintf("0-%d", size-1))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			status[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	won := -1
	for i, st := range status {
		switch st {
		case http.StatusAccepted:
			if won >= 0 {
				t.Fatalf("both chunks for the same range were accepted: %v", status)
			}
			won = i
		case http.StatusRequestedRangeNotSatisfiable:
		default:
			t.Fatalf("PATCH statuses %v: want one 202 and one 416", status)
		}
	}
	if won < 0 {
		t.Fatalf("PATCH statuses %v: no chunk was accepted", status)
	}
	d := sha(chunks[won])
	if resp, body := s.Do(t, "PUT", loc+"?digest="+d, admin, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("finish upload = %d %s", resp.StatusCode, body)
	}
	resp, got := s.Do(t, "GET", "/v2/library/race/blobs/"+d, admin, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET blob = %d", resp.StatusCode)
	}
	sum := sha256.Sum256([]byte(got))
	return "sha256:"+hex.EncodeToString(sum[:]) == d
}
