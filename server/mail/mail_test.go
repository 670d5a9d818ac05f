package mail

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"strings"
	"testing"
	"time"
)

const (
	testUser = "studio@example.com"
	testPass = "correct-horse-battery-staple-42"
	hostile  = `<script>alert(1)</script>`
)

// parsed is a received message decoded for assertions.
type parsed struct {
	header  netmail.Header
	subject string
	text    string
	html    string
}

func parseMessage(t *testing.T, raw []byte) parsed {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse message: %v\n%s", err, raw)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("subject: %v", err)
	}
	p := parsed{header: m.Header, subject: subject}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("content type: %v", err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		body := decodeBody(t, m.Header.Get("Content-Transfer-Encoding"), m.Body)
		if mt == "text/html" {
			p.html = body
		} else {
			p.text = body
		}
		return p
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable itself
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		body := decodeBody(t, part.Header.Get("Content-Transfer-Encoding"), part)
		switch ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type")); ct {
		case "text/plain":
			p.text = body
		case "text/html":
			p.html = body
		}
	}
	return p
}

func decodeBody(t *testing.T, cte string, r io.Reader) string {
	t.Helper()
	if strings.EqualFold(cte, "base64") {
		r = base64.NewDecoder(base64.StdEncoding, r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

func newTestMailer(t *testing.T, c Config, ca *testCA) *Mailer {
	t.Helper()
	m, err := New(c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if ca != nil {
		m.tlsConfig.RootCAs = ca.pool
	}
	return m
}

func plainConfig(port int) Config {
	return Config{
		Host: "127.0.0.1", Port: port, Username: testUser, Password: testPass,
		From: "PhotoVault <vault@example.com>", TLS: "none", Timeout: 5 * time.Second,
	}
}

func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	for e := err; e != nil; e = errors.Unwrap(e) {
		s := e.Error()
		for _, secret := range []string{
			testPass,
			base64.StdEncoding.EncodeToString([]byte("\x00" + testUser + "\x00" + testPass)),
			base64.StdEncoding.EncodeToString([]byte(testPass)),
		} {
			if strings.Contains(s, secret) {
				t.Fatalf("error text contains the password: %q", s)
			}
		}
	}
}

// TestSendTemplates sends every template through a real SMTP server with
// hostile user text and checks what arrives.
func TestSendTemplates(t *testing.T) {
	b := &backend{user: testUser, pass: testPass}
	port := startServer(t, b, plainServer, nil)
	m := newTestMailer(t, plainConfig(port), nil)

	expires := time.Date(2026, 12, 24, 18, 0, 0, 0, time.UTC)
	evilTitle := hostile + "\r\nBcc: victim@example.org"
	cases := []struct {
		name        string
		msg         Message
		wantSubject string
		wantText    []string
		wantHTML    []string
		wantReplyTo string
	}{
		{
			name:        "share invite",
			msg:         ShareInvite("Studio Lumen", evilTitle, "https://photos.example.com/s/abc123", "Hi Anna,\n<img src=x onerror=alert(2)>", &expires),
			wantSubject: `Studio Lumen shared "` + hostile + ` Bcc: victim@example.org" with you`,
			wantText: []string{
				"Studio Lumen has shared the album \"" + hostile, "https://photos.example.com/s/abc123",
				"<img src=x onerror=alert(2)>", "Thursday, 24 December 2026 at 18:00 UTC",
			},
			wantHTML: []string{
				"&lt;script&gt;alert(1)&lt;/script&gt;", `href="https://photos.example.com/s/abc123"`,
				"&lt;img src=x onerror=alert(2)&gt;", "Thursday, 24 December 2026 at 18:00 UTC",
			},
		},
		{
			name:        "selection submitted",
			msg:         SelectionSubmitted(evilTitle, "Anna <b>B</b>", "anna@example.net", 12, "Nr. 4 & 7 please\n</p><a href=//evil>"),
			wantSubject: `Anna <b>B</b> selected 12 photos in "` + hostile + ` Bcc: victim@example.org"`,
			wantText:    []string{"Anna <b>B</b> <anna@example.net> selected 12 photos", "Nr. 4 & 7 please"},
			wantHTML: []string{
				"&lt;script&gt;alert(1)&lt;/script&gt;", "Anna &lt;b&gt;B&lt;/b&gt;",
				"Nr. 4 &amp; 7 please", "&lt;/p&gt;&lt;a href=//evil&gt;", `href="mailto:anna@example.net"`,
			},
			wantReplyTo: "<anna@example.net>",
		},
		{
			name:        "first view",
			msg:         FirstView(evilTitle, "Family", time.Date(2026, 3, 1, 9, 5, 0, 0, time.FixedZone("X", 3600))),
			wantSubject: `Your share "Family" of "` + hostile + ` Bcc: victim@example.org" was opened for the first time`,
			wantText:    []string{`Your share link "Family" for the album "` + hostile, "Sunday, 1 March 2026 at 08:05 UTC"},
			wantHTML:    []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "<strong>Family</strong>", "Sunday, 1 March 2026 at 08:05 UTC"},
		},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.msg.To = "Client Person <client@example.org>"
			if err := m.Send(context.Background(), tc.msg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			msgs := b.messages()
			if len(msgs) != i+1 {
				t.Fatalf("server has %d messages, want %d", len(msgs), i+1)
			}
			got := msgs[i]
			if got.from != "vault@example.com" || len(got.rcpts) != 1 || got.rcpts[0] != "client@example.org" {
				t.Errorf("envelope from %q to %v", got.from, got.rcpts)
			}
			if got.user != testUser {
				t.Errorf("authenticated as %q", got.user)
			}
			p := parseMessage(t, got.data)
			if p.subject != tc.wantSubject {
				t.Errorf("subject %q, want %q", p.subject, tc.wantSubject)
			}
			if to := p.header.Get("To"); !strings.Contains(to, "<client@example.org>") {
				t.Errorf("To header %q", to)
			}
			head, _, _ := bytes.Cut(got.data, []byte("\r\n\r\n"))
			if p.header.Get("Bcc") != "" || bytes.Contains(head, []byte("\nBcc:")) {
				t.Error("a Bcc header was injected")
			}
			if strings.Contains(p.text, "\nBcc:") {
				t.Error("a single-line field kept its line break in the body")
			}
			if p.header.Get("Auto-Submitted") != "auto-generated" || !strings.HasSuffix(p.header.Get("Message-Id"), "@example.com>") ||
				p.header.Get("X-Mailer") != "" || p.header.Get("Date") == "" {
				t.Errorf("headers: %v", p.header)
			}
			if got := p.header.Get("Reply-To"); got != tc.wantReplyTo {
				t.Errorf("Reply-To %q, want %q", got, tc.wantReplyTo)
			}
			for _, s := range tc.wantText {
				if !strings.Contains(p.text, s) {
					t.Errorf("text part lacks %q:\n%s", s, p.text)
				}
			}
			for _, s := range tc.wantHTML {
				if !strings.Contains(p.html, s) {
					t.Errorf("HTML part lacks %q:\n%s", s, p.html)
				}
			}
			for _, bad := range []string{"<script>", "<img src=x", "<b>B</b>", "<a href=//evil>"} {
				if strings.Contains(p.html, bad) {
					t.Errorf("HTML part contains unescaped %q", bad)
				}
			}
		})
	}
}

func TestTemplatesEscapeAndNeutralise(t *testing.T) {
	msg := ShareInvite("", "Album", "javascript:alert(document.cookie)", "", nil)
	if strings.Contains(msg.HTML, `href="javascript:`) || !strings.Contains(msg.HTML, `href="#ZgotmplZ"`) {
		t.Errorf("javascript: URL reached an href:\n%s", msg.HTML)
	}
	if !strings.Contains(msg.Text, "An album has been shared with you") || strings.Contains(msg.Text, "expires") {
		t.Errorf("text without studio/expiry:\n%s", msg.Text)
	}
	if msg.Subject != `Photos shared with you: "Album"` {
		t.Errorf("subject %q", msg.Subject)
	}

	for _, email := range []string{"anna@example.net\r\nBcc: x@example.org", "not an address", "a@b.c, d@e.f", ""} {
		if m := SelectionSubmitted("A", "Anna", email, 1, ""); m.ReplyTo != "" || strings.Contains(m.Text, "Bcc") {
			t.Errorf("client email %q became Reply-To %q", email, m.ReplyTo)
		}
	}
	if m := SelectionSubmitted("A", "", "Anna <anna@example.net>", 1, ""); m.ReplyTo != "anna@example.net" ||
		!strings.Contains(m.Subject, "A client selected 1 photo in") {
		t.Errorf("Reply-To %q subject %q", m.ReplyTo, m.Subject)
	}

	long := strings.Repeat("ü", 500)
	if s := FirstView(long, "", time.Now()).Subject; len([]rune(s)) != maxSubjectRunes || !strings.HasSuffix(s, "…") {
		t.Errorf("long subject has %d runes", len([]rune(s)))
	}
	for _, s := range []string{"a\rb", "a\nb", "a\u2028b", "a\x00b", "a\u0085b", "  a \t\n b  "} {
		if got := subjectLine(s); got != "a b" {
			t.Errorf("subjectLine(%q) = %q", s, got)
		}
	}
}

func TestHeaderInjectionRejected(t *testing.T) {
	b := &backend{user: testUser, pass: testPass}
	port := startServer(t, b, plainServer, nil)
	m := newTestMailer(t, plainConfig(port), nil)
	base := Message{To: "client@example.org", Subject: "Hello", Text: "body"}
	cases := map[string]func(*Message){
		"To with CRLF":      func(m *Message) { m.To = "client@example.org\r\nBcc: victim@example.org" },
		"To with LF":        func(m *Message) { m.To = "client@example.org\nBcc: victim@example.org" },
		"Subject with CRLF": func(m *Message) { m.Subject = "Hi\r\nBcc: victim@example.org" },
		"Subject with CR":   func(m *Message) { m.Subject = "Hi\rX-Evil: 1" },
		"ReplyTo with CRLF": func(m *Message) { m.ReplyTo = "a@example.org\r\nBcc: victim@example.org" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			msg := base
			mutate(&msg)
			if err := m.Send(context.Background(), msg); !errors.Is(err, ErrHeaderInjection) {
				t.Fatalf("Send = %v, want ErrHeaderInjection", err)
			}
		})
	}
	for name, msg := range map[string]Message{
		"no recipient":   {Subject: "x", Text: "y"},
		"two recipients": {To: "a@example.org, b@example.org", Subject: "x", Text: "y"},
		"bad recipient":  {To: "not an address", Subject: "x", Text: "y"},
		"empty body":     {To: "a@example.org", Subject: "x"},
		"bad reply-to":   {To: "a@example.org", Subject: "x", Text: "y", ReplyTo: "nope"},
	} {
		if err := m.Send(context.Background(), msg); !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("%s: Send = %v, want ErrInvalidMessage", name, err)
		}
	}
	if n := len(b.messages()); n != 0 || b.attempts() != 0 {
		t.Errorf("rejected messages reached the server: %d messages, %d logins", n, b.attempts())
	}
}

