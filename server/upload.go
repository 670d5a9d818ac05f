package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/blob"
	"github.com/photovault/photovault/store/imaging"
)

// Upload pipeline sizes.
const (
	// probeLen is how much of each file is looked at before anything is
	// stored: enough for Sniff and for the header of every common photo
	// (JPEG APP segments, PNG IHDR, TIFF/HEIF headers near the start).
	probeLen = 1 << 20
	// copyBufSize is the unit of hashing and encryption while streaming.
	copyBufSize = 1 << 20
	// bodyBufSize is the read buffer between the connection and the
	// multipart parser.
	bodyBufSize = 256 << 10
	// maxUploadParts caps the parts of one multipart request, so a request
	// of millions of empty parts cannot keep a handler busy.
	maxUploadParts = 1000
	// maxFilenameBytes caps the display name.
	maxFilenameBytes = 255
)

// Ingest errors. Ingest also returns errors wrapping imaging.ErrUnsupported
// (not a photo or video: 415), imaging.ErrPixelFlood (declared pixel count
// above the limit: 422) and imaging.ErrCorrupt (a photo whose header cannot
// be read: 422).
var (
	// ErrTooLarge reports a file above cfg.MaxUploadBytes; nothing of it is kept.
	ErrTooLarge = errors.New("server: file exceeds the upload size limit")
	// errUploadRead wraps a failure to read the client's bytes (a dropped
	// connection, a malformed multipart body).
	errUploadRead = errors.New("server: reading the upload failed")
)

// Ingest stores one file into the owner's album and records it as a media
// item: the HTTP upload handler and `photovault import` both call it, so
// both apply the same checks. r is read once, front to back, in constant
// memory:
//
//  1. the first MiB is peeked: the type is decided from the bytes
//     (imaging.Sniff; never from the name) and the header is probed for the
//     pixel count (imaging.Probe, no decode) before anything is written;
//  2. the whole stream goes through SHA-256, CRC-32 and a size cap into an
//     encrypting blob writer (ciphertext from its first byte; a file over
//     the cap is aborted and leaves nothing behind);
//  3. the blob is committed (fsync, rename, directory fsync) and only then
//     its metadata is read back from the ciphertext (EXIF: capture time,
//     camera, lens, orientation; GPS is encrypted, never kept in plaintext);
//  4. one transaction records blob, media and derivative job.
//
// Content already in the album answers the existing media with dup = true
// and the new blob is deleted. filename is display text only: it is
// cleaned (DisplayName) and never used as a path.
func (s *Server) Ingest(ctx context.Context, owner, albumID, filename string, r io.Reader) (store.Media, bool, error) {
	if _, err := s.store.Album(ctx, owner, albumID); err != nil {
		return store.Media{}, false, err
	}
	br := bufio.NewReaderSize(r, probeLen)
	head, err := br.Peek(probeLen)
	if err != nil && !errors.Is(err, io.EOF) {
		return store.Media{}, false, fmt.Errorf("%w: %w", errUploadRead, err)
	}
	complete := err != nil // the whole file is in head
	d, err := imaging.Sniff(head[:min(len(head), imaging.SniffLen)])
	if err != nil {
		return store.Media{}, false, err
	}
	if complete && int64(len(head)) > s.cfg.MaxUploadBytes {
		return store.Media{}, false, ErrTooLarge
	}
	// Pixel floods are refused here, from the header alone. A header that
	// does not fit in the first MiB (a TIFF whose IFD sits at the end) is
	// probed again from the stored blob before the row is written.
	w, h, err := imaging.Probe(bytes.NewReader(head), d, s.cfg.MaxPixels)
	probeLater := false
	if err != nil {
		if !errors.Is(err, imaging.ErrCorrupt) || complete {
			return store.Media{}, false, err
		}
		probeLater = true
	}

	bw, err := s.blobs.Create(s.kek())
	if err != nil {
		return store.Media{}, false, fmt.Errorf("server: ingest: %w", err)
	}
	defer func() { _ = bw.Abort() }() // no-op after Commit
	sum, crc, size, err := streamInto(ctx, br, bw, s.cfg.MaxUploadBytes)
	if err != nil {
		return store.Media{}, false, err
	}
	ref, err := bw.Commit()
	if err != nil {
		return store.Media{}, false, fmt.Errorf("server: ingest: %w", err)
	}
	kept := false
	defer func() {
		if !kept {
			if err := s.blobs.Delete(ref.ID); err != nil {
				s.log.Warn().Err(err).Str("blob", ref.ID).Msg("ingest: could not remove an unrecorded blob; the reconciler will")
			}
		}
	}()

	m := store.Media{
		ID: store.NewID(), OwnerID: owner, AlbumID: albumID, SHA256: hex.EncodeToString(sum), CRC32: crc,
		Size: size, ContentType: d.ContentType, Kind: string(d.Kind), Filename: DisplayName(filename, d.Kind),
	}
	var encLoc []byte
	if err := s.readStoredMeta(ref, d, probeLater, w, h, &m, &encLoc); err != nil {
		return store.Media{}, false, err
	}
	m, dup, err := s.store.InsertMedia(ctx, m, ref, encLoc)
	if err != nil {
		return store.Media{}, false, err
	}
	if dup {
		return m, true, nil // the deferred cleanup removes the new blob
	}
	kept = true
	s.kickJobs()
	return m, false, nil
}

