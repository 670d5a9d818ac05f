package blob

import (
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
)

// Reader decrypts a committed blob. It implements io.Reader, io.Seeker,
// io.ReaderAt, io.WriterTo and io.Closer, so http.ServeContent can serve
// Range requests from it. Each read decrypts only the chunks it touches and
// returns bytes only from chunks that authenticated; the most recent chunk
// is cached so sequential small reads decrypt each chunk once.
//
// Sequential reading of a large blob (a Read that starts where the previous
// one ended, or WriteTo, with at least 4 MiB left) starts a read-ahead: one
// goroutine reads, authenticates and decrypts the next 256 KiB blocks into a
// ring of four while the caller sends the current one, so decryption
// overlaps with the network. At most 8 read-aheads run in the process at
// once; beyond that reads stay synchronous. A Seek or ReadAt elsewhere than
// the current position, reaching the end, an error, or Close stops it, and
// Close waits for the goroutine to exit.
//
// ReadAt may be called concurrently; Read, Seek and WriteTo share one
// position and, like any io.ReadSeeker, should be used by one goroutine.
type Reader struct {
	s        *Store
	id       string
	f        *os.File
	aead     cipher.AEAD
	hdr      header
	fileSize int64
	size     int64
	chunk    int64
	nchunks  int64

	mu        sync.Mutex
	nonce     [nonceLen]byte
	bufp      *[]byte
	cached    int64 // chunk index held in buf as plaintext, or -1
	cachedLen int
	pos       int64
	closed    bool
	decrypted int  // chunks decrypted so far (observed by tests)
	endOK     bool // the final chunk has authenticated as the final one

	// Sequential read-ahead (see readAhead). raAEAD is a second AEAD over
	// the same data key for the read-ahead goroutine, so it never shares
	// r.aead with a concurrent ReadAt; nil for single-chunk blobs.
	lim     *readAheadLimits
	raAEAD  cipher.AEAD
	ra      *readAhead // running read-ahead, or nil
	lastEnd int64      // position where the previous Read ended, or -1
}

// Open opens blob ref for reading. kek.ID must equal ref.KeyID and kek
// must unwrap ref.WrappedKey, else the error wraps ErrWrongKey. A missing
// file gives ErrNotFound; a malformed header, a header naming another blob,
// or a file length that implies a plaintext size other than ref.Size gives
// ErrCorrupt. Chunk contents are authenticated lazily, as they are read.
func (s *Store) Open(ref Ref, kek KEK) (*Reader, error) {
	if !ValidID(ref.ID) {
		return nil, fmt.Errorf("blob: open: %w: %q", ErrInvalidID, ref.ID)
	}
	var dk [32]byte
	defer clear(dk[:])
	if err := unwrapKey(kek, ref, &dk); err != nil {
		return nil, fmt.Errorf("blob: open: %w", err)
	}
	f, err := os.Open(s.Path(ref.ID))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob: open %s: %w", ref.ID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("blob: open %s: %w", ref.ID, err)
	}
	r, err := s.newReader(f, ref, &dk)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("blob: open %s: %w", ref.ID, err)
	}
	return r, nil
}

func (s *Store) newReader(f *os.File, ref Ref, dk *[32]byte) (*Reader, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: not a regular file", ErrCorrupt)
	}
	var raw [headerLen]byte
	if n, err := f.ReadAt(raw[:], 0); n < headerLen {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: short header", ErrCorrupt)
		}
		return nil, fmt.Errorf("read header: %w", err)
	}
	hdr, err := parseHeader(raw[:], ref.ID)
	if err != nil {
		return nil, err
	}
	size, err := plainSize(fi.Size(), hdr.chunkExp)
	if err != nil {
		return nil, err
	}
	if size != ref.Size {
		// Chunks dropped or appended, or a file from another blob.
		return nil, fmt.Errorf("%w: file holds %d plaintext bytes, ref says %d", ErrCorrupt, size, ref.Size)
	}
	aead, err := newGCM(dk[:])
	if err != nil {
		return nil, err
	}
	chunk := int64(1) << hdr.chunkExp
	n := (size + chunk - 1) / chunk
	if n == 0 {
		n = 1 // the empty blob is one empty last chunk
	}
	var raAEAD cipher.AEAD
	if n > 1 {
		if raAEAD, err = newGCM(dk[:]); err != nil {
			return nil, err
		}
	}
	return &Reader{
		s: s, id: ref.ID, f: f, aead: aead, hdr: hdr,
		fileSize: fi.Size(), size: size, chunk: chunk, nchunks: n,
		bufp: s.getBuf(int(chunk) + tagLen), cached: -1,
		lim: readAheads, raAEAD: raAEAD, lastEnd: -1,
	}, nil
}

