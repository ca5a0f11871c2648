package pypi

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"sync"
)

// maxCachedPageBytes bounds the memory of the page cache.
const maxCachedPageBytes = 64 << 20

// pageCache keeps rendered project pages of hosted repositories, each
// labelled with the generation its project had when it was read. A page is
// served from the cache only while pypi_projects still holds that
// generation (one primary-key lookup), so every process answers what the
// database holds; the cache only saves reading and rendering the files.
type pageCache struct {
	mu      sync.Mutex
	entries map[pageKey]*renderedPage
	bytes   int
}

type pageKey struct {
	repoID  int64
	project string
	typ     string
}

type renderedPage struct {
	generation string
	body       []byte
	etag       string

	gzOnce sync.Once
	gz     []byte // body gzipped, made on first demand
}

// gzipped returns the page compressed with gzip, compressing it once.
func (p *renderedPage) gzipped() []byte {
	p.gzOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		zw.Write(p.body)
		zw.Close()
		p.gz = buf.Bytes()
	})
	return p.gz
}

func newRenderedPage(generation string, body []byte) *renderedPage {
	sum := sha256.Sum256(body)
	return &renderedPage{generation: generation, body: body, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

// get returns the cached page of k if it was rendered at generation.
func (c *pageCache) get(k pageKey, generation string) (*renderedPage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.entries[k]
	if !ok || p.generation != generation {
		return nil, false
	}
	return p, true
}

// put caches p, evicting other pages when the cache is full.
func (c *pageCache) put(k pageKey, p *renderedPage) {
	if len(p.body) > maxCachedPageBytes/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[pageKey]*renderedPage{}
	}
	if old, ok := c.entries[k]; ok {
		c.bytes -= pageCost(old)
	}
	for key, old := range c.entries { // map order: arbitrary victims
		if c.bytes+pageCost(p) <= maxCachedPageBytes {
			break
		}
		delete(c.entries, key)
		c.bytes -= pageCost(old)
	}
	c.entries[k] = p
	c.bytes += pageCost(p)
}

// pageCost is the memory a cached page may take: its body and, at most,
// as much again compressed.
func pageCost(p *renderedPage) int { return 2 * len(p.body) }
