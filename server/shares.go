package server

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/photovault/photovault/server/auth"
	"github.com/photovault/photovault/store"
)

// shareView is a share as its owner sees it. It never holds the token: that
// is shown once, in the create response.
type shareView struct {
	ID              string   `json:"id"`
	Token           string   `json:"token,omitempty"`
	URL             string   `json:"url,omitempty"`
	AlbumID         string   `json:"album_id"`
	AlbumTitle      string   `json:"album_title"`
	Label           string   `json:"label"`
	Status          string   `json:"status"`
	RequiresPass    bool     `json:"requires_password"`
	ExpiresAt       *string  `json:"expires_at"`
	MaxViews        *int     `json:"max_views"`
	Views           int      `json:"views"`
	MaxDownloads    *int     `json:"max_downloads"`
	Downloads       int      `json:"downloads"`
	Download        string   `json:"download"`
	StripLocation   bool     `json:"strip_location"`
	Watermark       string   `json:"watermark"`
	SelectionLimit  *int     `json:"selection_limit"`
	NotifyFirstView bool     `json:"notify_first_view"`
	ItemCount       int      `json:"item_count"`
	MediaIDs        []string `json:"media_ids,omitempty"`
	InviteSent      *bool    `json:"invite_sent,omitempty"`
	FirstViewedAt   *string  `json:"first_viewed_at"`
	RevokedAt       *string  `json:"revoked_at"`
	CreatedAt       string   `json:"created_at"`
	UpdatedAt       string   `json:"updated_at"`
}

func rfc3339Ptr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	v := t.UTC().Format(time.RFC3339)
	return &v
}

func (s *Server) viewShare(sh store.Share) shareView {
	return shareView{
		ID: sh.ID, AlbumID: sh.AlbumID, AlbumTitle: sh.AlbumTitle, Label: sh.Label, Status: sh.Status(s.now()),
		RequiresPass: sh.PasswordHash != "", ExpiresAt: rfc3339Ptr(sh.ExpiresAt), MaxViews: sh.MaxViews, Views: sh.Views,
		MaxDownloads: sh.MaxDownloads, Downloads: sh.Downloads, Download: sh.Download, StripLocation: sh.StripLocation,
		Watermark: sh.Watermark, SelectionLimit: sh.SelectionLimit, NotifyFirstView: sh.NotifyFirstView, ItemCount: sh.ItemCount,
		FirstViewedAt: rfc3339Ptr(sh.FirstViewedAt), RevokedAt: rfc3339Ptr(sh.RevokedAt),
		CreatedAt: sh.CreatedAt.Format(time.RFC3339), UpdatedAt: sh.UpdatedAt.Format(time.RFC3339),
	}
}

// optional tracks whether a JSON field was present and whether it was null,
// so PATCH can tell "leave it" from "clear it".
type optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

type shareRequest struct {
	AlbumID          string           `json:"album_id"`
	MediaIDs         []string         `json:"media_ids"`
	Label            optional[string] `json:"label"`
	ExpiresAt        optional[string] `json:"expires_at"`
	ExpiresInSeconds optional[int64]  `json:"expires_in_seconds"`
	NeverExpires     bool             `json:"never_expires"`
	MaxViews         optional[int]    `json:"max_views"`
	MaxDownloads     optional[int]    `json:"max_downloads"`
	Password         optional[string] `json:"password"`
	Download         optional[string] `json:"download"`
	StripLocation    optional[bool]   `json:"strip_location"`
	Watermark        optional[string] `json:"watermark"`
	SelectionLimit   optional[int]    `json:"selection_limit"`
	NotifyFirstView  bool             `json:"notify_first_view"`
	SendTo           string           `json:"send_to"`
	Message          string           `json:"message"`
}

const (
	maxLabel     = 200
	maxWatermark = 60
	maxSharePW   = 1024
	minSharePW   = 4
)