// streamBuf is one unit of the ingest pipeline: hashed by one goroutine and
// encrypted by another, then reused.
type streamBuf struct {
	data []byte
	n    int
	refs atomic.Int32
}

// streamBufs is how many copy buffers one upload cycles through.
const streamBufs = 4

// streamInto copies src into bw (the encrypting blob writer) and returns the
// SHA-256, the CRC-32 (IEEE) and the size of what it copied, refusing more
// than max bytes with ErrTooLarge. Reading (with the cheap CRC), SHA-256
// and encryption+write run as a three-stage pipeline over a few 1 MiB
// buffers, so on two cores SHA-256 no longer sits in series with AES-GCM
// and the disk; memory stays at streamBufs MiB whatever the file size.
func streamInto(ctx context.Context, src io.Reader, bw *blob.Writer, max int64) (sum []byte, crc uint32, size int64, err error) {
	free := make(chan *streamBuf, streamBufs)
	for range streamBufs {
		free <- &streamBuf{data: make([]byte, copyBufSize)}
	}
	release := func(b *streamBuf) {
		if b.refs.Add(-1) == 0 {
			free <- b // never blocks: free holds every buffer
		}
	}
	toHash := make(chan *streamBuf, streamBufs)
	toWrite := make(chan *streamBuf, streamBufs)
	h := sha256.New()
	var writeErr error
	var failed atomic.Bool
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for b := range toHash {
			h.Write(b.data[:b.n])
			release(b)
		}
	}()
	go func() {
		defer wg.Done()
		for b := range toWrite {
			if writeErr == nil {
				if _, werr := bw.Write(b.data[:b.n]); werr != nil {
					writeErr = fmt.Errorf("server: ingest: %w", werr)
					failed.Store(true)
				}
			}
			release(b)
		}
	}()
	c := crc32.NewIEEE()
	for !failed.Load() {
		if cerr := ctx.Err(); cerr != nil {
			err = fmt.Errorf("server: ingest: %w", cerr)
			break
		}
		b := <-free
		n, rerr := fill(src, b.data)
		if n > 0 {
			size += int64(n)
			if size > max {
				free <- b
				err = ErrTooLarge
				break
			}
			c.Write(b.data[:n])
			b.n = n
			b.refs.Store(2)
			toHash <- b
			toWrite <- b
		} else {
			free <- b
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			err = fmt.Errorf("%w: %w", errUploadRead, rerr)
			break
		}
	}
	close(toHash)
	close(toWrite)
	wg.Wait()
	if err == nil {
		err = writeErr
	}
	if err != nil {
		return nil, 0, 0, err
	}
	return h.Sum(nil), c.Sum32(), size, nil
}

// fill reads into p until it is full or src ends. Only a clean io.EOF ends
// the stream: unlike io.ReadFull it passes io.ErrUnexpectedEOF from src
// through as an error, which is how a multipart part reports a body cut
// off before its closing boundary — that must not be stored as a
// (truncated) photo.
func fill(src io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := src.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// readStoredMeta reads the committed blob back (decrypting) to finish the
// pixel check when the header was not in the first MiB, and to fill m with
// EXIF metadata. GPS goes into encLoc sealed under the location key.
func (s *Server) readStoredMeta(ref blob.Ref, d imaging.Detected, probe bool, w, h int, m *store.Media, encLoc *[]byte) error {
	rd, err := s.blobs.Open(ref, s.kek())
	if err != nil {
		return fmt.Errorf("server: ingest: reopen: %w", err)
	}
	defer rd.Close()
	if probe {
		if w, h, err = imaging.Probe(rd, d, s.cfg.MaxPixels); err != nil {
			return err
		}
		if _, err := rd.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("server: ingest: %w", err)
		}
	}
	meta, err := imaging.ReadMeta(rd, d)
	if err != nil {
		// Best effort: the header already passed Probe; keep what we have.
		s.log.Debug().Err(err).Str("kind", string(d.Kind)).Msg("ingest: metadata unreadable")
	}
	m.Orientation = max(meta.Orientation, 1)
	m.Width, m.Height = meta.Width, meta.Height
	if m.Width <= 0 || m.Height <= 0 {
		m.Width, m.Height = w, h
		if m.Orientation >= 5 {
			m.Width, m.Height = h, w
		}
	}
	if !meta.TakenAt.IsZero() {
		t := meta.TakenAt.UTC()
		m.TakenAt = &t
	}
	if m.Camera, err = SealText(s.master, m.ID, "camera", meta.Camera); err != nil {
		return err
	}
	if m.Lens, err = SealText(s.master, m.ID, "lens", meta.Lens); err != nil {
		return err
	}
	if meta.HasGPS && validCoordinate(meta.Lat, meta.Lon) {
		rec, err := SealLocation(s.master, m.ID, meta.Lat, meta.Lon)
		if err != nil {
			return err
		}
		*encLoc = rec
	}
	return nil
}

