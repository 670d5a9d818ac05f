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
	return r
}
