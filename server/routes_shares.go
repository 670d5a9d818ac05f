package server

import "github.com/go-chi/chi/v5"

// mountShares adds the owner's share routes (API.md "Shares"); r already
// requires an owner.
func (s *Server) mountShares(r chi.Router) {}

// mountPublic adds the public share endpoints and the client gallery.
func (s *Server) mountPublic(r chi.Router) {}