func validCoordinate(lat, lon float64) bool {
	return !math.IsNaN(lat) && !math.IsNaN(lon) && math.Abs(lat) <= 90 && math.Abs(lon) <= 180
}

// DisplayName turns a client-supplied file name into display text: path
// components (either slash) are dropped, invalid UTF-8 is replaced,
// control characters (NUL, CR, LF…) and bidirectional overrides (which can
// make "photo<U+202E>gpj.exe" read as "photoexe.jpg") are removed, and the result
// is capped at 255 bytes on a character boundary. Other Unicode is kept. An
// empty result becomes "untitled" with an extension for the detected kind.
// The name is never used as a path (SECURITY.md #14).
func DisplayName(name string, kind imaging.Kind) string {
	name = strings.ToValidUTF8(name, "\uFFFD")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || isBidiControl(r) || r == '\uFEFF' {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if name == "." || name == ".." {
		name = ""
	}
	if len(name) > maxFilenameBytes {
		cut := maxFilenameBytes
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = strings.TrimSpace(name[:cut])
	}
	if name == "" {
		name = "untitled" + kindExt(kind)
	}
	return name
}

// isBidiControl reports the Unicode bidirectional formatting characters.
func isBidiControl(r rune) bool {
	switch {
	case r == '\u061C', r == '\u200E', r == '\u200F':
		return true
	case r >= '\u202A' && r <= '\u202E':
		return true
	case r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

func kindExt(k imaging.Kind) string {
	switch k {
	case imaging.KindJPEG:
		return ".jpg"
	case imaging.KindPNG, imaging.KindGIF, imaging.KindWebP, imaging.KindTIFF, imaging.KindHEIC,
		imaging.KindAVIF, imaging.KindDNG, imaging.KindMP4, imaging.KindMOV:
		return "." + string(k)
	}
	return ""
}

// ingestError maps Ingest's errors to client answers; anything else stays
// an internal error for writeError.
func ingestError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, ErrTooLarge), errors.As(err, &mbe):
		return newError(http.StatusRequestEntityTooLarge, "too_large", "file exceeds the upload size limit", err)
	case errors.Is(err, imaging.ErrPixelFlood):
		return newError(http.StatusUnprocessableEntity, "pixel_flood", "image dimensions exceed the pixel limit", err)
	case errors.Is(err, imaging.ErrUnsupported):
		return newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "only photos and videos can be uploaded", err)
	case errors.Is(err, imaging.ErrCorrupt):
		return newError(http.StatusUnprocessableEntity, "corrupt_image", "the image header cannot be read", err)
	case errors.Is(err, errUploadRead):
		return badRequest("the upload was interrupted or malformed", err)
	}
	return err
}

// handleUpload serves POST /api/albums/{id}/media: a multipart body with one
// or more parts named "file", each streamed through Ingest (never
// ParseMultipartForm: nothing is buffered whole, in memory or on disk).
// Parts with other names are skipped. Parts are committed one by one: when
// a later part fails (413, 415, 422), the earlier parts of the same request
// stay stored and the error answers the request; clients that need a
// per-file answer send one file per request, as the web UI does.
func (s *Server) handleUpload() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		// 404 before reading a byte of the body.
		a, err := s.ownedAlbum(r)
		if err != nil {
			return err
		}
		owner, albumID := ownerFrom(r), a.ID
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/form-data" {
			return newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "send multipart/form-data with parts named file", err)
		}
		boundary := params["boundary"]
		if boundary == "" {
			return badRequest("malformed multipart body: no boundary", nil)
		}
		// Backstop on the whole body; the per-file cap is enforced in Ingest.
		limit := int64(math.MaxInt64)
		if s.cfg.MaxUploadBytes < math.MaxInt64/64 {
			limit = s.cfg.MaxUploadBytes * 64
		}
		// What r.MultipartReader does, with a 256 KiB read buffer under the
		// multipart parser: its own 4 KiB buffer would turn a 1 GiB upload
		// into 260,000 read syscalls (measured: half the CPU time).
		body := bufio.NewReaderSize(http.MaxBytesReader(w, r.Body, limit), bodyBufSize)
		mr := multipart.NewReader(body, boundary)
		items := []mediaView{}
		for parts := 0; ; parts++ {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return ingestError(fmt.Errorf("%w: %w", errUploadRead, err))
			}
			if parts >= maxUploadParts {
				_ = p.Close()
				return badRequest(fmt.Sprintf("at most %d parts per request", maxUploadParts), nil)
			}
			if p.FormName() != "file" {
				_ = p.Close()
				continue
			}
			m, dup, err := s.Ingest(r.Context(), owner, albumID, p.FileName(), p)
			_ = p.Close()
			if err != nil {
				return ingestError(err)
			}
			v := newMediaView(s.openMeta(m))
			v.Duplicate = dup
			items = append(items, v)
		}
		if len(items) == 0 {
			return badRequest("no part named file", nil)
		}
		writeJSON(w, http.StatusCreated, map[string]any{"items": items})
		return nil
	}
}
