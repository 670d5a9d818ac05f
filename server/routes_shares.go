package server

import (
	"github.com/go-chi/chi/v5"
)

// mountShares adds the owner's share routes (API.md "Shares"); r already
// requires an owner.
func (s *Server) mountShares(r chi.Router) {
	r.Post("/api/shares", s.h(s.handleShareCreate()))
	r.Get("/api/shares", s.h(s.handleShareList()))
	r.Get("/api/shares/{id}", s.h(s.handleShareGet()))
	r.Patch("/api/shares/{id}", s.h(s.handleSharePatch()))
	r.Delete("/api/shares/{id}", s.h(s.handleShareRevoke()))
	r.Get("/api/shares/{id}/analytics", s.h(s.handleShareAnalytics()))
	r.Get("/api/shares/{id}/access-log", s.h(s.handleShareAccessLog(false)))
	r.Get("/api/shares/{id}/access-log.csv", s.h(s.handleShareAccessLog(true)))
	r.Get("/api/shares/{id}/selections", s.h(s.handleShareSelections("json")))
	r.Get("/api/shares/{id}/selections.csv", s.h(s.handleShareSelections("csv")))
	r.Get("/api/shares/{id}/selections.txt", s.h(s.handleShareSelections("txt")))
}

// mountPublic adds the public share endpoints and the client gallery. No
// owner auth; every request is decided from the database at request time.
func (s *Server) mountPublic(r chi.Router) {
	r.Get("/api/public/shares/{token}/meta", s.h(s.handlePublicMeta()))
	r.Post("/api/public/shares/{token}/unlock", s.h(s.handlePublicUnlock()))
	r.Get("/api/public/shares/{token}/content", s.h(s.handlePublicContent()))
	r.Get("/api/public/shares/{token}/zip", s.h(s.handlePublicZip()))
	r.Head("/api/public/shares/{token}/zip", s.h(s.handlePublicZip()))
	r.Post("/api/public/shares/{token}/selections", s.h(s.handlePublicSelection()))
	r.Get("/api/public/m/{share}/{media}/{variant}", s.h(s.handlePublicMedia()))
	r.Head("/api/public/m/{share}/{media}/{variant}", s.h(s.handlePublicMedia()))
	s.mountUI(r)
}
