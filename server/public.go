package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/photovault/photovault/server/auth"
	"github.com/photovault/photovault/server/zipstream"
	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/imaging"
)

// Share tokens are 32 random bytes in unpadded URL-safe base64.
const tokenLen = 43

func validToken(t string) bool {
	if len(t) != tokenLen {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

var errGone = newError(http.StatusGone, "gone", "this link has expired or was revoked", nil)

// shareFromToken resolves {token} by its SHA-256 (constant-time by
// construction: the comparison is an index lookup on a hash, so timing
// reveals nothing about the token). Unknown → 404.
func (s *Server) shareFromToken(r *http.Request) (store.Share, error) {
	tok := chi.URLParam(r, "token")
	if !validToken(tok) {
		return store.Share{}, notFound()
	}
	sh, err := s.store.ShareByTokenHash(r.Context(), auth.HashToken(tok))
	if errors.Is(err, store.ErrNotFound) {
		return sh, notFound()
	}
	return sh, err
}

// liveShare additionally requires the share not be revoked or expired
// (410). Exhausted view limits are checked where views are counted.
func (s *Server) liveShare(r *http.Request) (store.Share, error) {
	sh, err := s.shareFromToken(r)
	if err != nil {
		return sh, err
	}
	if !sh.Live(s.now()) {
		s.record(r, sh.ID, "denied_gone", "")
		return sh, errGone
	}
	return sh, nil
}

// activeShare requires the share to be active: not revoked, not expired and
// under its view limit (410 otherwise). For meta and content.
func (s *Server) activeShare(r *http.Request) (store.Share, error) {
	sh, err := s.shareFromToken(r)
	if err != nil {
		return sh, err
	}
	if sh.Status(s.now()) != "active" {
		s.record(r, sh.ID, "denied_gone", "")
		return sh, errGone
	}
	return sh, nil
}

const shareSessionHeader = "X-Share-Session"

// unlocked reports whether the request may see a password share: a valid
// unlock session for exactly this share, by header or by the cookie scoped
// to this link's paths (SECURITY.md #8).
func (s *Server) unlocked(r *http.Request, sh store.Share) bool {
	if sh.PasswordHash == "" {
		return true
	}
	if v := r.Header.Get(shareSessionHeader); v != "" && s.validShareSession(sh, v) {
		return true
	}
	for _, c := range r.Cookies() {
		if c.Name == shareCookie && s.validShareSession(sh, c.Value) {
			return true
		}
	}
	return false
}

const shareCookie = "pv_share"

func (s *Server) requireUnlocked(r *http.Request, sh store.Share) error {
	if s.unlocked(r, sh) {
		return nil
	}
	s.record(r, sh.ID, "denied_locked", "")
	return newError(http.StatusUnauthorized, "password_required", "this gallery is password protected", nil)
}

type metaView struct {
	Title            *string `json:"title"`
	Studio           string  `json:"studio"`
	RequiresPassword bool    `json:"requires_password"`
	Unlocked         bool    `json:"unlocked"`
	ExpiresAt        *string `json:"expires_at"`
	Download         string  `json:"download"`
	ItemCount        *int    `json:"item_count"`
	SelectionLimit   *int    `json:"selection_limit"`
}

// handlePublicMeta serves GET /api/public/shares/{token}/meta: lock-screen-safe
// metadata only, never a view. Title and item count stay hidden until a
// password share is unlocked.
func (s *Server) handlePublicMeta() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		sh, err := s.activeShare(r)
		if err != nil {
			return err
		}
		open := s.unlocked(r, sh)
		v := metaView{Studio: sh.Studio, RequiresPassword: sh.PasswordHash != "", Unlocked: open,
			ExpiresAt: rfc3339Ptr(sh.ExpiresAt), Download: sh.Download, SelectionLimit: sh.SelectionLimit}
		if open {
			title, n := sh.AlbumTitle, sh.ItemCount
			v.Title, v.ItemCount = &title, &n
		}
		s.record(r, sh.ID, "meta", "")
		writeJSON(w, http.StatusOK, v)
		return nil
	}
}

