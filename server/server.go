// Package server is PhotoVault's HTTP layer: the owner API, the public share
// API, the client gallery, health and metrics. It owns no state of its own;
// everything kept lives in store/.
package server

import (
	"context"
	"github.com/photovault/photovault/server/auth"
	"github.com/photovault/photovault/store/blob"
	"golang.org/x/sync/singleflight"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/photovault/photovault/cmd/config"
	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/keys"
	"github.com/rs/zerolog"
)

// KV is what the server needs of the ephemeral key-value store.
type KV interface {
	Ping() error
	auth.Counters
}

// Deps are the server's collaborators, built once by cmd/ and passed in.
type Deps struct {
	Config  *config.Config
	Log     zerolog.Logger
	Store   *store.Store
	Blobs   *blob.Store
	KV      KV
	Master  keys.Key
	Secret  keys.Key
	Now     func() time.Time
	Version string
	// Sleep waits out throttle delays; tests record them instead (nil: real sleep).
	Sleep func(context.Context, time.Duration) error
	// Banner receives the plain-text first-start banner (stderr).
	Banner io.Writer
}

// Server serves the PhotoVault HTTP API.
type Server struct {
	cfg     *config.Config
	log     zerolog.Logger
	store   *store.Store
	blobs   *blob.Store
	kv      KV
	master  keys.Key
	secret  keys.Key
	now     func() time.Time
	version string
	tls     bool
	metrics *metrics
	handler http.Handler

	tokens   tokenCache
	throttle *auth.Throttle
	banner   io.Writer // plain first-start banner (stderr); nil in tests
	sleep    func(context.Context, time.Duration) error

	mailer    mailSender         // nil when SMTP is not configured
	mailWG    sync.WaitGroup     // notifications in flight
	subkeys   subkeys            // HKDF sub-keys, derived once
	sigs      sigCache           // signed media URL signatures, per hour bucket
	contents  contentCache       // rendered galleries, keyed by content version
	derived   derivedCache       // decrypted thumbs/previews in memory, keyed by blob id
	hashSlots chan struct{}      // bounds concurrent argon2id hashes
	access    *accessLog         // buffered share access events
	flight    singleflight.Group // one watermark render per key at a time
	jobKick   chan struct{}      // wakes the derivative workers after an upload commits

	background []func(context.Context) // started by Start
	flushers   []func(context.Context) // run by Stop
}

// New builds a Server and its route table.
func New(d Deps) (*Server, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	s := &Server{
		cfg: d.Config, log: d.Log, store: d.Store, blobs: d.Blobs, kv: d.KV, master: d.Master, secret: d.Secret,
		now: d.Now, version: d.Version, tls: d.Config.TLS(), metrics: newMetrics(d.Version),
	}
	s.banner = d.Banner
	s.sleep = d.Sleep
	if s.sleep == nil {
		s.sleep = sleepCtx
	}
	s.throttle = auth.NewThrottle(d.KV, auth.DefaultPolicy(), d.Now)
	s.subkeys = deriveSubkeys(d.Secret)
	s.jobKick = make(chan struct{}, 1)
	s.hashSlots = make(chan struct{}, hashConcurrency)
	s.initWorkers()
	s.initAccessLog()
	if err := s.initMail(); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// kickJobs wakes the workers without blocking; a pending kick is enough.
func (s *Server) kickJobs() {
	select {
	case s.jobKick <- struct{}{}:
	default:
	}
}

// Handler is the root http.Handler.
func (s *Server) Handler() http.Handler { return s.handler }

// HTTPServer wraps the handler in an http.Server with timeouts that bound
// slow clients (slowloris) without cutting long uploads and downloads: there
// is no overall read/write timeout, only header and idle limits.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          newStdLogger(s.log),
	}
}