func validText(v string, max int, field string) error {
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > max {
		return badRequest(field+" must be valid text of at most "+strconv.Itoa(max)+" characters", nil)
	}
	for _, c := range v {
		if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
			return badRequest(field+" contains control characters", nil)
		}
	}
	return nil
}

func positive(o optional[int], field string) (**int, error) {
	if !o.Set {
		return nil, nil
	}
	if o.Null || o.Value == 0 && field != "max_views" {
		var p *int
		return &p, nil
	}
	if o.Value < 1 || o.Value > 1_000_000_000 {
		return nil, badRequest(field+" must be a positive number (or null for no limit)", nil)
	}
	v := o.Value
	p := &v
	return &p, nil
}

// expiry resolves expires_at / expires_in_seconds / never_expires. ok=false
// when none was given.
func (s *Server) expiry(req shareRequest) (exp *time.Time, ok bool, err error) {
	now := s.now()
	switch {
	case req.ExpiresAt.Set && !req.ExpiresAt.Null:
		t, err := time.Parse(time.RFC3339, req.ExpiresAt.Value)
		if err != nil {
			return nil, false, badRequest("expires_at must be an RFC 3339 time", err)
		}
		if !t.After(now) {
			return nil, false, badRequest("expires_at must be in the future", nil)
		}
		t = t.UTC()
		return &t, true, nil
	case req.ExpiresInSeconds.Set && !req.ExpiresInSeconds.Null:
		if req.ExpiresInSeconds.Value <= 0 || req.ExpiresInSeconds.Value > 100*365*24*3600 {
			return nil, false, badRequest("expires_in_seconds must be positive", nil)
		}
		t := now.Add(time.Duration(req.ExpiresInSeconds.Value) * time.Second).UTC()
		return &t, true, nil
	case req.NeverExpires || req.ExpiresAt.Set && req.ExpiresAt.Null:
		return nil, true, nil
	}
	return nil, false, nil
}

func validDownload(d string) bool {
	return d == store.DownloadNone || d == store.DownloadPreview || d == store.DownloadOriginal
}

// handleShareCreate serves POST /api/shares. Expiry defaults on
// (cfg.ShareDefaultTTL); "never" must be asked for with never_expires.
func (s *Server) handleShareCreate() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req shareRequest
		if err := decodeJSON(w, r, &req); err != nil {
			return err
		}
		owner := ownerFrom(r)
		if !store.ValidID(req.AlbumID) {
			return notFound()
		}
		n := store.NewShare{AlbumID: req.AlbumID, Download: store.DownloadNone, StripLocation: true, NotifyFirst: req.NotifyFirstView}
		if len(req.MediaIDs) > 10000 {
			return badRequest("too many media_ids", nil)
		}
		for _, m := range req.MediaIDs {
			if !store.ValidID(m) {
				return notFound()
			}
		}
		n.MediaIDs = req.MediaIDs
		if req.Label.Set && !req.Label.Null {
			if err := validText(req.Label.Value, maxLabel, "label"); err != nil {
				return err
			}
			n.Label = req.Label.Value
		}
		exp, given, err := s.expiry(req)
		if err != nil {
			return err
		}
		if !given {
			t := s.now().Add(s.cfg.ShareDefaultTTL).UTC()
			exp = &t
		}
		n.ExpiresAt = exp
		for _, f := range []struct {
			o   optional[int]
			dst **int
			nm  string
		}{{req.MaxViews, &n.MaxViews, "max_views"}, {req.MaxDownloads, &n.MaxDownloads, "max_downloads"}, {req.SelectionLimit, &n.SelectionLimit, "selection_limit"}} {
			p, err := positive(f.o, f.nm)
			if err != nil {
				return err
			}
			if p != nil {
				*f.dst = *p
			}
		}
		if req.Download.Set && !req.Download.Null {
			if !validDownload(req.Download.Value) {
				return badRequest(`download must be "none", "preview" or "original"`, nil)
			}
			n.Download = req.Download.Value
		}
		if req.StripLocation.Set && !req.StripLocation.Null {
			n.StripLocation = req.StripLocation.Value
		}
		if req.Watermark.Set && !req.Watermark.Null {
			if err := validText(req.Watermark.Value, maxWatermark, "watermark"); err != nil {
				return err
			}
			n.Watermark = strings.TrimSpace(req.Watermark.Value)
		}
		if req.Password.Set && !req.Password.Null && req.Password.Value != "" {
			if err := sharePasswordOK(req.Password.Value); err != nil {
				return err
			}
			h, err := s.hashPassword(r.Context(), req.Password.Value)
			if err != nil {
				return err
			}
			n.PasswordHash = h
		}
		if err := validText(req.Message, 2000, "message"); err != nil {
			return err
		}
		if req.SendTo != "" {
			if _, err := mail.ParseAddress(req.SendTo); err != nil || strings.ContainsAny(req.SendTo, "\r\n") {
				return badRequest("send_to must be an email address", err)
			}
			if s.mailer == nil {
				return newError(http.StatusConflict, "mail_not_configured", "email is not configured (PHOTOVAULT_SMTP_HOST)", nil)
			}
		}
		token, hash := auth.NewOpaqueToken()
		n.TokenHash = hash
		sh, err := s.store.CreateShare(r.Context(), owner, n)
		if errors.Is(err, store.ErrInvalidMedia) {
			return newError(http.StatusNotFound, "not_found", "a media id is not in this album", err)
		}
		if err != nil {
			return err
		}
		s.auditReq(r, "share_created", owner, sh.ID, "download="+sh.Download)
		v := s.viewShare(sh)
		v.Token, v.URL, v.MediaIDs = token, s.cfg.BaseURL()+"/s/"+token, req.MediaIDs
		if req.SendTo != "" {
			sent := s.sendInvite(r, sh, req.SendTo, v.URL, req.Message)
			v.InviteSent = &sent
		}
		writeJSON(w, http.StatusCreated, v)
		return nil
	}
}

