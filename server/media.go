package server

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/keys"
)

// Headers of served media.
const (
	// mediaCSP: uploaded bytes opened directly in a browser run with no
	// origin, no scripts and no plugins, even if a polyglot slipped past
	// the type check (SECURITY.md #15; Gokapi CVE-2026-28683).
	mediaCSP = "sandbox; default-src 'none'"
	// originalCache: private (owner-only), revalidated with the ETag.
	originalCache = "private, no-cache"
	// derivativeCache: a derivative's bytes never change under its ETag
	// (the derivative's own blob id), so browsers keep it for a year.
	derivativeCache = "private, max-age=31536000, immutable"
	// maxLookup bounds POST /api/media/lookup.
	maxLookup = 10000
)

// mediaView is a media item as the owner API shows it. Times are RFC 3339
// UTC. The GPS position is never part of it.
type mediaView struct {
	ID          string  `json:"id"`
	AlbumID     string  `json:"album_id"`
	Filename    string  `json:"filename"`
	ContentType string  `json:"content_type"`
	Size        int64   `json:"size"`
	SHA256      string  `json:"sha256"`
	Width       int     `json:"width"`
	Height      int     `json:"height"`
	TakenAt     *string `json:"taken_at"`
	Camera      string  `json:"camera"`
	Lens        string  `json:"lens"`
	Status      string  `json:"status"`
	CreatedAt   string  `json:"created_at"`
	Duplicate   bool    `json:"duplicate,omitempty"`
}

func newMediaView(m store.Media) mediaView {
	v := mediaView{
		ID: m.ID, AlbumID: m.AlbumID, Filename: m.Filename, ContentType: m.ContentType, Size: m.Size, SHA256: m.SHA256,
		Width: m.Width, Height: m.Height, Camera: m.Camera, Lens: m.Lens, Status: m.Status, CreatedAt: mediaTime(m.CreatedAt),
	}
	if m.TakenAt != nil {
		t := mediaTime(*m.TakenAt)
		v.TakenAt = &t
	}
	return v
}

// mediaTime formats a time for JSON: RFC 3339 in UTC.
func mediaTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// ownedMedia loads the media item named by {id} for the calling owner. Ids
// of other owners answer 404 exactly like ids that do not exist.
func (s *Server) ownedMedia(r *http.Request) (store.Media, error) {
	id := chi.URLParam(r, "id")
	if !store.ValidID(id) {
		return store.Media{}, notFound()
	}
	m, err := s.store.Media(r.Context(), ownerFrom(r), id)
	if errors.Is(err, store.ErrNotFound) {
		s.auditIDOR(r, "media", id)
	}
	return m, err
}

// auditIDOR records an attempt to reach another owner's album or media
// (SECURITY.md #20). The caller still gets a plain 404.
func (s *Server) auditIDOR(r *http.Request, kind, id string) {
	victim, err := s.store.ResourceOwner(r.Context(), kind, id)
	if err != nil || victim == "" || victim == ownerFrom(r) {
		return
	}
	s.auditReq(r, "idor_denied", victim, id, kind+" "+r.Method+" "+routePattern(r))
}

// handleMediaGet serves GET /api/media/{id}.
func (s *Server) handleMediaGet() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		m, err := s.ownedMedia(r)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, newMediaView(s.openMeta(m)))
		return nil
	}
}

// handleMediaOriginal serves GET /api/media/{id}/original: the exact bytes
// uploaded, decrypted as they stream. http.ServeContent does Range (206,
// suffix ranges, 416 past the end) and If-None-Match (304) against the
// ETag, the quoted SHA-256 of the content.
func (s *Server) handleMediaOriginal() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		m, err := s.ownedMedia(r)
		if err != nil {
			return err
		}
		rd, err := s.openBlob(r.Context(), m.BlobID)
		if err != nil {
			return err
		}
		defer rd.Close()
		h := w.Header()
		h.Set("Content-Type", m.ContentType) // detected at upload; never the client's
		h.Set("ETag", `"`+m.SHA256+`"`)
		h.Set("Content-Disposition", attachment(m.Filename))
		h.Set("Content-Security-Policy", mediaCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", originalCache)
		http.ServeContent(w, r, "", time.Time{}, rd)
		return nil
	}
}

// handleMediaDerivative serves GET /api/media/{id}/thumb and /preview. While
// the worker has not made the derivative yet it answers 404 not_ready with
// Retry-After; a media item whose processing failed has none (404).
func (s *Server) handleMediaDerivative(variant string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		m, err := s.ownedMedia(r)
		if err != nil {
			return err
		}
		d, err := s.store.Derivative(r.Context(), m.ID, variant)
		if errors.Is(err, store.ErrNotFound) {
			if m.Status == store.MediaStatusProcessing {
				e := newError(http.StatusNotFound, "not_ready", "still processing; try again shortly", nil)
				e.RetryAfter = 2 * time.Second
				return e
			}
			return notFound()
		}
		if err != nil {
			return err
		}
		rd, err := s.openBlob(r.Context(), d.BlobID)
		if err != nil {
			return err
		}
		defer rd.Close()
		h := w.Header()
		h.Set("Content-Type", d.ContentType)
		h.Set("ETag", `"`+d.BlobID+`"`)
		h.Set("Content-Security-Policy", mediaCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", derivativeCache)
		http.ServeContent(w, r, "", time.Time{}, rd)
		return nil
	}
}