// Size returns the plaintext size in bytes.
func (r *Reader) Size() int64 { return r.size }

// load decrypts chunk idx into the buffer unless it is already there.
// The caller holds r.mu.
func (r *Reader) load(idx int64) error {
	if r.cached == idx {
		return nil
	}
	r.cached = -1
	last := idx == r.nchunks-1
	off := headerLen + idx*(r.chunk+tagLen)
	ctLen := r.chunk + tagLen
	if last {
		ctLen = r.fileSize - off
	}
	buf := (*r.bufp)[:ctLen]
	n, err := r.f.ReadAt(buf, off)
	if int64(n) < ctLen {
		if err == nil || errors.Is(err, io.EOF) {
			return fmt.Errorf("blob: read %s: %w: file shrank while open", r.id, ErrCorrupt)
		}
		return fmt.Errorf("blob: read %s: %w", r.id, err)
	}
	chunkNonce(&r.nonce, &r.hdr.prefix, uint32(idx), last)
	pt, err := r.aead.Open(buf[:0], r.nonce[:], buf, r.hdr.raw[:])
	r.decrypted++
	if err != nil {
		return fmt.Errorf("blob: read %s: %w: chunk %d fails authentication", r.id, ErrCorrupt, idx)
	}
	r.cached, r.cachedLen = idx, len(pt)
	if last {
		r.endOK = true
	}
	return nil
}

// atEOF returns io.EOF once the final chunk has authenticated, so end of
// stream is never reported for a truncated or substituted file, including
// an empty blob whose only chunk holds no bytes.
func (r *Reader) atEOF() error {
	if !r.endOK {
		if err := r.load(r.nchunks - 1); err != nil {
			return err
		}
	}
	return io.EOF
}

// ReadAt reads len(p) bytes at plaintext offset off. It is safe for
// concurrent use. Bytes are copied only from chunks that authenticated; on
// a corrupt chunk it returns the bytes before it and an ErrCorrupt error.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, ErrClosed
	}
	if r.ra != nil && off != r.pos {
		// Random access: the stream is not being read in order any more.
		r.stopReadAhead()
	}
	return r.readAt(p, off)
}

func (r *Reader) readAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("blob: read %s: negative offset", r.id)
	}
	if off >= r.size {
		return 0, r.atEOF()
	}
	n := 0
	for n < len(p) && off < r.size {
		idx := off / r.chunk
		if err := r.load(idx); err != nil {
			return n, err
		}
		within := int(off - idx*r.chunk)
		c := copy(p[n:], (*r.bufp)[within:r.cachedLen])
		n += c
		off += int64(c)
	}
	if n < len(p) {
		return n, r.atEOF()
	}
	return n, nil
}

// Read reads from the current position.
func (r *Reader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	if r.ra == nil && r.pos == r.lastEnd {
		r.startReadAhead()
	}
	n := 0
	var err error
	if r.ra != nil {
		n, err = r.ringRead(p)
	}
	if err == nil && n < len(p) {
		var m int
		m, err = r.readAt(p[n:], r.pos)
		r.pos += int64(m)
		n += m
	}
	r.lastEnd = r.pos
	if n > 0 && errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}

