package server

import "github.com/go-chi/chi/v5"

// mountMedia adds the owner's album and media routes (API.md "Albums and
// media"); r already requires an owner.
func (s *Server) mountMedia(r chi.Router) {}
