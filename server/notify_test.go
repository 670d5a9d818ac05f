package server

import (
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// inbox is a real SMTP server (go-smtp) on 127.0.0.1 that keeps what it gets.
type inbox struct {
	mu   sync.Mutex
	msgs []string
	to   []string
}

func (b *inbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &inboxSession{b: b}, nil }

func (b *inbox) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b.mu.Lock()
		got := append([]string(nil), b.msgs...)
		b.mu.Unlock()
		if len(got) >= n {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("want %d emails", n)
	return nil
}

type inboxSession struct {
	b  *inbox
	to []string
}

func (s *inboxSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *inboxSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *inboxSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, string(b))
	s.b.to = append(s.b.to, s.to...)
	s.b.mu.Unlock()
	return nil
}
func (s *inboxSession) Reset()        {}
func (s *inboxSession) Logout() error { return nil }

func startInbox(t *testing.T) (*inbox, int) {
	t.Helper()
	b := &inbox{}
	return b, startSMTP(t, b)
}

// startSMTP serves backend as an SMTP server on 127.0.0.1 until the test
// ends and returns its port.
func startSMTP(t *testing.T, backend smtp.Backend) int {
	t.Helper()
	srv := smtp.NewServer(backend)
	srv.Domain = "localhost"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l) //nolint:errcheck // ends when closed
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func TestShareEmails(t *testing.T) {
	box, port := startInbox(t)
	e := newTestEnv(t, map[string]string{"PHOTOVAULT_SMTP_HOST": "127.0.0.1", "PHOTOVAULT_SMTP_PORT": strconv.Itoa(port),
		"PHOTOVAULT_SMTP_TLS": "none", "PHOTOVAULT_SMTP_FROM": "studio@example.com"})
	g := e.gallery(2)
	if resp, _ := e.do("PATCH", "/api/auth/me", map[string]any{"studio": "Lumière Studio"}, g.owner.bearer()); resp.StatusCode != 200 {
		t.Fatalf("studio %d", resp.StatusCode)
	}
	sh := e.share(g.owner, map[string]any{"album_id": g.album.ID, "send_to": "client@example.com", "message": "Enjoy <b>them</b>!",
		"notify_first_view": true, "download": "original"})
	if sh.InviteSent == nil || !*sh.InviteSent {
		t.Fatalf("invite not sent: %+v", sh)
	}
	msgs := box.wait(t, 1)
	if !strings.Contains(msgs[0], sh.Token) || !strings.Contains(msgs[0], "client@example.com") {
		t.Fatalf("invite mail lacks link or recipient:\n%s", msgs[0])
	}
	// First view and a selection notify the studio.
	_, mb := e.do("GET", pub(sh.Token, "meta"), nil, nil)
	if !strings.Contains(string(mb), "Lumière Studio") {
		t.Fatalf("studio name not on the share: %s", mb)
	}
	e.do("GET", pub(sh.Token, "content"), nil, nil)
	e.do("GET", pub(sh.Token, "content"), nil, nil) // second view: no second notice
	if resp, b := e.do("POST", pub(sh.Token, "selections"), map[string]any{"name": "Ada <script>", "email": "ada@example.com",
		"media_ids": []string{g.photos[0].ID}, "note": "love it"}, nil); resp.StatusCode != 201 {
		t.Fatalf("selection %d %s", resp.StatusCode, b)
	}
	msgs = box.wait(t, 3)
	time.Sleep(200 * time.Millisecond)
	box.mu.Lock()
	total := len(box.msgs)
	box.mu.Unlock()
	if total != 3 {
		t.Fatalf("want invite + first view + selection = 3 emails, got %d", total)
	}
	all := strings.Join(msgs, "\n")
	if !strings.Contains(all, "Ada &lt;script&gt;") {
		t.Fatal("client name not escaped in the HTML part of the email")
	}
	if strings.Contains(e.logs.String(), sh.Token) {
		t.Fatal("token in logs")
	}
	// Without SMTP, send_to is refused clearly.
	e2 := newTestEnv(t, nil)
	g2 := e2.gallery(1)
	resp, b := e2.do("POST", "/api/shares", map[string]any{"album_id": g2.album.ID, "send_to": "x@example.com"}, g2.owner.bearer())
	if resp.StatusCode != 409 || !strings.Contains(string(b), "mail_not_configured") {
		t.Fatalf("send_to without SMTP: %d %s", resp.StatusCode, b)
	}
}