// Seek sets the position for the next Read, as io.Seeker describes.
// Seeking past the end is allowed; reads there return io.EOF.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, ErrClosed
	}
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.pos + offset
	case io.SeekEnd:
		abs = r.size + offset
	default:
		return 0, fmt.Errorf("blob: seek %s: invalid whence %d", r.id, whence)
	}
	if abs < 0 {
		return 0, fmt.Errorf("blob: seek %s: negative position", r.id)
	}
	if abs != r.pos {
		r.stopReadAhead()
	}
	r.pos = abs
	return abs, nil
}

// WriteTo writes the plaintext from the current position to the end into
// w, straight from the decryption buffer (io.Copy uses it).
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, ErrClosed
	}
	var total int64
	if r.ra == nil {
		r.startReadAhead()
	}
	for r.pos < r.size {
		var p []byte
		if r.ra != nil {
			b, err := r.ringBytes()
			if errors.Is(err, errRingGone) {
				r.stopReadAhead()
				continue
			}
			if err != nil {
				r.stopReadAhead()
				return total, err
			}
			p = b
		} else {
			idx := r.pos / r.chunk
			if err := r.load(idx); err != nil {
				return total, err
			}
			within := int(r.pos - idx*r.chunk)
			p = (*r.bufp)[within:r.cachedLen]
		}
		n, err := w.Write(p)
		total += int64(n)
		r.pos += int64(n)
		if err != nil {
			return total, err
		}
		if n < len(p) {
			return total, io.ErrShortWrite
		}
	}
	r.stopReadAhead()
	if err := r.atEOF(); err != io.EOF {
		return total, err
	}
	return total, nil
}

// Close releases the file and wipes the buffer. Closing twice is a no-op.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	r.stopReadAhead()
	r.raAEAD = nil
	r.s.putBuf(r.bufp)
	r.bufp = nil
	r.aead = nil
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("blob: close %s: %w", r.id, err)
	}
	return nil
}

// Read-ahead tuning: what the download measurements in docs/PERFORMANCE.md
// (finding 2) were taken with. BenchmarkServeContentReadAhead compares ring
// shapes: 256 KiB × 4 was as fast as 512 KiB or 1 MiB blocks and used
// ≈ 10 % less CPU (the block is still in cache when it is sent); 128 KiB
// blocks were slower.
const (
	// maxReadAheads caps running read-aheads process-wide, which bounds
	// their memory at maxReadAheads × readAheadDepth × readAheadBlock
	// (8 MiB) however many downloads run at once.
	maxReadAheads = 8
	// readAheadMinRemain is how much must be left after the position for a
	// read-ahead to start: small bodies and short Range requests gain
	// nothing from a second goroutine.
	readAheadMinRemain = 4 << 20
	// readAheadBlock is the plaintext bytes per ring slot (rounded down to
	// whole chunks, at least one): one pread and one hand-over per block.
	readAheadBlock = 256 << 10
	// readAheadDepth is the number of blocks in a ring.
	readAheadDepth = 4
)

// readAheads bounds read-ahead for the whole process. It is package state
// on purpose: the limit is on the process's memory and cores, shared by
// every Store. It is set once here and never reassigned; its channel and
// pool are safe for concurrent use. Tests give a Reader their own limits.
var readAheads = newReadAheadLimits(maxReadAheads, readAheadMinRemain, readAheadBlock, readAheadDepth)

// readAheadLimits sizes read-aheads and bounds how many run at once.
type readAheadLimits struct {
	slots     chan struct{} // one token per running read-ahead goroutine
	minRemain int64
	blockSize int64
	depth     int
	bufs      sync.Pool    // *[]byte ring blocks, wiped before they return
	started   atomic.Int64 // read-aheads started (observed by tests)
}

func newReadAheadLimits(slots int, minRemain, blockSize int64, depth int) *readAheadLimits {
	return &readAheadLimits{
		slots: make(chan struct{}, slots), minRemain: minRemain,
		blockSize: blockSize, depth: depth,
	}
}

// getBuf returns a block buffer of exactly size bytes.
func (l *readAheadLimits) getBuf(size int64) *[]byte {
	if b, ok := l.bufs.Get().(*[]byte); ok && int64(cap(*b)) >= size {
		*b = (*b)[:size]
		return b
	}
	b := make([]byte, size)
	return &b
}

