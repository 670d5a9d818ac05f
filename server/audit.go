package server

import (
	"net/http"
	"strconv"
	"time"
)

type auditView struct {
	ID        int64  `json:"id"`
	At        string `json:"at"`
	Event     string `json:"event"`
	Actor     string `json:"actor"`
	Target    string `json:"target"`
	IPHash    string `json:"ip_hash"`
	RequestID string `json:"request_id"`
	Detail    string `json:"detail,omitempty"`
}

// handleAuditList serves GET /api/audit?cursor=…: the caller's own audit
// events, newest first, 100 a page.
func (s *Server) handleAuditList() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var before int64
		if c := r.URL.Query().Get("cursor"); c != "" {
			n, err := strconv.ParseInt(c, 10, 64)
			if err != nil || n <= 0 {
				return badRequest("invalid cursor", err)
			}
			before = n
		}
		const page = 100
		evs, err := s.store.AuditFor(r.Context(), ownerFrom(r), before, page)
		if err != nil {
			return err
		}
		items := make([]auditView, 0, len(evs))
		for _, e := range evs {
			items = append(items, auditView{ID: e.ID, At: e.At.Format(time.RFC3339), Event: e.Type, Actor: e.Actor,
				Target: e.Target, IPHash: e.IPHash, RequestID: e.RequestID, Detail: e.Detail})
		}
		next := ""
		if len(evs) == page {
			next = strconv.FormatInt(evs[len(evs)-1].ID, 10)
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
		return nil
	}
}
