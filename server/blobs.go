package server

import (
	"context"
	"fmt"

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