func sharePasswordOK(pw string) error {
	if n := utf8.RuneCountInString(pw); n < minSharePW || len(pw) > maxSharePW {
		return newError(http.StatusBadRequest, "weak_password", "share password must have 4 to 1024 characters", nil)
	}
	return nil
}

func (s *Server) shareID(r *http.Request) (string, error) {
	id := chi.URLParam(r, "id")
	if !store.ValidID(id) {
		return "", notFound()
	}
	return id, nil
}

// handleShareList serves GET /api/shares[?album_id=].
func (s *Server) handleShareList() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		album := r.URL.Query().Get("album_id")
		if album != "" && !store.ValidID(album) {
			return badRequest("invalid album_id", nil)
		}
		s.flushViews(r.Context())
		shares, err := s.store.Shares(r.Context(), ownerFrom(r), album)
		if err != nil {
			return err
		}
		items := make([]shareView, 0, len(shares))
		for _, sh := range shares {
			items = append(items, s.viewShare(sh))
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": items})
		return nil
	}
}

// handleShareGet serves GET /api/shares/{id}.
func (s *Server) handleShareGet() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := s.shareID(r)
		if err != nil {
			return err
		}
		s.flushViews(r.Context())
		sh, err := s.store.ShareByID(r.Context(), ownerFrom(r), id)
		if err != nil {
			return s.denied(r, err, id)
		}
		writeJSON(w, http.StatusOK, s.viewShare(sh))
		return nil
	}
}

// denied records an IDOR-shaped miss (a well-formed id the caller does not
// own) in the audit log and answers 404.
func (s *Server) denied(r *http.Request, err error, target string) error {
	if errors.Is(err, store.ErrNotFound) {
		s.auditReq(r, "access_denied", ownerFrom(r), target, routePattern(r))
	}
	return err
}

