package blob

import (
	"crypto/cipher"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Writer streams plaintext into a new encrypted blob. It holds at most one
// chunk of plaintext in memory. A Writer is not safe for concurrent use.
// Typical use:
//
//	w, err := s.Create(kek)
//	if err != nil { ... }
//	defer w.Abort() // no-op after a successful Commit
//	if _, err := io.Copy(w, src); err != nil { ... }
//	ref, err := w.Commit()
type Writer struct {
	s       *Store
	keyID   string // only the id: the Writer keeps no copy of the KEK itself
	id      string
	tmpPath string
	f       *os.File
	aead    cipher.AEAD
	wrapped []byte
	hdr     header
	nonce   [nonceLen]byte

	bufp    *[]byte // cap chunkSize+tagLen; buf[:n] holds pending plaintext
	n       int     // pending plaintext bytes in buf
	chunk   int     // plaintext chunk size
	counter uint64  // index of the next chunk to seal
	written int64
	off     int64 // bytes in the temp file
	synced  int64 // bytes handed to startWriteback
	err     error // sticky
	done    bool  // committed or aborted
}

// Create starts a new blob encrypted under a fresh random data key, which
// is wrapped by kek. Bytes go to a temp file until Commit.
func (s *Store) Create(kek KEK) (*Writer, error) {
	if err := checkKEK(kek); err != nil {
		return nil, fmt.Errorf("blob: create: %w", err)
	}
	id, err := newID(s.random)
	if err != nil {
		return nil, err
	}
	var dk [32]byte
	defer clear(dk[:])
	if _, err := io.ReadFull(s.random, dk[:]); err != nil {
		return nil, fmt.Errorf("blob: random data key: %w", err)
	}
	wrapped, err := wrapKey(s.random, kek, id, &dk)
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(dk[:])
	if err != nil {
		return nil, err
	}
	w := &Writer{s: s, keyID: kek.ID, id: id, aead: aead, wrapped: wrapped, chunk: 1 << s.chunkExp}
	w.hdr.chunkExp = s.chunkExp
	if _, err := io.ReadFull(s.random, w.hdr.prefix[:]); err != nil {
		return nil, fmt.Errorf("blob: random nonce prefix: %w", err)
	}
	if _, err := hex.Decode(w.hdr.id[:], []byte(id)); err != nil {
		return nil, fmt.Errorf("blob: encode id: %w", err)
	}
	w.hdr.encode()

	f, err := os.CreateTemp(s.tmpDir, tmpPrefix+"*"+tmpSuffix) // mode 0600
	if err != nil {
		return nil, fmt.Errorf("blob: create temp file: %w", err)
	}
	w.f, w.tmpPath = f, f.Name()
	if _, err := f.Write(w.hdr.raw[:]); err != nil {
		_ = w.Abort()
		return nil, fmt.Errorf("blob: write header: %w", err)
	}
	w.off = headerLen
	w.bufp = s.getBuf(w.chunk + tagLen)
	return w, nil
}

// ID returns the id the blob will have once committed.
func (w *Writer) ID() string { return w.id }

// Write encrypts p into the temp file. A full chunk is sealed only once
// more data follows it, because only Commit knows which chunk is last.
func (w *Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, ErrClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	total := 0
	buf := *w.bufp
	for len(p) > 0 {
		if w.n == w.chunk {
			// The pending full chunk is not the last one: more data follows.
			if err := w.seal(buf[:w.n], buf[:0], false); err != nil {
				return total, err
			}
			w.n = 0
		}
		if w.n == 0 && len(p) > w.chunk {
			// Fast path: seal straight from p, no copy into the buffer.
			if err := w.seal(p[:w.chunk], buf[:0], false); err != nil {
				return total, err
			}
			p = p[w.chunk:]
			total += w.chunk
			w.written += int64(w.chunk)
			continue
		}
		c := copy(buf[w.n:w.chunk], p)
		w.n += c
		p = p[c:]
		total += c
		w.written += int64(c)
	}
	return total, nil
}

// seal encrypts pt as the next chunk into dst (which may alias pt exactly)
// and appends it to the temp file.
func (w *Writer) seal(pt, dst []byte, last bool) error {
	if w.counter >= maxChunkCount {
		w.err = errors.New("blob: write: blob too large for chunk counter")
		return w.err
	}
	chunkNonce(&w.nonce, &w.hdr.prefix, uint32(w.counter), last)
	ct := w.aead.Seal(dst, w.nonce[:], pt, w.hdr.raw[:])
	if _, err := w.f.Write(ct); err != nil {
		w.err = fmt.Errorf("blob: write chunk: %w", err)
		return w.err
	}
	w.counter++
	w.off += int64(len(ct))
	if w.s.writeback > 0 && w.off-w.synced >= w.s.writeback {
		startWriteback(w.f, w.synced, w.off-w.synced)
		w.synced = w.off
	}
	return nil
}

// Written returns the number of plaintext bytes accepted so far.
func (w *Writer) Written() int64 { return w.written }

// Commit seals the last chunk, fsyncs the file, renames it to its final
// path, fsyncs the directory and only then returns the Ref to record. On
// error the temp file is removed and nothing is committed.
func (w *Writer) Commit() (Ref, error) {
	if w.done {
		return Ref{}, ErrClosed
	}
	if w.err != nil {
		err := w.err
		_ = w.Abort()
		return Ref{}, err
	}
	ref, err := w.commit()
	if err != nil {
		_ = w.Abort()
		return Ref{}, fmt.Errorf("blob: commit %s: %w", w.id, err)
	}
	return ref, nil
}

func (w *Writer) commit() (Ref, error) {
	buf := *w.bufp
	if err := w.seal(buf[:w.n], buf[:0], true); err != nil {
		return Ref{}, err
	}
	if err := w.f.Sync(); err != nil {
		return Ref{}, fmt.Errorf("fsync: %w", err)
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return Ref{}, fmt.Errorf("close: %w", err)
	}
	final := w.s.Path(w.id)
	dir := filepath.Dir(final)
	if err := mkdirDurable(dir, w.s.blobsDir); err != nil {
		return Ref{}, err
	}
	// 128 random bits make a collision unreachable in practice; never
	// overwrite a committed blob all the same.
	if _, err := os.Lstat(final); err == nil { // #nosec G703 -- final is Path(id) of a generated id
		return Ref{}, errors.New("target already exists")
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Ref{}, fmt.Errorf("check target: %w", err)
	}
	// #nosec G703 -- both paths are generated by this package.
	if err := os.Rename(w.tmpPath, final); err != nil {
		return Ref{}, fmt.Errorf("rename: %w", err)
	}
	w.tmpPath = ""
	if err := syncDir(dir); err != nil {
		return Ref{}, err
	}
	w.release()
	return Ref{ID: w.id, KeyID: w.keyID, WrappedKey: w.wrapped, Size: w.written}, nil
}

// Abort discards the blob and removes its temp file. It is a no-op after
// Commit (successful or not) or a previous Abort, so it can be deferred.
func (w *Writer) Abort() error {
	if w.done {
		return nil
	}
	var errs []error
	if w.f != nil {
		if err := w.f.Close(); err != nil {
			errs = append(errs, err)
		}
		w.f = nil
	}
	if w.tmpPath != "" {
		// #nosec G703 -- tmpPath came from os.CreateTemp in this package.
		if err := os.Remove(w.tmpPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		w.tmpPath = ""
	}
	w.release()
	if len(errs) > 0 {
		return fmt.Errorf("blob: abort %s: %w", w.id, errors.Join(errs...))
	}
	return nil
}

func (w *Writer) release() {
	w.done = true
	if w.bufp != nil {
		w.s.putBuf(w.bufp)
		w.bufp = nil
	}
	w.aead = nil
}
