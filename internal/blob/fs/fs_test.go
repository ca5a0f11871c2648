package fs_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/blob/blobtest"
	"github.com/arcaproject/arca/internal/blob/fs"
)

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Driver {
		d, err := fs.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

func commit(d *fs.Driver, content []byte) error {
	ctx := context.Background()
	sum := sha256.Sum256(content)
	w, err := d.Stage(ctx)
	if err != nil {
		return err
	}
	if _, err := w.Write(content); err != nil {
		return err
	}
	return w.Commit(ctx, blob.FromSum(sum[:]))
}

// blobPath is where the driver rooted at root keeps content.
func blobPath(root string, content []byte) string {
	h := fmt.Sprintf("%x", sha256.Sum256(content))
	return filepath.Join(root, "blobs", "sha256", h[:2], h)
}

// TestCommitReplacesLeftovers: a crash between a commit's rename and its
// syncs can leave a blob's name on bytes that never reached the disk, with
// nothing naming the blob. A later commit of that content must replace
// the file, not keep it as "the same content".
func TestCommitReplacesLeftovers(t *testing.T) {
	root := t.TempDir()
	d, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("the bytes a crash did not let reach the disk")
	path := blobPath(root, content)
	if err := os.WriteFile(path, make([]byte, len(content)), 0o640); err != nil { // what ext4 shows for unwritten blocks
		t.Fatal(err)
	}
	if err := commit(d, content); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != string(content) {
		t.Fatalf("after the commit the blob holds %q (%v)", got, err)
	}
	// A commit that finds a committed copy keeps the same bytes.
	if err := commit(d, content); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != string(content) {
		t.Fatalf("after committing again the blob holds %q (%v)", got, err)
	}
}

// TestConcurrentCommitsOfOneDigest: writers of the same content racing to
// publish it all succeed, and the blob holds it.
func TestConcurrentCommitsOfOneDigest(t *testing.T) {
	root := t.TempDir()
	d, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("published by eight writers at once")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := commit(d, content); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got, err := os.ReadFile(blobPath(root, content)); err != nil || string(got) != string(content) {
		t.Fatalf("the blob holds %q (%v)", got, err)
	}
	if left, _ := os.ReadDir(filepath.Join(root, "staging")); len(left) != 0 {
		t.Fatalf("%d staging files left", len(left))
	}
}