// handlePublicUnlock serves POST /api/public/shares/{token}/unlock. The
// password only ever travels in the body; the throttle is checked first, so
// while throttled even the right password gets 429 (SECURITY.md #2, #8).
func (s *Server) handlePublicUnlock() handlerFunc {
	type request struct {
		Password string `json:"password"`
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		if r.URL.Query().Has("password") {
			return badRequest("send the password in the request body, never in the URL", nil)
		}
		sh, err := s.liveShare(r)
		if err != nil {
			return err
		}
		if err := s.throttled(r, scopeUnlock, sh.ID); err != nil {
			s.record(r, sh.ID, "unlock_throttled", "")
			return err
		}
		var req request
		if err := decodeJSON(w, r, &req); err != nil {
			return err
		}
		if sh.PasswordHash != "" {
			ok, _, err := s.verifyPassword(r.Context(), sh.PasswordHash, req.Password)
			if err != nil {
				return err
			}
			if !ok {
				s.throttle.Failure(scopeUnlock, clientIP(r), sh.ID)
				s.record(r, sh.ID, "unlock_failed", "")
				s.auditReq(r, "unlock_failed", sh.OwnerID, sh.ID, "")
				return newError(http.StatusUnauthorized, "invalid_password", "wrong password", nil)
			}
			s.throttle.Success(scopeUnlock, clientIP(r), sh.ID)
		}
		session, ttl := s.shareSession(sh)
		for _, path := range []string{"/api/public/shares/" + chi.URLParam(r, "token"), "/api/public/m/" + sh.ID} {
			// #nosec G124 -- HttpOnly and SameSite=Strict always; Secure whenever TLS is on (a Secure cookie is never
			// sent back over plain HTTP).
			http.SetCookie(w, &http.Cookie{Name: shareCookie, Value: session, Path: path, HttpOnly: true, Secure: s.tls,
				SameSite: http.SameSiteStrictMode, MaxAge: int(ttl / time.Second)})
		}
		s.record(r, sh.ID, "unlock", "")
		writeJSON(w, http.StatusOK, map[string]any{"session": session, "expires_in": int(ttl / time.Second)})
		return nil
	}
}

type itemView struct {
	ID          string  `json:"id"`
	Filename    string  `json:"filename"`
	ContentType string  `json:"content_type"`
	Width       int     `json:"width"`
	Height      int     `json:"height"`
	ThumbURL    *string `json:"thumb_url"`
	PreviewURL  *string `json:"preview_url"`
	OriginalURL *string `json:"original_url,omitempty"`
	DownloadURL *string `json:"download_url,omitempty"`
}

type contentView struct {
	Title          string     `json:"title"`
	Studio         string     `json:"studio"`
	Download       string     `json:"download"`
	ExpiresAt      *string    `json:"expires_at"`
	SelectionLimit *int       `json:"selection_limit"`
	ZipURL         *string    `json:"zip_url,omitempty"`
	Items          []itemView `json:"items"`
}

// handlePublicContent serves GET /api/public/shares/{token}/content: one
// atomic conditional UPDATE counts the view (only while live and under the
// limit), then one query lists the items with their derivatives, and media
// URLs are signed. A constant number of queries whatever the gallery size.
func (s *Server) handlePublicContent() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		sh, err := s.activeShare(r)
		if err != nil {
			return err
		}
		if err := s.requireUnlocked(r, sh); err != nil {
			return err
		}
		first := false
		if sh.MaxViews == nil && sh.FirstViewedAt != nil {
			// No limit to enforce: count in memory, written with the access
			// log (a write transaction per view would serialise every open
			// on the single writer).
			s.access.addView(sh.ID)
		} else {
			counted, isFirst, err := s.store.CountView(r.Context(), sh.ID)
			if err != nil {
				return err
			}
			if !counted {
				s.record(r, sh.ID, "denied_gone", "")
				return errGone
			}
			first = isFirst
		}
		exp := s.mediaURLExpiry(sh)
		token := chi.URLParam(r, "token")
		key := contentKey{version: sh.ContentVersion, exp: exp, pwv: sh.PasswordVersion, download: sh.Download,
			title: sh.AlbumTitle, studio: sh.Studio, token: token}
		if sh.ExpiresAt != nil {
			key.expires = sh.ExpiresAt.UnixMilli()
		}
		if sh.SelectionLimit != nil {
			key.selLimit = *sh.SelectionLimit
		}
		body, ok := s.contents.get(sh.ID, key)
		if !ok {
			if body, err = s.renderContent(r.Context(), sh, token, exp); err != nil {
				return err
			}
			s.contents.put(sh.ID, key, body)
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body) // #nosec G705 -- JSON (application/json, nosniff) encoded with HTML escaping, not markup
		s.record(r, sh.ID, "view", "")
		if first && sh.NotifyFirstView {
			s.notifyFirstView(sh)
		}
		return nil
	}
}

