package npm

import (
	"container/list"
	"sync"
)

// bodyCache keeps built response bodies (packuments) in memory, least
// recently used first out, up to a total size. Keys name everything a body
// depends on — a package's etag, which changes with every change, or a
// cached upstream document's digest — so an entry is never stale, and
// several processes need no coordination: each builds its own.
type bodyCache struct {
	mu    sync.Mutex
	max   int
	size  int
	order *list.List // of *cacheEntry, most recent first
	index map[string]*list.Element
}

type cacheEntry struct {
	key  string
	body []byte
}

func newBodyCache(maxBytes int) *bodyCache {
	return &bodyCache{max: maxBytes, order: list.New(), index: map[string]*list.Element{}}
}

// get returns the body cached under key. Callers must not modify it.
func (c *bodyCache) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.index[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*cacheEntry).body, true
}

// put caches body under key; bodies larger than a quarter of the cache
// are not kept.
func (c *bodyCache) put(key string, body []byte) {
	if len(body) > c.max/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.index[key]; ok {
		c.size -= len(e.Value.(*cacheEntry).body)
		c.order.Remove(e)
	}
	c.index[key] = c.order.PushFront(&cacheEntry{key: key, body: body})
	c.size += len(body)
	for c.size > c.max {
		last := c.order.Back()
		ent := last.Value.(*cacheEntry)
		c.order.Remove(last)
		delete(c.index, ent.key)
		c.size -= len(ent.body)
	}
}
