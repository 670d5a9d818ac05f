// Package mail sends PhotoVault's notification emails over SMTP: share
// invitations to clients, and selection and first-view notices to the owner.
//
// Transport security is not negotiable downwards: "starttls" requires the
// server to offer STARTTLS and a valid certificate (a stripped STARTTLS
// advertisement fails instead of falling back to plain text), and credentials
// are never sent unencrypted except to a loopback relay.
package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/textproto"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Sentinel errors returned (wrapped) by this package.
var (
	// ErrDisabled reports a configuration without an SMTP host.
	ErrDisabled = errors.New("mail: not configured")
	// ErrConfig reports an invalid or unsafe configuration.
	ErrConfig = errors.New("mail: invalid configuration")
	// ErrInvalidMessage reports a message that cannot be sent as given
	// (no recipient, unparsable address, no body).
	ErrInvalidMessage = errors.New("mail: invalid message")
	// ErrHeaderInjection reports a CR or LF in a header value: the caller
	// passed text that would add headers or recipients.
	ErrHeaderInjection = errors.New("mail: line break in header value")
	// ErrAuth reports that the SMTP server rejected the credentials.
	ErrAuth = errors.New("mail: SMTP authentication failed")
	// ErrSend reports any other failure to hand the message to the server.
	ErrSend = errors.New("mail: send failed")
)

// TLS modes accepted in Config.TLS.
const (
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS, which is required
	TLSImplicit = "tls"      // TLS from the first byte (SMTPS, usually port 465)
	TLSNone     = "none"     // no encryption; credentials only to a loopback host
)

// DefaultTimeout bounds a whole Send when Config.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// Config describes the outgoing SMTP server (PHOTOVAULT_SMTP_*).
type Config struct {
	Host     string
	Port     int // 0: 587 for starttls, 465 for tls, 25 for none
	Username string
	Password string
	From     string        // envelope and header sender, "Name <addr>" or "addr"
	TLS      string        // "starttls" (default), "tls" or "none"
	Timeout  time.Duration // per Send; 0 means DefaultTimeout
}

// Enabled reports whether outgoing mail is configured at all.
func (c Config) Enabled() bool { return strings.TrimSpace(c.Host) != "" }

// Mailer sends messages through one SMTP server. It is safe for concurrent
// use: every Send opens its own connection.
type Mailer struct {
	host     string
	port     int
	username string
	password string
	from     *netmail.Address
	tlsMode  string
	timeout  time.Duration
	// tlsConfig verifies the server as Host with the system roots; tests in
	// this package replace RootCAs with their own certificate authority.
	tlsConfig *tls.Config
}

// New validates c and returns a Mailer. A Config that is not Enabled gives
// ErrDisabled.
func New(c Config) (*Mailer, error) {
	if !c.Enabled() {
		return nil, ErrDisabled
	}
	host := strings.TrimSpace(c.Host)
	if strings.ContainsAny(host, " \t\r\n/") {
		return nil, fmt.Errorf("%w: host %q", ErrConfig, host)
	}
	mode := strings.ToLower(strings.TrimSpace(c.TLS))
	port := c.Port
	switch mode {
	case "", TLSStartTLS:
		mode = TLSStartTLS
		if port == 0 {
			port = 587
		}
	case TLSImplicit:
		if port == 0 {
			port = 465
		}
	case TLSNone:
		if port == 0 {
			port = 25
		}
	default:
		return nil, fmt.Errorf("%w: TLS mode %q (want starttls, tls or none)", ErrConfig, c.TLS)
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("%w: port %d", ErrConfig, c.Port)
	}
	if hasLineBreak(c.From) {
		return nil, fmt.Errorf("%w: from address: %w", ErrConfig, ErrHeaderInjection)
	}
	from, err := netmail.ParseAddress(c.From)
	if err != nil {
		return nil, fmt.Errorf("%w: from address %q: %w", ErrConfig, c.From, err)
	}
	if c.Password != "" && c.Username == "" {
		return nil, fmt.Errorf("%w: password given without username", ErrConfig)
	}
	if hasLineBreak(c.Username) {
		return nil, fmt.Errorf("%w: username: %w", ErrConfig, ErrHeaderInjection)
	}
	// Threat: credentials sniffed on the network. Only a relay on this
	// machine may receive them without TLS.
	if mode == TLSNone && c.Username != "" && !isLoopback(host) {
		return nil, fmt.Errorf("%w: refusing to send credentials without TLS to non-loopback host %q", ErrConfig, host)
	}
	timeout := c.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultTimeout
	case timeout < 0:
		return nil, fmt.Errorf("%w: negative timeout %s", ErrConfig, c.Timeout)
	}
	return &Mailer{
		host:      host,
		port:      port,
		username:  c.Username,
		password:  c.Password,
		from:      from,
		tlsMode:   mode,
		timeout:   timeout,
		tlsConfig: &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12},
	}, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func hasLineBreak(s string) bool { return strings.ContainsAny(s, "\r\n") }