// renderContent lists the share's items (one query) and encodes the gallery
// with signed media URLs.
func (s *Server) renderContent(ctx context.Context, sh store.Share, token string, exp int64) ([]byte, error) {
	items, err := s.store.ShareItems(ctx, sh.ID, sh.AlbumID)
	if err != nil {
		return nil, err
	}
	url := func(mediaID, variant string) *string {
		u := s.signedMediaURL(sh, mediaID, variant, exp)
		return &u
	}
	v := contentView{Title: sh.AlbumTitle, Studio: sh.Studio, Download: sh.Download, ExpiresAt: rfc3339Ptr(sh.ExpiresAt),
		SelectionLimit: sh.SelectionLimit, Items: make([]itemView, 0, len(items))}
	if sh.Download != store.DownloadNone {
		z := "/api/public/shares/" + token + "/zip"
		v.ZipURL = &z
	}
	for _, it := range items {
		iv := itemView{ID: it.MediaID, Filename: it.Filename, ContentType: it.ContentType, Width: it.Width, Height: it.Height}
		if it.Preview != nil && it.Preview.Width > 0 {
			iv.Width, iv.Height = it.Preview.Width, it.Preview.Height // display size, orientation applied
		}
		if it.Thumb != nil {
			iv.ThumbURL = url(it.MediaID, variantThumb)
		}
		if it.Preview != nil {
			iv.PreviewURL = url(it.MediaID, variantPreview)
		}
		switch sh.Download {
		case store.DownloadOriginal:
			iv.OriginalURL = url(it.MediaID, variantOriginal) // also the download link
		case store.DownloadPreview:
			if it.Preview != nil {
				iv.DownloadURL = url(it.MediaID, variantDownload)
			}
		}
		v.Items = append(v.Items, iv)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("server: encode content: %w", err)
	}
	return append(b, '\n'), nil
}

// contentKey is everything a rendered gallery depends on besides the share
// id. The album's content version is read from the database on every
// request, together with the share row, so a cached rendering is reused only
// while nothing it shows has changed (invariant 3 holds: revocation, expiry,
// limits and passwords are checked before the cache is consulted).
type contentKey struct {
	version  int64
	exp      int64
	pwv      int
	download string
	title    string
	studio   string
	expires  int64
	selLimit int
	token    string
}

type contentEntry struct {
	key  contentKey
	body []byte
}

// contentCache holds rendered galleries, bounded by entry count.
type contentCache struct {
	mu sync.Mutex
	m  map[string]contentEntry
}

const contentCacheMax = 256

func (c *contentCache) get(shareID string, k contentKey) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[shareID]
	if !ok || e.key != k {
		return nil, false
	}
	return e.body, true
}

func (c *contentCache) put(shareID string, k contentKey, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= contentCacheMax {
		c.m = make(map[string]contentEntry, 64)
	}
	c.m[shareID] = contentEntry{key: k, body: body}
}