// putBuf wipes b (it held plaintext) and pools it.
func (l *readAheadLimits) putBuf(b *[]byte) {
	clear((*b)[:cap(*b)])
	l.bufs.Put(b)
}

// errRingGone reports that the read-ahead ended without covering the
// position (it never happens when the ring works as designed); the reader
// falls back to decrypting synchronously.
var errRingGone = errors.New("blob: read-ahead ended early")

// readAhead is one running read-ahead. Its goroutine (readAheadJob.run)
// fills blocks taken from free and sends them, in file order, on full; the
// reader consumes them under r.mu and hands them back through free. The
// goroutine never touches the Reader, so an abandoned Reader can still be
// collected, which stops the goroutine through a cleanup.
type readAhead struct {
	stop    chan struct{} // closed by the reader to make the goroutine exit
	done    chan struct{} // closed by the goroutine when it has exited
	full    chan *raBlock // decrypted blocks; closed by the goroutine on exit
	free    chan *raBlock // blocks for the goroutine to fill
	cur     *raBlock      // block being consumed, or nil
	cleanup runtime.Cleanup
}

// raBlock holds up to per consecutive chunks, each decrypted in place at
// its ciphertext offset (chunk i's plaintext starts at i*(chunk+tagLen)).
type raBlock struct {
	buf   *[]byte
	first int64 // index of the first chunk
	count int64 // leading chunks that authenticated
	err   error // what stopped the block at chunk first+count, if anything
	last  bool  // the final chunk is among the count authenticated ones
}

// readAheadJob is what the goroutine needs: immutable facts about the
// file and its own AEAD, never the Reader.
type readAheadJob struct {
	f        *os.File
	aead     cipher.AEAD
	hdr      header
	id       string
	chunk    int64
	nchunks  int64
	fileSize int64
	first    int64 // chunk to start at
	per      int64 // chunks per block
}

// startReadAhead starts a read-ahead at the current position when enough
// is left and a process-wide slot is free; otherwise reads stay
// synchronous. The caller holds r.mu and r.ra is nil.
func (r *Reader) startReadAhead() {
	lim := r.lim
	if r.raAEAD == nil || lim == nil || r.size-r.pos < lim.minRemain || r.pos >= r.size {
		return
	}
	select {
	case lim.slots <- struct{}{}:
	default:
		return // all slots busy: synchronous path
	}
	lim.started.Add(1)
	per := max(1, lim.blockSize/r.chunk)
	ra := &readAhead{
		stop: make(chan struct{}),
		done: make(chan struct{}),
		full: make(chan *raBlock, lim.depth),
		free: make(chan *raBlock, lim.depth),
	}
	for range lim.depth {
		ra.free <- &raBlock{buf: lim.getBuf(per * (r.chunk + tagLen))}
	}
	job := readAheadJob{
		f: r.f, aead: r.raAEAD, hdr: r.hdr, id: r.id, chunk: r.chunk,
		nchunks: r.nchunks, fileSize: r.fileSize, first: r.pos / r.chunk, per: per,
	}
	go job.run(ra, lim)
	// A Reader dropped without Close would otherwise leave the goroutine
	// waiting for a free block forever, holding its slot.
	ra.cleanup = runtime.AddCleanup(r, func(stop chan struct{}) { close(stop) }, ra.stop)
	r.ra = ra
}

// stopReadAhead makes the goroutine exit, waits for it, and wipes and
// pools its blocks. The caller holds r.mu. It does nothing without a
// running read-ahead.
func (r *Reader) stopReadAhead() {
	ra := r.ra
	if ra == nil {
		return
	}
	r.ra = nil
	ra.cleanup.Stop()
	close(ra.stop)
	<-ra.done
	if ra.cur != nil {
		r.lim.putBuf(ra.cur.buf)
	}
	for b := range ra.full {
		r.lim.putBuf(b.buf)
	}
	for {
		select {
		case b := <-ra.free:
			r.lim.putBuf(b.buf)
		default:
			return
		}
	}
}