// parseAddress returns the bare address of a single RFC 5322 address.
func parseAddress(s string) (string, error) {
	a, err := netmail.ParseAddress(s)
	if err != nil {
		return "", err
	}
	return a.Address, nil
}

// Message is one email. Text is required unless HTML is given; when both are
// set the message is multipart/alternative.
type Message struct {
	To, Subject, Text, HTML string
	ReplyTo                 string
}

// Send delivers msg to the configured server within the Mailer's timeout (or
// ctx, whichever ends first). Header values containing CR or LF are rejected
// before any connection is made. Errors never contain the password.
func (m *Mailer) Send(ctx context.Context, msg Message) error {
	if hasLineBreak(msg.To) || hasLineBreak(msg.Subject) || hasLineBreak(msg.ReplyTo) {
		return ErrHeaderInjection
	}
	to, err := netmail.ParseAddress(msg.To)
	if err != nil {
		return fmt.Errorf("%w: recipient: %w", ErrInvalidMessage, err)
	}
	if msg.Text == "" && msg.HTML == "" {
		return fmt.Errorf("%w: empty body", ErrInvalidMessage)
	}

	gm := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := gm.FromFormat(m.from.Name, m.from.Address); err != nil {
		return fmt.Errorf("%w: from: %w", ErrInvalidMessage, err)
	}
	if err := gm.AddToFormat(to.Name, to.Address); err != nil {
		return fmt.Errorf("%w: recipient: %w", ErrInvalidMessage, err)
	}
	if msg.ReplyTo != "" {
		rt, err := netmail.ParseAddress(msg.ReplyTo)
		if err != nil {
			return fmt.Errorf("%w: reply-to: %w", ErrInvalidMessage, err)
		}
		if err := gm.ReplyToFormat(rt.Name, rt.Address); err != nil {
			return fmt.Errorf("%w: reply-to: %w", ErrInvalidMessage, err)
		}
	}
	gm.Subject(msg.Subject)
	gm.SetDate()
	// Message-ID on the sender's domain: the default would publish this
	// machine's host name.
	id, err := messageID(m.from.Address)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSend, err)
	}
	gm.SetMessageIDWithValue(id)
	// RFC 3834: automated notices must not trigger vacation auto-replies.
	gm.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	switch {
	case msg.Text != "" && msg.HTML != "":
		gm.SetBodyString(gomail.TypeTextPlain, msg.Text)
		gm.AddAlternativeString(gomail.TypeTextHTML, msg.HTML)
	case msg.Text != "":
		gm.SetBodyString(gomail.TypeTextPlain, msg.Text)
	default:
		gm.SetBodyString(gomail.TypeTextHTML, msg.HTML)
	}

	client, err := m.client()
	if err != nil {
		return m.sendError(err)
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	if err := client.DialAndSendWithContext(ctx, gm); err != nil {
		return m.sendError(err)
	}
	return nil
}

// messageID returns a unique Message-ID (without brackets) on the domain of
// the sender address.
func messageID(from string) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("mail: message id: %w", err)
	}
	domain := "photovault.invalid"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i+1 < len(from) {
		domain = from[i+1:]
	}
	return hex.EncodeToString(b[:]) + "@" + domain, nil
}

// client builds a go-mail client for one Send. Clients hold per-connection
// state, so none is shared between concurrent Sends.
func (m *Mailer) client() (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithPort(m.port),
		gomail.WithTimeout(m.timeout),
		gomail.WithTLSConfig(m.tlsConfig.Clone()),
	}
	switch m.tlsMode {
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		// Mandatory: a server (or attacker) that hides STARTTLS gets nothing.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if m.username != "" {
		// PLAIN or LOGIN, the mechanisms password-based relays offer. go-mail
		// itself refuses both on an unencrypted connection to a remote host.
		opts = append(opts,
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
			gomail.WithUsername(m.username),
			gomail.WithPassword(m.password),
		)
	}
	return gomail.NewClient(m.host, opts...)
}

// sendError classifies err and makes sure no form of the password survives in
// its text. When the text had to be redacted the cause chain is dropped, so
// nothing can print the original by unwrapping.
func (m *Mailer) sendError(err error) error {
	kind := ErrSend
	var tpErr *textproto.Error
	if errors.As(err, &tpErr) && (tpErr.Code == 530 || tpErr.Code == 534 || tpErr.Code == 535) {
		kind = ErrAuth
	}
	text := err.Error()
	if redacted := m.redact(text); redacted != text {
		return fmt.Errorf("%w: %s", kind, redacted)
	}
	return fmt.Errorf("%w: %w", kind, err)
}

// redact removes the password and the encodings in which SMTP AUTH carries it.
func (m *Mailer) redact(s string) string {
	if m.password == "" {
		return s
	}
	b64 := base64.StdEncoding
	secrets := []string{
		b64.EncodeToString([]byte("\x00" + m.username + "\x00" + m.password)), // PLAIN
		b64.EncodeToString([]byte(m.password)),                                // LOGIN
		m.password,
	}
	for _, sec := range secrets {
		if len(sec) > 0 {
			s = strings.ReplaceAll(s, sec, "[REDACTED]")
		}
	}
	return s
}