// handlePublicMedia serves the signed media URLs. Signature and expiry are
// checked first (403), then the share is read from the database on every
// request, so revocation, expiry and password changes kill earlier URLs at
// once (SECURITY.md #9, #10; PhotoPrism #817).
func (s *Server) handlePublicMedia() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		shareID, mediaID, variant := chi.URLParam(r, "share"), chi.URLParam(r, "media"), chi.URLParam(r, "variant")
		if !store.ValidID(shareID) || !store.ValidID(mediaID) {
			return notFound()
		}
		switch variant {
		case variantThumb, variantPreview, variantOriginal, variantDownload:
		default:
			return notFound()
		}
		pwv, err := s.verifyMediaURL(shareID, mediaID, variant, r.URL.Query())
		if err != nil {
			return newError(http.StatusForbidden, "bad_signature", "invalid or expired link", err)
		}
		base := variant
		if variant == variantDownload {
			base = variantPreview
		}
		sh, f, ferr := s.store.MediaFetch(r.Context(), shareID, mediaID, base)
		if errors.Is(ferr, store.ErrNotFound) {
			// Nothing to serve: say why in the same order as below.
			if sh, err = s.store.PublicShareLite(r.Context(), shareID); err != nil {
				return err
			}
		} else if ferr != nil {
			return ferr
		}
		if !sh.Live(s.now()) {
			s.record(r, shareID, "denied_gone", mediaID)
			return errGone
		}
		if pwv != sh.PasswordVersion {
			return newError(http.StatusForbidden, "bad_signature", "this link was issued before the password changed", nil)
		}
		if err := s.requireUnlocked(r, sh); err != nil {
			return err
		}
		switch {
		case variant == variantOriginal && sh.Download != store.DownloadOriginal,
			variant == variantDownload && sh.Download == store.DownloadNone:
			return forbidden("downloads are not allowed for this link")
		}
		if ferr != nil {
			return ferr
		}
		if sh.Watermark != "" && base != variantOriginal {
			d, err := s.shareDerivative(r.Context(), sh, mediaID, base)
			if err != nil {
				return err
			}
			if f.Ref, err = s.store.BlobRef(r.Context(), d.BlobID); err != nil {
				return err
			}
		}
		name := f.Filename
		if base != variantOriginal {
			name = strings.TrimSuffix(name, extOf(name)) + ".jpg"
		}
		download := variant == variantOriginal || variant == variantDownload
		if download && fromStart(r) && r.Header.Get("If-None-Match") == "" {
			if sh.MaxDownloads != nil {
				ok, err := s.store.CountDownload(r.Context(), sh.ID)
				if err != nil {
					return err
				}
				if !ok {
					return newError(http.StatusGone, "download_limit", "the download limit of this link is reached", nil)
				}
			}
			s.record(r, sh.ID, "download", mediaID)
		} else if !download {
			s.record(r, sh.ID, variant, mediaID)
		}
		var content readSeekCloser
		if f.Splice != nil {
			content, err = s.openSpliced(f.Ref, f.Splice.Source, f.Splice.Offset, f.Splice.Length)
		} else {
			content, err = s.derivedReader(f.Ref, base != variantOriginal)
		}
		if err != nil {
			return err
		}
		defer func() { _ = content.Close() }() // read-only: nothing to report
		h := w.Header()
		h.Set("Content-Type", f.ContentType)
		h.Set("ETag", `"`+f.Ref.ID+`"`)
		h.Set("Cache-Control", "private, no-cache")
		h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
		if download {
			h.Set("Content-Disposition", disposition("attachment", name))
		} else {
			h.Set("Content-Disposition", disposition("inline", name))
		}
		http.ServeContent(w, r, "", time.Time{}, content)
		return nil
	}
}

func extOf(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[i:]
	}
	return ""
}

// fromStart: a request without Range, or one starting at byte 0, is a new
// download; later ranges are the same download resuming.
func fromStart(r *http.Request) bool {
	rg := r.Header.Get("Range")
	return rg == "" || strings.HasPrefix(rg, "bytes=0-")
}

