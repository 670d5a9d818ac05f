package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"
)

type healthBody struct {
	Status    string            `json:"status"`
	Checks    map[string]string `json:"checks"`
	Timestamp string            `json:"timestamp"`
	Version   string            `json:"version,omitempty"`
}

// handleHealth serves GET /health: database, storage and kv each checked for
// real; 503 naming the failing check. Errors are summarised, never detailed
// (no paths or SQL in responses).
func (s *Server) handleHealth() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		checks := map[string]string{"database": "ok", "storage": "ok", "kv": "ok"}
		healthy := true
		fail := func(name string, err error) {
			healthy = false
			checks[name] = "error"
			s.log.Warn().Err(err).Str("check", name).Msg("health check failed")
		}
		if err := s.store.Ping(ctx); err != nil {
			fail("database", err)
		}
		if err := storageWritable(s.cfg.TmpDir()); err != nil {
			fail("storage", err)
		}
		if s.kv == nil {
			fail("kv", fmt.Errorf("kv not open"))
		} else if err := s.kv.Ping(); err != nil {
			fail("kv", err)
		}
		body := healthBody{Status: "healthy", Checks: checks, Timestamp: s.now().UTC().Format(time.RFC3339), Version: s.version}
		status := http.StatusOK
		if !healthy {
			body.Status, status = "unhealthy", http.StatusServiceUnavailable
		}
		writeJSON(w, status, body)
		return nil
	}
}

// storageWritable proves the data directory accepts writes and fsyncs.
func storageWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".health-*")
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	name := f.Name()
	_, werr := f.Write([]byte("ok"))
	serr := f.Sync()
	cerr := f.Close()
	rerr := os.Remove(name)
	for _, e := range []error{werr, serr, cerr, rerr} {
		if e != nil {
			return fmt.Errorf("health: %w", e)
		}
	}
	return nil
}
