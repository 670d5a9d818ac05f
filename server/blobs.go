package server

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/blob"
)

// kek is the master key as the blob store wants it.
func (s *Server) kek() blob.KEK {
	return blob.KEK{ID: blob.KeyID(s.master), Key: s.master}
}

// openBlob opens a blob for streaming decryption (Range-capable).
func (s *Server) openBlob(ctx context.Context, blobID string) (*blob.Reader, error) {
	ref, err := s.store.BlobRef(ctx, blobID)
	if err != nil {
		return nil, err
	}
	r, err := s.blobs.Open(ref, s.kek())
	if err != nil {
		return nil, fmt.Errorf("server: open blob %s: %w", blobID, err)
	}
	return r, nil
}

// maxSpliceHead bounds the head of a spliced derivative (the rewritten
// header of a location-free JPEG: EXIF, ICC, ... — tens of KiB in practice).
const maxSpliceHead = 4 << 20

// spliced serves a spliced derivative (store.Splice): its own blob's bytes,
// held in memory, then length bytes of the original's blob from offset on,
// streamed and decrypted as they are read. It seeks like the blob reader,
// so Range requests and resumed ZIP entries work unchanged.
type spliced struct {
	head           []byte
	src            *blob.Reader
	offset, length int64
	pos            int64
}

// openSpliced opens the derivative whose blob is head and whose tail is
// the given range of the original src.
func (s *Server) openSpliced(head, src blob.Ref, offset, length int64) (*spliced, error) {
	if head.Size > maxSpliceHead || offset < 0 || length <= 0 || offset+length > src.Size {
		return nil, fmt.Errorf("server: splice %s: %d+%d of %d bytes after a %d-byte head: %w",
			head.ID, offset, length, src.Size, head.Size, blob.ErrCorrupt)
	}
	hr, err := s.derivedReader(head, true)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(hr)
	_ = hr.Close()
	if err != nil {
		return nil, fmt.Errorf("server: splice head %s: %w", head.ID, err)
	}
	rd, err := s.blobs.Open(src, s.kek())
	if err != nil {
		return nil, fmt.Errorf("server: splice source %s: %w", src.ID, err)
	}
	if _, err := rd.Seek(offset, io.SeekStart); err != nil {
		_ = rd.Close()
		return nil, fmt.Errorf("server: splice source %s: %w", src.ID, err)
	}
	return &spliced{head: b, src: rd, offset: offset, length: length}, nil
}

// openSplicedByID is openSpliced for a derivative known by its blob id and
// the original's.
func (s *Server) openSplicedByID(ctx context.Context, headID, sourceID string, sp *store.Splice) (*spliced, error) {
	head, err := s.store.BlobRef(ctx, headID)
	if err != nil {
		return nil, err
	}
	src, err := s.store.BlobRef(ctx, sourceID)
	if err != nil {
		return nil, err
	}
	return s.openSpliced(head, src, sp.Offset, sp.Length)
}

func (s *spliced) size() int64 { return int64(len(s.head)) + s.length }

func (s *spliced) Read(p []byte) (int, error) {
	h := int64(len(s.head))
	switch {
	case s.pos >= s.size():
		return 0, io.EOF
	case s.pos < h:
		n := copy(p, s.head[s.pos:])
		s.pos += int64(n)
		return n, nil
	}
	if left := s.size() - s.pos; int64(len(p)) > left {
		p = p[:left]
	}
	n, err := s.src.Read(p)
	s.pos += int64(n)
	if errors.Is(err, io.EOF) {
		if s.pos < s.size() {
			return n, io.ErrUnexpectedEOF
		}
		err = nil
	}
	return n, err
}

func (s *spliced) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += s.pos
	case io.SeekEnd:
		offset += s.size()
	}
	if offset < 0 {
		return 0, errors.New("server: splice: negative position")
	}
	if _, err := s.src.Seek(s.offset+min(max(0, offset-int64(len(s.head))), s.length), io.SeekStart); err != nil {
		return 0, err
	}
	s.pos = offset
	return offset, nil
}

func (s *spliced) Close() error { return s.src.Close() }
