package server

import (
	"context"
	"net/http"
	"time"

	"github.com/photovault/photovault/server/mail"
	"github.com/photovault/photovault/store"
)

// mailSender is what the server needs of server/mail; nil when SMTP is off.
type mailSender interface {
	Send(ctx context.Context, msg mail.Message) error
}

const mailTimeout = 20 * time.Second

// initMail builds the mailer when PHOTOVAULT_SMTP_HOST is set.
func (s *Server) initMail() error {
	c := s.cfg.SMTP
	if c.Host == "" {
		return nil
	}
	m, err := mail.New(mail.Config{Host: c.Host, Port: c.Port, Username: c.Username, Password: c.Password, From: c.From,
		TLS: c.TLS, Timeout: mailTimeout})
	if err != nil {
		return err
	}
	s.mailer = m
	s.flushers = append(s.flushers, func(ctx context.Context) {
		done := make(chan struct{})
		go func() { s.mailWG.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
		}
	})
	return nil
}

// sendInvite emails a new share link to a client, synchronously, so the
// owner learns whether it went out. The link (with its token) is only ever
// in the email body, never in a log line.
func (s *Server) sendInvite(r *http.Request, sh store.Share, to, url, note string) bool {
	msg := mail.ShareInvite(sh.Studio, sh.AlbumTitle, url, note, sh.ExpiresAt)
	msg.To = to
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), mailTimeout)
	defer cancel()
	if err := s.mailer.Send(ctx, msg); err != nil {
		zlog(r).Warn().Err(err).Str("share_id", sh.ID).Msg("invite email failed")
		return false
	}
	s.auditReq(r, "share_sent", sh.OwnerID, sh.ID, "")
	return true
}

// sendAsync sends a studio notification in the background (a slow SMTP
// server never delays a client); Stop waits for it.
func (s *Server) sendAsync(msg mail.Message, what string) {
	if s.mailer == nil {
		return
	}
	msg.To = s.cfg.SMTP.From // notifications go to the studio's own address
	s.mailWG.Add(1)
	go func() {
		defer s.mailWG.Done()
		ctx, cancel := context.WithTimeout(context.Background(), mailTimeout)
		defer cancel()
		if err := s.mailer.Send(ctx, msg); err != nil {
			s.log.Warn().Err(err).Str("notification", what).Msg("notification email failed")
		}
	}()
}

// notifyFirstView tells the studio a link was opened for the first time.
func (s *Server) notifyFirstView(sh store.Share) {
	s.sendAsync(mail.FirstView(sh.AlbumTitle, sh.Label, s.now()), "first_view")
}

// notifySelection tells the studio a client submitted a selection.
func (s *Server) notifySelection(sh store.Share, sel store.Selection) {
	s.sendAsync(mail.SelectionSubmitted(sh.AlbumTitle, sel.Name, sel.Email, len(sel.MediaIDs), sel.Note), "selection")
}