// ringBytes returns the authenticated plaintext at r.pos (< r.size) up to
// the end of its chunk, from the read-ahead, waiting for the goroutine if
// it is not there yet. An error is the one the synchronous path would
// give at r.pos. The caller holds r.mu.
func (r *Reader) ringBytes() ([]byte, error) {
	ra := r.ra
	idx := r.pos / r.chunk
	for {
		if b := ra.cur; b != nil {
			if rel := idx - b.first; rel >= 0 && rel < b.count {
				start := rel * (r.chunk + tagLen)
				end := start + r.chunk
				if idx == r.nchunks-1 {
					end = start + r.size - idx*r.chunk
				}
				return (*b.buf)[start+r.pos-idx*r.chunk : end], nil
			}
			if b.err != nil && idx == b.first+b.count {
				return nil, b.err
			}
			ra.cur = nil
			ra.free <- b // never blocks: free has room for every block
		}
		b, ok := <-ra.full
		if !ok {
			return nil, errRingGone
		}
		ra.cur = b
		if b.last {
			r.endOK = true
		}
	}
}

// ringRead copies from the read-ahead into p, advancing r.pos. It stops
// the read-ahead at the end of the blob and on an error, which it
// returns; when the read-ahead cannot serve it returns what it copied and
// no error, and the caller continues synchronously.
func (r *Reader) ringRead(p []byte) (int, error) {
	n := 0
	for n < len(p) && r.pos < r.size {
		b, err := r.ringBytes()
		if err != nil {
			r.stopReadAhead()
			if errors.Is(err, errRingGone) {
				return n, nil
			}
			return n, err
		}
		c := copy(p[n:], b)
		n += c
		r.pos += int64(c)
	}
	if r.pos >= r.size {
		r.stopReadAhead() // hand the slot and buffers back promptly
	}
	return n, nil
}

// run fills blocks until the end of the blob, an error (sent as the last
// block), or stop. It releases its slot when it exits.
func (j readAheadJob) run(ra *readAhead, lim *readAheadLimits) {
	defer func() {
		close(ra.full)
		<-lim.slots
		close(ra.done)
	}()
	var nonce [nonceLen]byte
	stride := j.chunk + tagLen
	for idx := j.first; idx < j.nchunks; idx += j.per {
		var b *raBlock
		select {
		case b = <-ra.free:
		case <-ra.stop:
			return
		}
		j.fill(b, idx, &nonce, stride)
		select {
		case ra.full <- b:
		case <-ra.stop:
			return
		}
		if b.err != nil {
			return
		}
	}
}

// fill reads the chunks from idx on with one pread and authenticates and
// decrypts them in place, stopping at the first that fails: its error is
// the one Reader.load gives for that chunk.
func (j readAheadJob) fill(b *raBlock, idx int64, nonce *[nonceLen]byte, stride int64) {
	cnt := min(j.per, j.nchunks-idx)
	off := headerLen + idx*stride
	end := min(off+cnt*stride, j.fileSize)
	buf := (*b.buf)[:end-off]
	n, rerr := j.f.ReadAt(buf, off)
	b.first, b.count, b.err, b.last = idx, 0, nil, false
	for i := range cnt {
		c := idx + i
		cs := i * stride
		ce := min(cs+stride, int64(len(buf)))
		if int64(n) < ce {
			if rerr == nil || errors.Is(rerr, io.EOF) {
				b.err = fmt.Errorf("blob: read %s: %w: file shrank while open", j.id, ErrCorrupt)
			} else {
				b.err = fmt.Errorf("blob: read %s: %w", j.id, rerr)
			}
			return
		}
		last := c == j.nchunks-1
		chunkNonce(nonce, &j.hdr.prefix, uint32(c), last)
		if _, err := j.aead.Open(buf[cs:cs], nonce[:], buf[cs:ce], j.hdr.raw[:]); err != nil {
			b.err = fmt.Errorf("blob: read %s: %w: chunk %d fails authentication", j.id, ErrCorrupt, c)
			return
		}
		b.count++
		b.last = last
	}
}
