package server

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/certmagic"
)

// TLSServers returns the HTTPS server (:443, certificates obtained and
// renewed by certmagic over ACME, kept in data-dir/certs) and the plain HTTP
// server (:80) that answers ACME HTTP-01 challenges and redirects everything
// else to HTTPS.
func (s *Server) TLSServers(ctx context.Context) (*http.Server, *http.Server, error) {
	cm := certmagic.NewDefault()
	cm.Storage = &certmagic.FileStorage{Path: s.cfg.CertDir()}
	issuer := certmagic.NewACMEIssuer(cm, certmagic.ACMEIssuer{
		CA:     orDefault(s.cfg.ACMECA, certmagic.LetsEncryptProductionCA),
		Email:  s.cfg.ACMEEmail,
		Agreed: true,
	})
	cm.Issuers = []certmagic.Issuer{issuer}
	if err := cm.ManageAsync(ctx, []string{s.cfg.Domain}); err != nil {
		return nil, nil, fmt.Errorf("server: manage certificate for %s: %w", s.cfg.Domain, err)
	}
	tlsConf := cm.TLSConfig()
	tlsConf.NextProtos = append([]string{"h2", "http/1.1"}, tlsConf.NextProtos...)
	https := s.HTTPServer(":443")
	https.TLSConfig = tlsConf
	redirect := &http.Server{
		Addr:              ":80",
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       30 * time.Second,
		Handler:           issuer.HTTPChallengeHandler(http.HandlerFunc(s.redirectToHTTPS)),
		ErrorLog:          newStdLogger(s.log),
	}
	return https, redirect, nil
}

func (s *Server) redirectToHTTPS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Connection", "close")
	// #nosec G710 -- the host is always the configured domain (never the request's Host), so the redirect cannot leave it.
	http.Redirect(w, r, "https://"+s.cfg.Domain+r.URL.RequestURI(), http.StatusMovedPermanently)
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