func TestWrongPasswordDoesNotLeak(t *testing.T) {
	// The server echoes the credentials it received in its 535 answer.
	b := &backend{user: testUser, pass: "the-real-one", echoSecrets: true}
	port := startServer(t, b, plainServer, nil)
	m := newTestMailer(t, plainConfig(port), nil)
	err := m.Send(context.Background(), Message{To: "a@example.org", Subject: "x", Text: "y"})
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("Send = %v, want ErrAuth", err)
	}
	if b.attempts() != 1 {
		t.Errorf("server saw %d login attempts", b.attempts())
	}
	assertNoSecret(t, err)
	if !strings.Contains(err.Error(), "[REDACTED]") {
		t.Errorf("expected the echoed password to be redacted: %v", err)
	}
	if len(b.messages()) != 0 {
		t.Error("message accepted despite failed login")
	}

	// A server that does not echo: the error is still ErrAuth, chain intact.
	b2 := &backend{user: testUser, pass: "the-real-one"}
	m2 := newTestMailer(t, plainConfig(startServer(t, b2, plainServer, nil)), nil)
	err = m2.Send(context.Background(), Message{To: "a@example.org", Subject: "x", Text: "y"})
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "535") {
		t.Fatalf("Send = %v, want ErrAuth with the server's 535", err)
	}
	assertNoSecret(t, err)
}

