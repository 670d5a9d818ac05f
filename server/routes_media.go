package server

import "github.com/go-chi/chi/v5"

// mountMedia adds the owner's album and media routes (API.md "Albums and
// media"); r already requires an owner.
func (s *Server) mountMedia(r chi.Router) {
	r.Get("/api/albums", s.h(s.handleAlbumList()))
	r.Post("/api/albums", s.h(s.handleAlbumCreate()))
	r.Get("/api/albums/{id}", s.h(s.handleAlbumGet()))
	r.Patch("/api/albums/{id}", s.h(s.handleAlbumPatch()))
	r.Delete("/api/albums/{id}", s.h(s.handleAlbumDelete()))
	r.Post("/api/albums/{id}/media", s.h(s.handleUpload()))

	r.Post("/api/media/lookup", s.h(s.handleMediaLookup()))
	r.Get("/api/media/{id}", s.h(s.handleMediaGet()))
	r.Delete("/api/media/{id}", s.h(s.handleMediaDelete()))
	r.Get("/api/media/{id}/original", s.h(s.handleMediaOriginal()))
	r.Get("/api/media/{id}/thumb", s.h(s.handleMediaDerivative("thumb")))
	r.Get("/api/media/{id}/preview", s.h(s.handleMediaDerivative("preview")))
}
