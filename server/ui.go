package server

import (
	"bytes"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	webui "github.com/photovault/photovault/embed"
)

// page is a pre-read HTML page of the embedded UI.
type page struct {
	body []byte
	etag string
}

// mountUI serves the owner app at /, the client gallery shell at /s/{token}
// and the content-hashed assets under /assets/ (cached forever).
func (s *Server) mountUI(r chi.Router) {
	ui := webui.FS()
	read := func(name string) page {
		b, err := fs.ReadFile(ui, name)
		if err != nil {
			s.log.Error().Err(err).Str("file", name).Msg("embedded UI file missing")
		}
		return page{body: b, etag: `"` + shortHash(b) + `"`}
	}
	index, gallery := read("index.html"), read("gallery.html")
	r.Get("/", s.servePage(index))
	r.Get("/s/{token}", s.h(s.handleGalleryPage(gallery)))
	assets := http.FileServerFS(ui)
	r.Get("/assets/*", func(w http.ResponseWriter, r *http.Request) {
		if ext := path.Ext(r.URL.Path); ext == ".webmanifest" {
			w.Header().Set("Content-Type", "application/manifest+json")
		} else if ct := mime.TypeByExtension(ext); ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		if strings.HasSuffix(r.URL.Path, "/") {
			s.writeError(w, r, notFound())
			return
		}
		assets.ServeHTTP(w, r)
	})
}

func (s *Server) servePage(p page) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writePage(w, r, p, http.StatusOK)
	}
}

func writePage(w http.ResponseWriter, r *http.Request, p page, status int) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Cache-Control", "no-store")
	if status == http.StatusOK {
		h.Set("ETag", p.etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(p.body))
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(p.body)
}

// handleGalleryPage serves GET /s/{token}: the same static shell for every
// link (no user text is rendered server-side, so nothing can be injected into
// it or its meta tags), with the status telling bots and link previews
// whether the link exists. It never counts a view.
func (s *Server) handleGalleryPage(p page) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		status := http.StatusOK
		sh, err := s.shareFromToken(r)
		switch {
		case err != nil:
			status = http.StatusNotFound
		case sh.Status(s.now()) != "active":
			status = http.StatusGone
		default:
			s.record(r, sh.ID, "page", "")
		}
		writePage(w, r, p, status)
		return nil
	}
}