func TestStartTLS(t *testing.T) {
	ca := newTestCA(t)
	b := &backend{user: testUser, pass: testPass}
	port := startServer(t, b, startTLSServer, &ca)
	c := plainConfig(port)
	c.TLS = "starttls"
	m := newTestMailer(t, c, &ca)
	if err := m.Send(context.Background(), FirstViewTo("owner@example.com")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := b.messages()
	if len(msgs) != 1 || !msgs[0].tls || msgs[0].user != testUser {
		t.Fatalf("messages: %+v", msgs)
	}
}

func TestImplicitTLS(t *testing.T) {
	ca := newTestCA(t)
	b := &backend{user: testUser, pass: testPass}
	port := startServer(t, b, implicitServer, &ca)
	c := plainConfig(port)
	c.TLS = "tls"
	m := newTestMailer(t, c, &ca)
	if err := m.Send(context.Background(), FirstViewTo("owner@example.com")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if msgs := b.messages(); len(msgs) != 1 || !msgs[0].tls {
		t.Fatalf("messages: %+v", msgs)
	}
}

// TestStartTLSNotDowngraded: with "starttls", a server that does not offer
// STARTTLS (or an attacker who stripped it) never sees the credentials.
func TestStartTLSNotDowngraded(t *testing.T) {
	b := &backend{user: testUser, pass: testPass}
	port := startServer(t, b, plainServer, nil)
	c := plainConfig(port)
	c.TLS = "starttls"
	m := newTestMailer(t, c, nil)
	err := m.Send(context.Background(), FirstViewTo("owner@example.com"))
	if err == nil || !errors.Is(err, ErrSend) {
		t.Fatalf("Send = %v, want ErrSend", err)
	}
	assertNoSecret(t, err)
	if b.attempts() != 0 || len(b.messages()) != 0 {
		t.Errorf("credentials or message sent without TLS: %d logins, %d messages", b.attempts(), len(b.messages()))
	}
}

// TestUntrustedCertificateRejected: a server with a certificate we do not
// trust gets neither the credentials nor the message.
func TestUntrustedCertificateRejected(t *testing.T) {
	for _, mode := range []struct {
		name string
		tls  string
		sm   serverMode
	}{{"starttls", "starttls", startTLSServer}, {"tls", "tls", implicitServer}} {
		t.Run(mode.name, func(t *testing.T) {
			ca := newTestCA(t)
			b := &backend{user: testUser, pass: testPass}
			port := startServer(t, b, mode.sm, &ca)
			c := plainConfig(port)
			c.TLS = mode.tls
			m := newTestMailer(t, c, nil) // system roots only
			err := m.Send(context.Background(), FirstViewTo("owner@example.com"))
			if err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("Send = %v, want a certificate error", err)
			}
			if b.attempts() != 0 || len(b.messages()) != 0 {
				t.Error("credentials or message reached an untrusted server")
			}
		})
	}
}

func TestSendHonoursContext(t *testing.T) {
	b := &backend{user: testUser, pass: testPass}
	m := newTestMailer(t, plainConfig(startServer(t, b, plainServer, nil)), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Send(ctx, FirstViewTo("owner@example.com")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send with cancelled context = %v", err)
	}
	if len(b.messages()) != 0 {
		t.Error("message sent despite cancelled context")
	}
}

func TestNoAuthRelay(t *testing.T) {
	b := &backend{} // accepts mail without login
	c := plainConfig(startServer(t, b, plainServer, nil))
	c.Username, c.Password = "", ""
	m := newTestMailer(t, c, nil)
	if err := m.Send(context.Background(), Message{To: "a@example.org", Subject: "Only HTML", HTML: "<p>hi</p>"}); err != nil {
		t.Fatal(err)
	}
	msgs := b.messages()
	if len(msgs) != 1 || b.attempts() != 0 {
		t.Fatalf("%d messages, %d logins", len(msgs), b.attempts())
	}
	if p := parseMessage(t, msgs[0].data); !strings.Contains(p.html, "<p>hi</p>") || p.text != "" {
		t.Errorf("HTML-only body: %+v", p)
	}
}

func TestConfig(t *testing.T) {
	if (Config{}).Enabled() || (Config{Host: "  "}).Enabled() || !(Config{Host: "smtp.example.com"}).Enabled() {
		t.Error("Enabled")
	}
	if _, err := New(Config{}); !errors.Is(err, ErrDisabled) {
		t.Errorf("New(empty) = %v, want ErrDisabled", err)
	}
	good := Config{Host: "smtp.example.com", Username: "u", Password: testPass, From: "a@example.com"}
	ports := map[string]int{"": 587, "starttls": 587, "STARTTLS": 587, "tls": 465}
	for mode, want := range ports {
		c := good
		c.TLS = mode
		m, err := New(c)
		if err != nil || m.port != want || m.timeout != DefaultTimeout {
			t.Errorf("TLS %q: %v, port %d", mode, err, m.port)
		}
	}
	localNone := Config{Host: "localhost", TLS: "none", Username: "u", Password: "p", From: "a@example.com"}
	if m, err := New(localNone); err != nil || m.port != 25 {
		t.Errorf("none to localhost with credentials: %v", err)
	}
	bad := map[string]func(*Config){
		"unknown TLS mode":               func(c *Config) { c.TLS = "ssl3" },
		"port too large":                 func(c *Config) { c.Port = 70000 },
		"negative port":                  func(c *Config) { c.Port = -1 },
		"bad from":                       func(c *Config) { c.From = "nobody" },
		"from with CRLF":                 func(c *Config) { c.From = "a@example.com\r\nBcc: x@example.org" },
		"password without username":      func(c *Config) { c.Username = "" },
		"cleartext credentials remotely": func(c *Config) { c.TLS = "none" },
		"host with spaces":               func(c *Config) { c.Host = "smtp.example.com evil" },
		"negative timeout":               func(c *Config) { c.Timeout = -time.Second },
	}
	for name, mutate := range bad {
		c := good
		mutate(&c)
		_, err := New(c)
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%s: New = %v, want ErrConfig", name, err)
		}
		if err != nil && strings.Contains(err.Error(), testPass) {
			t.Errorf("%s: error contains the password", name)
		}
	}
}

// FirstViewTo is a ready-to-send message for transport tests.
func FirstViewTo(to string) Message {
	m := FirstView("Album", "Link", time.Now())
	m.To = to
	return m
}

func TestConcurrentSends(t *testing.T) {
	b := &backend{user: testUser, pass: testPass}
	m := newTestMailer(t, plainConfig(startServer(t, b, plainServer, nil)), nil)
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() { errs <- m.Send(context.Background(), FirstViewTo("owner@example.com")) }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := len(b.messages()); got != n {
		t.Errorf("%d messages arrived, want %d", got, n)
	}
}
