package server

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	"github.com/photovault/photovault/store/blob"
)

// derivedCache keeps recently served thumbnails and previews decrypted in
// memory (never on disk: invariant 1), keyed by blob id — blobs are
// immutable, so an entry can never be stale. Authorisation is still decided
// from the database on every request before the cache is consulted; the cache
// only saves the file open and the decryption. Bounded by total bytes,
// evicting oldest first.
type derivedCache struct {
	mu    sync.Mutex
	m     map[string][]byte
	order []string
	bytes int
}

const (
	derivedCacheBytes = 48 << 20  // whole cache
	derivedCacheEntry = 768 << 10 // largest cached file (thumbs ≈ 20 KB, previews ≈ 300–700 KB)
)

func (c *derivedCache) get(id string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[id]
	return b, ok
}

func (c *derivedCache) put(id string, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	if _, ok := c.m[id]; ok {
		return
	}
	for c.bytes+len(b) > derivedCacheBytes && len(c.order) > 0 {
		old := c.order[0]
		c.order = c.order[1:]
		c.bytes -= len(c.m[old])
		delete(c.m, old)
	}
	c.m[id] = b
	c.order = append(c.order, id)
	c.bytes += len(b)
}

// readSeekCloser is what http.ServeContent needs, closable.
type readSeekCloser interface {
	io.ReadSeeker
	io.Closer
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// derivedReader opens a blob for serving: small derived files come from (and
// go into) the in-memory cache; originals always stream from disk.
func (s *Server) derivedReader(ref blob.Ref, cacheable bool) (readSeekCloser, error) {
	if cacheable {
		if b, ok := s.derived.get(ref.ID); ok {
			return nopCloser{bytes.NewReader(b)}, nil
		}
	}
	rd, err := s.blobs.Open(ref, s.kek())
	if err != nil {
		return nil, fmt.Errorf("server: open blob: %w", err)
	}
	if !cacheable || rd.Size() > derivedCacheEntry {
		return rd, nil
	}
	defer rd.Close()
	b := make([]byte, rd.Size())
	if _, err := io.ReadFull(rd, b); err != nil {
		return nil, fmt.Errorf("server: read blob: %w", err)
	}
	s.derived.put(ref.ID, b)
	return nopCloser{bytes.NewReader(b)}, nil
}