// handleSharePatch serves PATCH /api/shares/{id}: label, expiry, limits,
// password (null or "" removes it), download level, watermark.
func (s *Server) handleSharePatch() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := s.shareID(r)
		if err != nil {
			return err
		}
		var req shareRequest
		if err := decodeJSON(w, r, &req); err != nil {
			return err
		}
		var p store.SharePatch
		if req.Label.Set {
			if err := validText(req.Label.Value, maxLabel, "label"); err != nil {
				return err
			}
			p.Label = &req.Label.Value
		}
		exp, given, err := s.expiry(req)
		if err != nil {
			return err
		}
		if given {
			p.ExpiresAt = &exp
		}
		if p.MaxViews, err = positive(req.MaxViews, "max_views"); err != nil {
			return err
		}
		if p.MaxDownloads, err = positive(req.MaxDownloads, "max_downloads"); err != nil {
			return err
		}
		if p.SelectionLimit, err = positive(req.SelectionLimit, "selection_limit"); err != nil {
			return err
		}
		if req.Download.Set {
			if !validDownload(req.Download.Value) {
				return badRequest(`download must be "none", "preview" or "original"`, nil)
			}
			p.Download = &req.Download.Value
		}
		if req.Watermark.Set {
			if err := validText(req.Watermark.Value, maxWatermark, "watermark"); err != nil {
				return err
			}
			wm := strings.TrimSpace(req.Watermark.Value)
			p.Watermark = &wm
		}
		if req.Password.Set {
			h := ""
			if !req.Password.Null && req.Password.Value != "" {
				if err := sharePasswordOK(req.Password.Value); err != nil {
					return err
				}
				if h, err = s.hashPassword(r.Context(), req.Password.Value); err != nil {
					return err
				}
			}
			p.PasswordHash = &h
		}
		sh, err := s.store.UpdateShare(r.Context(), ownerFrom(r), id, p)
		if err != nil {
			return s.denied(r, err, id)
		}
		s.auditReq(r, "share_changed", ownerFrom(r), id, "")
		writeJSON(w, http.StatusOK, s.viewShare(sh))
		return nil
	}
}

// handleShareRevoke serves DELETE /api/shares/{id}: revoked at once; every
// public request and signed URL of the share fails from now on.
func (s *Server) handleShareRevoke() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := s.shareID(r)
		if err != nil {
			return err
		}
		if err := s.store.RevokeShare(r.Context(), ownerFrom(r), id); err != nil {
			return s.denied(r, err, id)
		}
		s.auditReq(r, "share_revoked", ownerFrom(r), id, "")
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

type dailyView struct {
	Date      string `json:"date"`
	Views     int    `json:"views"`
	Downloads int    `json:"downloads"`
}

// handleShareAnalytics serves GET /api/shares/{id}/analytics.
func (s *Server) handleShareAnalytics() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := s.shareID(r)
		if err != nil {
			return err
		}
		_ = s.flushAccessLog(r.Context())
		a, err := s.store.ShareAnalytics(r.Context(), ownerFrom(r), id, 30)
		if err != nil {
			return s.denied(r, err, id)
		}
		daily := make([]dailyView, 0, len(a.Daily))
		for _, d := range a.Daily {
			daily = append(daily, dailyView(d))
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"views": a.Views, "unique_visitors": a.UniqueVisitors, "downloads": a.Downloads, "zip_downloads": a.ZipDownloads,
			"unlock_failures": a.UnlockFailures, "selections": a.Selections, "last_access_at": rfc3339Ptr(a.LastAccessAt), "daily": daily,
		})
		return nil
	}
}

type accessView struct {
	At        string `json:"at"`
	Event     string `json:"event"`
	IPHash    string `json:"ip_hash"`
	UserAgent string `json:"user_agent"`
	MediaID   string `json:"media_id,omitempty"`
}