// shareDerivative returns the thumb/preview to serve for a share: the plain
// derivative, or — when the share has a watermark — a watermarked copy made
// once per share and text (encrypted like everything else), never twice at
// once (singleflight). Owner views and originals are never watermarked.
func (s *Server) shareDerivative(ctx context.Context, sh store.Share, mediaID, variant string) (store.Derivative, error) {
	if sh.Watermark == "" {
		return s.store.Derivative(ctx, mediaID, variant)
	}
	sum := sha256.Sum256([]byte(sh.Watermark))
	wv := "wm/" + sh.ID + "/" + hex.EncodeToString(sum[:4]) + "/" + variant
	if d, err := s.store.Derivative(ctx, mediaID, wv); err == nil {
		return d, nil
	}
	v, err, _ := s.flight.Do(mediaID+"|"+wv, func() (any, error) {
		if d, err := s.store.Derivative(ctx, mediaID, wv); err == nil {
			return d, nil
		}
		base, err := s.store.Derivative(ctx, mediaID, variant)
		if err != nil {
			return nil, err
		}
		rd, err := s.openBlob(ctx, base.BlobID)
		if err != nil {
			return nil, err
		}
		src, err := io.ReadAll(io.LimitReader(rd, 64<<20))
		_ = rd.Close()
		if err != nil {
			return nil, fmt.Errorf("server: read derivative: %w", err)
		}
		out, err := imaging.Watermark(src, sh.Watermark)
		if err != nil {
			return nil, fmt.Errorf("server: watermark: %w", err)
		}
		d, err := s.putDerivative(ctx, mediaID, wv, out, base.Width, base.Height)
		return d, err
	})
	if err != nil {
		return store.Derivative{}, err
	}
	return v.(store.Derivative), nil
}

// putDerivative encrypts bytes into a new blob and records it.
func (s *Server) putDerivative(ctx context.Context, mediaID, variant string, data []byte, w, h int) (store.Derivative, error) {
	bw, err := s.blobs.Create(s.kek())
	if err != nil {
		return store.Derivative{}, err
	}
	if _, err := io.Copy(bw, bytes.NewReader(data)); err != nil {
		_ = bw.Abort()
		return store.Derivative{}, err
	}
	ref, err := bw.Commit()
	if err != nil {
		return store.Derivative{}, err
	}
	d := store.Derivative{MediaID: mediaID, Variant: variant, BlobID: ref.ID, Size: int64(len(data)), CRC32: crc32IEEE(data),
		ContentType: "image/jpeg", Width: w, Height: h}
	if err := s.store.PutDerivative(ctx, d, ref); err != nil {
		_ = s.blobs.Delete(ref.ID)
		return store.Derivative{}, err
	}
	return d, nil
}

// handlePublicZip serves GET /api/public/shares/{token}/zip[?ids=a,b]: every
// downloadable item (or the listed favourites) as one ZIP, streamed with
// constant memory, deterministic, with exact Content-Length and Range
// support so a multi-GB download can resume.
func (s *Server) handlePublicZip() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		sh, err := s.liveShare(r)
		if err != nil {
			return err
		}
		if err := s.requireUnlocked(r, sh); err != nil {
			return err
		}
		if sh.Download == store.DownloadNone {
			return forbidden("downloads are not allowed for this link")
		}
		items, err := s.store.ShareItems(r.Context(), sh.ID, sh.AlbumID)
		if err != nil {
			return err
		}
		if ids := r.URL.Query().Get("ids"); ids != "" {
			want := map[string]bool{}
			for _, id := range strings.Split(ids, ",") {
				want[strings.TrimSpace(id)] = true
			}
			var sub []store.ShareItem
			for _, it := range items {
				if want[it.MediaID] {
					sub = append(sub, it)
					delete(want, it.MediaID)
				}
			}
			if len(want) > 0 {
				return badRequest("ids must belong to this gallery", nil)
			}
			items = sub
		}
		var entries []zipstream.Entry
		for _, it := range items {
			blobID, size, crc, name := it.BlobID, it.Size, it.CRC32, it.Filename
			var splice *store.Splice
			switch {
			case sh.Download == store.DownloadPreview:
				if it.Preview == nil {
					continue
				}
				blobID, size, crc = it.Preview.BlobID, it.Preview.Size, it.Preview.CRC32
				name = strings.TrimSuffix(name, extOf(name)) + ".jpg"
			case sh.StripLocation && it.Stripped != nil:
				blobID, size, crc, splice = it.Stripped.BlobID, it.Stripped.FullSize(), it.Stripped.FullCRC32(), it.Stripped.Splice
			}
			mod := it.CreatedAt
			if it.TakenAt != nil {
				mod = *it.TakenAt
			}
			id, source := blobID, it.BlobID
			entries = append(entries, zipstream.Entry{Name: safeFilename(name), Size: size, CRC32: crc, Modified: mod,
				Open: func(off int64) (io.ReadCloser, error) {
					ctx := context.WithoutCancel(r.Context())
					var rd io.ReadSeekCloser
					var err error
					if splice != nil {
						rd, err = s.openSplicedByID(ctx, id, source, splice)
					} else {
						rd, err = s.openBlob(ctx, id)
					}
					if err != nil {
						return nil, err
					}
					if _, err := rd.Seek(off, io.SeekStart); err != nil {
						_ = rd.Close()
						return nil, err
					}
					return rd, nil
				}})
		}
		archive, err := zipstream.New(entries)
		if err != nil {
			return err
		}
		if fromStart(r) {
			if sh.MaxDownloads != nil {
				ok, err := s.store.CountDownload(r.Context(), sh.ID)
				if err != nil {
					return err
				}
				if !ok {
					return newError(http.StatusGone, "download_limit", "the download limit of this link is reached", nil)
				}
			}
			s.record(r, sh.ID, "zip", "")
		}
		name := safeFilename(sh.AlbumTitle)
		if name == "download" || name == "" {
			name = "photos"
		}
		w.Header().Set("Cache-Control", "private, no-store")
		if err := archive.Serve(w, r, name+".zip"); err != nil {
			zlog(r).Warn().Err(err).Msg("zip stream ended early")
		}
		return nil
	}
}