// handleMediaDelete serves DELETE /api/media/{id}: the row goes at once, the
// files after the collector's grace period.
func (s *Server) handleMediaDelete() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		m, err := s.ownedMedia(r)
		if err != nil {
			return err
		}
		if err := s.store.DeleteMedia(r.Context(), ownerFrom(r), m.ID); err != nil {
			return err
		}
		s.auditReq(r, "media_deleted", ownerFrom(r), m.ID, "")
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

type lookupRequest struct {
	SHA256 []string `json:"sha256"`
}

// handleMediaLookup serves POST /api/media/lookup: which of these SHA-256
// hashes the caller already has, so a client can skip them when resuming.
// Only the caller's own media are consulted.
func (s *Server) handleMediaLookup() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req lookupRequest
		if err := decodeJSON(w, r, &req); err != nil {
			return err
		}
		if len(req.SHA256) > maxLookup {
			return badRequest(fmt.Sprintf("at most %d hashes per lookup", maxLookup), nil)
		}
		list := make([]string, len(req.SHA256))
		for i, h := range req.SHA256 {
			h = strings.ToLower(h)
			if len(h) != 64 {
				return badRequest("each sha256 must be 64 hex digits", nil)
			}
			if _, err := hex.DecodeString(h); err != nil {
				return badRequest("each sha256 must be 64 hex digits", nil)
			}
			list[i] = h
		}
		known, err := s.store.KnownSHA256(r.Context(), ownerFrom(r), list)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"known": known})
		return nil
	}
}

// attachment builds an RFC 6266 Content-Disposition: an ASCII fallback in
// filename= (non-ASCII, quotes and backslashes replaced) and the exact name
// in filename*=UTF-8”…, percent-encoded. Control characters never reach
// the header: display names have none, and the encoding would escape them.
func attachment(name string) string {
	fallback := strings.Map(func(r rune) rune {
		if r < 0x20 || r >= 0x7f || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, name)
	v := mime.FormatMediaType("attachment", map[string]string{"filename": fallback})
	if v == "" {
		v = "attachment"
	}
	return v + "; filename*=UTF-8''" + rfc5987(name)
}

// rfc5987 percent-encodes everything but RFC 5987 attr-chars.
func rfc5987(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// Encrypted GPS records (the media.enc_location column). A record is
//
//	version(1) = 1 || master key id (8) || nonce (12) || AES-256-GCM(lat, lon as float64 BE) (16+16)
//
// under the HKDF sub-key keys.LabelLocation of the master key, with
// associated data binding the media id and key id, so a record copied to
// another row does not open. The key id tells key rotation which master
// key sealed a record: rotating the master key must re-seal these records
// (OpenLocation with the old key, SealLocation with the new one).
const (
	locationVersion = 1
	locationLen     = 1 + 8 + 12 + 16 + 16
	locationAD      = "photovault-location-v1|"
)

// ErrLocation reports an encrypted location that does not open: another
// master key, another media id, or altered bytes.
var ErrLocation = errors.New("server: encrypted location does not open")

func locationAEAD(master keys.Key) (cipher.AEAD, error) {
	block, err := aes.NewCipher(master.Derive(keys.LabelLocation, 32))
	if err != nil {
		return nil, fmt.Errorf("server: location key: %w", err)
	}
	return cipher.NewGCM(block)
}

// SealLocation encrypts a GPS position of media item mediaID under the
// master key (never stored in plaintext: SECURITY.md, issue 4 §4).
func SealLocation(master keys.Key, mediaID string, lat, lon float64) ([]byte, error) {
	aead, err := locationAEAD(master)
	if err != nil {
		return nil, err
	}
	kid, err := hex.DecodeString(master.ID())
	if err != nil || len(kid) != 8 {
		return nil, fmt.Errorf("server: location key id: %w", err)
	}
	rec := make([]byte, 0, locationLen)
	rec = append(rec, locationVersion)
	rec = append(rec, kid...)
	var nonce [12]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, fmt.Errorf("server: location nonce: %w", err)
	}
	rec = append(rec, nonce[:]...)
	var pt [16]byte
	binary.BigEndian.PutUint64(pt[:8], math.Float64bits(lat))
	binary.BigEndian.PutUint64(pt[8:], math.Float64bits(lon))
	rec = aead.Seal(rec, nonce[:], pt[:], []byte(locationAD+mediaID+"|"+master.ID()))
	return rec, nil
}

// OpenLocation decrypts a record made by SealLocation for mediaID.
func OpenLocation(master keys.Key, mediaID string, rec []byte) (lat, lon float64, err error) {
	if len(rec) != locationLen || rec[0] != locationVersion || hex.EncodeToString(rec[1:9]) != master.ID() {
		return 0, 0, ErrLocation
	}
	aead, err := locationAEAD(master)
	if err != nil {
		return 0, 0, err
	}
	pt, err := aead.Open(nil, rec[9:21], rec[21:], []byte(locationAD+mediaID+"|"+master.ID()))
	if err != nil {
		return 0, 0, ErrLocation
	}
	return math.Float64frombits(binary.BigEndian.Uint64(pt[:8])), math.Float64frombits(binary.BigEndian.Uint64(pt[8:])), nil
}

// LocationKeyID returns the id of the master key that sealed rec ("" if rec
// is not a location record), for key rotation.
func LocationKeyID(rec []byte) string {
	if len(rec) != locationLen || rec[0] != locationVersion {
		return ""
	}
	return hex.EncodeToString(rec[1:9])
}