// handleShareAccessLog serves GET /api/shares/{id}/access-log?cursor=… (JSON)
// and /access-log.csv (every event, for spreadsheets).
func (s *Server) handleShareAccessLog(asCSV bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := s.shareID(r)
		if err != nil {
			return err
		}
		_ = s.flushAccessLog(r.Context())
		var before int64
		if c := r.URL.Query().Get("cursor"); c != "" {
			if before, err = strconv.ParseInt(c, 10, 64); err != nil || before <= 0 {
				return badRequest("invalid cursor", err)
			}
		}
		limit := 100
		if asCSV {
			limit = 1_000_000
		}
		evs, err := s.store.AccessLog(r.Context(), ownerFrom(r), id, before, limit)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			if _, err := s.store.ShareByID(r.Context(), ownerFrom(r), id); err != nil {
				return s.denied(r, err, id)
			}
		}
		if asCSV {
			rows := [][]string{{"at", "event", "ip_hash", "user_agent", "media_id"}}
			for _, e := range evs {
				rows = append(rows, []string{e.At.Format(time.RFC3339), e.Event, e.IPHash, e.UserAgent, e.MediaID})
			}
			return writeCSV(w, "access-log-"+id+".csv", rows)
		}
		items := make([]accessView, 0, len(evs))
		for _, e := range evs {
			items = append(items, accessView{At: e.At.Format(time.RFC3339), Event: e.Event, IPHash: e.IPHash, UserAgent: e.UserAgent, MediaID: e.MediaID})
		}
		next := ""
		if len(evs) == limit {
			next = strconv.FormatInt(evs[len(evs)-1].ID, 10)
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
		return nil
	}
}

type selectionView struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Email       string   `json:"email"`
	MediaIDs    []string `json:"media_ids"`
	Filenames   []string `json:"filenames"`
	Note        string   `json:"note"`
	SubmittedAt string   `json:"submitted_at"`
}

// handleShareSelections serves GET /api/shares/{id}/selections, its CSV
// export (.csv) and a Lightroom-ready filename list (.txt).
func (s *Server) handleShareSelections(format string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := s.shareID(r)
		if err != nil {
			return err
		}
		sels, err := s.store.Selections(r.Context(), ownerFrom(r), id)
		if err != nil {
			return s.denied(r, err, id)
		}
		switch format {
		case "csv":
			rows := [][]string{{"selection_id", "submitted_at", "name", "email", "note", "count", "filenames", "media_ids"}}
			for _, sel := range sels {
				rows = append(rows, []string{sel.ID, sel.SubmittedAt.Format(time.RFC3339), sel.Name, sel.Email, sel.Note,
					strconv.Itoa(len(sel.MediaIDs)), strings.Join(sel.Filenames, " "), strings.Join(sel.MediaIDs, " ")})
			}
			return writeCSV(w, "selections-"+id+".csv", rows)
		case "txt":
			// Lightroom Classic: Library filter → Text → Filename "contains"
			// accepts names separated by commas; base names without
			// extension match RAW and JPEG siblings alike.
			seen := map[string]bool{}
			var names []string
			for _, sel := range sels {
				for _, f := range sel.Filenames {
					base := f
					if i := strings.LastIndexByte(base, '.'); i > 0 {
						base = base[:i]
					}
					if !seen[base] {
						seen[base] = true
						names = append(names, base)
					}
				}
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Content-Disposition", attachment("selections-"+id+".txt"))
			_, err := w.Write([]byte(strings.Join(names, ", ") + "\n"))
			return err
		}
		items := make([]selectionView, 0, len(sels))
		for _, sel := range sels {
			items = append(items, selectionView{ID: sel.ID, Name: sel.Name, Email: sel.Email, MediaIDs: sel.MediaIDs,
				Filenames: sel.Filenames, Note: sel.Note, SubmittedAt: sel.SubmittedAt.Format(time.RFC3339)})
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": items})
		return nil
	}
}

// writeCSV answers rows as a CSV attachment. Cells that a spreadsheet would
// run as a formula (=, +, -, @) are prefixed with ' (CSV injection: client
// names and notes are attacker-controlled).
func writeCSV(w http.ResponseWriter, name string, rows [][]string) error {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	for i, row := range rows {
		if i > 0 {
			for j, c := range row {
				if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
					row[j] = "'" + c
				}
			}
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", attachment(name))
	_, err := w.Write(buf.Bytes())
	return err
}