// handlePublicSelection serves POST /api/public/shares/{token}/selections:
// a client's favourites with name, email and note, no account.
func (s *Server) handlePublicSelection() handlerFunc {
	type request struct {
		Name     string   `json:"name"`
		Email    string   `json:"email"`
		MediaIDs []string `json:"media_ids"`
		Note     string   `json:"note"`
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		sh, err := s.liveShare(r)
		if err != nil {
			return err
		}
		if err := s.requireUnlocked(r, sh); err != nil {
			return err
		}
		var req request
		if err := decodeJSON(w, r, &req); err != nil {
			return err
		}
		req.Name, req.Email = strings.TrimSpace(req.Name), strings.TrimSpace(req.Email)
		if req.Name == "" || utf8.RuneCountInString(req.Name) > 200 {
			return badRequest("name is required (200 characters at most)", nil)
		}
		if err := validText(req.Name, 200, "name"); err != nil {
			return err
		}
		if a, err := mail.ParseAddress(req.Email); err != nil || a.Address != req.Email || len(req.Email) > 254 {
			return badRequest("a valid email address is required", err)
		}
		if err := validText(req.Note, 2000, "note"); err != nil {
			return err
		}
		if len(req.MediaIDs) == 0 || len(req.MediaIDs) > 10000 {
			return badRequest("media_ids must list the chosen photos", nil)
		}
		seen := map[string]bool{}
		ids := make([]string, 0, len(req.MediaIDs))
		for _, id := range req.MediaIDs {
			if !store.ValidID(id) {
				return badRequest("media_ids must belong to this gallery", nil)
			}
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		if sh.SelectionLimit != nil && len(ids) > *sh.SelectionLimit {
			return newError(http.StatusBadRequest, "selection_limit", fmt.Sprintf("choose at most %d photos", *sh.SelectionLimit), nil)
		}
		sel, err := s.store.CreateSelection(r.Context(), sh, req.Name, req.Email, req.Note, ids)
		if errors.Is(err, store.ErrSelectionMedia) {
			return badRequest("media_ids must belong to this gallery", err)
		}
		if err != nil {
			return err
		}
		s.record(r, sh.ID, "selection", "")
		s.notifySelection(sh, sel)
		writeJSON(w, http.StatusCreated, selectionView{ID: sel.ID, Name: sel.Name, Email: sel.Email, MediaIDs: sel.MediaIDs,
			Filenames: []string{}, Note: sel.Note, SubmittedAt: sel.SubmittedAt.Format(time.RFC3339)})
		return nil
	}
}
