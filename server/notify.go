package server

import (
	"github.com/photovault/photovault/store"
)

// mailSender sends mail (server/mail); nil when SMTP is off.
type mailSender interface{}

// sendInvite emails a new share link to a client (mail wiring lands with
// server/mail).
func (s *Server) sendInvite(r any, sh store.Share, to, url, note string) {}

// notifyFirstView tells the studio a link was opened for the first time.
func (s *Server) notifyFirstView(sh store.Share) {}

// notifySelection tells the studio a client submitted a selection.
func (s *Server) notifySelection(sh store.Share, sel store.Selection) {}
