package server

import "net/http"

// instanceView is what the owner UI needs to know about this server.
type instanceView struct {
	Version   string `json:"version"`
	Mail      bool   `json:"mail"`       // SMTP is configured: links can be emailed, first views notified
	PublicURL string `json:"public_url"` // the base URL share links are built on
}

// handleInstance serves GET /api/instance: the server's version, whether
// it can send email, and the base URL of share links.
func (s *Server) handleInstance() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		writeJSON(w, http.StatusOK, instanceView{Version: s.version, Mail: s.mailer != nil, PublicURL: s.cfg.BaseURL()})
		return nil
	}
}
