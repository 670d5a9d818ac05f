package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/photovault/photovault/store"
)

// Album text limits (characters).
const (
	maxAlbumTitle       = 200
	maxAlbumDescription = 5000
)

// albumView is an album as the owner API shows it (API.md). CoverMediaID is
// null for an empty album.
type albumView struct {
	ID           string  `json:"id"`
	Title        string  `json:"title"`
	Description  string  `json:"description"`
	MediaCount   int     `json:"media_count"`
	CoverMediaID *string `json:"cover_media_id"`
	CreatedAt    string  `json:"created_at"`
	UpdatedAt    string  `json:"updated_at"`
}

// albumDetailView is GET /api/albums/{id}: the album and its media in album
// order.
type albumDetailView struct {
	albumView
	Media []mediaView `json:"media"`
}

func newAlbumView(a store.Album) albumView {
	v := albumView{ID: a.ID, Title: a.Title, Description: a.Description, MediaCount: a.MediaCount,
		CreatedAt: mediaTime(a.CreatedAt), UpdatedAt: mediaTime(a.UpdatedAt)}
	if a.CoverMediaID != "" {
		c := a.CoverMediaID
		v.CoverMediaID = &c
	}
	return v
}

// albumTitle validates a title: trimmed, 1–200 characters, no control
// characters.
func albumTitle(s string) (string, error) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	if n == 0 || n > maxAlbumTitle {
		return "", badRequest("title must be 1 to 200 characters", nil)
	}
	if !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", badRequest("title must not contain control characters", nil)
	}
	return s, nil
}

// albumDescription validates a description: up to 5000 characters; line
// breaks and tabs are the only control characters allowed.
func albumDescription(s string) (string, error) {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxAlbumDescription {
		return "", badRequest("description must be at most 5000 characters", nil)
	}
	bad := func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' }
	if !utf8.ValidString(s) || strings.IndexFunc(s, bad) >= 0 {
		return "", badRequest("description must not contain control characters", nil)
	}
	return s, nil
}

// ownedAlbum loads the album named by {id} for the calling owner; another
// owner's album answers 404 like one that does not exist.
func (s *Server) ownedAlbum(r *http.Request) (store.Album, error) {
	id := chi.URLParam(r, "id")
	if !store.ValidID(id) {
		return store.Album{}, notFound()
	}
	a, err := s.store.Album(r.Context(), ownerFrom(r), id)
	if errors.Is(err, store.ErrNotFound) {
		s.auditIDOR(r, "album", id)
	}
	return a, err
}

// handleAlbumList serves GET /api/albums: the caller's albums only.
func (s *Server) handleAlbumList() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		list, err := s.store.Albums(r.Context(), ownerFrom(r))
		if err != nil {
			return err
		}
		items := make([]albumView, 0, len(list))
		for _, a := range list {
			items = append(items, newAlbumView(a))
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": items})
		return nil
	}
}

type albumCreateRequest struct {
	Title       string `json:"title"`
	Description string `json:"description"`
}

// handleAlbumCreate serves POST /api/albums.
func (s *Server) handleAlbumCreate() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req albumCreateRequest
		if err := decodeJSON(w, r, &req); err != nil {
			return err
		}
		title, err := albumTitle(req.Title)
		if err != nil {
			return err
		}
		desc, err := albumDescription(req.Description)
		if err != nil {
			return err
		}
		a, err := s.store.CreateAlbum(r.Context(), ownerFrom(r), title, desc)
		if err != nil {
			return err
		}
		s.auditReq(r, "album_created", ownerFrom(r), a.ID, "")
		writeJSON(w, http.StatusCreated, newAlbumView(a))
		return nil
	}
}

// handleAlbumGet serves GET /api/albums/{id}: the album with its media.
func (s *Server) handleAlbumGet() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := s.ownedAlbum(r)
		if err != nil {
			return err
		}
		media, err := s.store.AlbumMedia(r.Context(), ownerFrom(r), a.ID)
		if err != nil {
			return err
		}
		v := albumDetailView{albumView: newAlbumView(a), Media: make([]mediaView, 0, len(media))}
		for _, m := range media {
			v.Media = append(v.Media, newMediaView(s.openMeta(m)))
		}
		writeJSON(w, http.StatusOK, v)
		return nil
	}
}

// albumPatchRequest: absent fields stay as they are. cover_media_id may be
// a media id of this album, or null / "" to fall back to the first photo.
type albumPatchRequest struct {
	Title        *string         `json:"title"`
	Description  *string         `json:"description"`
	CoverMediaID json.RawMessage `json:"cover_media_id"`
}

// handleAlbumPatch serves PATCH /api/albums/{id}.
func (s *Server) handleAlbumPatch() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := s.ownedAlbum(r)
		if err != nil {
			return err
		}
		var req albumPatchRequest
		if err := decodeJSON(w, r, &req); err != nil {
			return err
		}
		var u store.AlbumUpdate
		if req.Title != nil {
			t, err := albumTitle(*req.Title)
			if err != nil {
				return err
			}
			u.Title = &t
		}
		if req.Description != nil {
			d, err := albumDescription(*req.Description)
			if err != nil {
				return err
			}
			u.Description = &d
		}
		if req.CoverMediaID != nil {
			cover := ""
			if string(req.CoverMediaID) != "null" {
				if err := json.Unmarshal(req.CoverMediaID, &cover); err != nil {
					return badRequest("cover_media_id must be a media id or null", err)
				}
				if cover != "" && !store.ValidID(cover) {
					return badRequest("cover_media_id is not a media item of this album", nil)
				}
			}
			u.CoverMediaID = &cover
		}
		updated, err := s.store.UpdateAlbum(r.Context(), ownerFrom(r), a.ID, u)
		if errors.Is(err, store.ErrInvalidCover) {
			return badRequest("cover_media_id is not a media item of this album", err)
		}
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, newAlbumView(updated))
		return nil
	}
}

// handleAlbumDelete serves DELETE /api/albums/{id}: the album, its media and
// its shares go at once (shares stop working on the next request); the
// files follow after the collector's grace period.
func (s *Server) handleAlbumDelete() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := s.ownedAlbum(r)
		if err != nil {
			return err
		}
		if err := s.store.DeleteAlbum(r.Context(), ownerFrom(r), a.ID); err != nil {
			return err
		}
		s.auditReq(r, "album_deleted", ownerFrom(r), a.ID, "")
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
