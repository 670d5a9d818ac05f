package blob

import (
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
)

// Reader decrypts a committed blob. It implements io.Reader, io.Seeker,
// io.ReaderAt, io.WriterTo and io.Closer, so http.ServeContent can serve
// Range requests from it. Each read decrypts only the chunks it touches and
// returns bytes only from chunks that authenticated; the most recent chunk
// is cached so sequential small reads decrypt each chunk once.
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
	return &Reader{
		s: s, id: ref.ID, f: f, aead: aead, hdr: hdr,
		fileSize: fi.Size(), size: size, chunk: chunk, nchunks: n,
		bufp: s.getBuf(int(chunk) + tagLen), cached: -1,
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
	n, err := r.readAt(p, r.pos)
	r.pos += int64(n)
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
	for r.pos < r.size {
		idx := r.pos / r.chunk
		if err := r.load(idx); err != nil {
			return total, err
		}
		within := int(r.pos - idx*r.chunk)
		n, err := w.Write((*r.bufp)[within:r.cachedLen])
		total += int64(n)
		r.pos += int64(n)
		if err != nil {
			return total, err
		}
		if n < r.cachedLen-within {
			return total, io.ErrShortWrite
		}
	}
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
	r.s.putBuf(r.bufp)
	r.bufp = nil
	r.aead = nil
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("blob: close %s: %w", r.id, err)
	}
	return nil
}
