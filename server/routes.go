package server

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// routes is the one route table. Middleware order (STYLE.md): request id →
// request logger → recover → access line → security headers → host check →
// client IP → general rate limit.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.StripSlashes) // /health/ answers like /health
	r.Use(withRequestID, s.withLogger, s.recoverPanic, s.accessLog, s.securityHeaders,
		s.hostCheck, s.clientIP, s.rateLimit)

	r.NotFound(s.h(func(w http.ResponseWriter, r *http.Request) error { return notFound() }))
	r.MethodNotAllowed(s.h(func(w http.ResponseWriter, r *http.Request) error {
		return newError(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed", nil)
	}))

	r.Get("/health", s.h(s.handleHealth()))
	r.Head("/health", s.h(s.handleHealth()))
	r.Get("/metrics", s.h(s.handleMetrics()))

	// Owner authentication (API.md).
	r.Get("/api/auth/setup", s.h(s.handleSetupStatus()))
	r.Post("/api/auth/setup", s.h(s.handleSetup()))
	r.Post("/api/auth/login", s.h(s.handleLogin()))
	r.Post("/api/auth/refresh", s.h(s.handleRefresh()))

	s.mountPublic(r)

	// Everything below needs an owner.
	r.Group(func(r chi.Router) {
		r.Use(s.requireOwner)
		r.Post("/api/auth/logout", s.h(s.handleLogout()))
		r.Get("/api/auth/me", s.h(s.handleMe()))
		r.Patch("/api/auth/me", s.h(s.handleMeUpdate()))
		r.Post("/api/auth/password", s.h(s.handlePassword()))
		r.Get("/api/instance", s.h(s.handleInstance()))
		r.Get("/api/audit", s.h(s.handleAuditList()))
		s.mountMedia(r)
		s.mountShares(r)
	})
	return r
}
