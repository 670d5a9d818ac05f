package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/rs/zerolog"
)

type ctxKey int

const reqInfoKey ctxKey = 1

// reqInfo is per-request state the middleware chain fills in and the access
// line reads at the end.
type reqInfo struct {
	id    string
	ip    string
	owner string
}

func info(r *http.Request) *reqInfo {
	if ri, ok := r.Context().Value(reqInfoKey).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{}
}

func requestID(r *http.Request) string { return info(r).id }

// clientIP is the client's address as decided by the clientIP middleware.
func clientIP(r *http.Request) string {
	if ip := info(r).ip; ip != "" {
		return ip
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	return host
}

func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// withRequestID honours a sane incoming X-Request-ID (so a proxy's id follows
// the request), mints one otherwise, and echoes it on the response.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-ID", id)
		ri := &reqInfo{id: id}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), reqInfoKey, ri)))
	})
}

// withLogger puts a request-scoped zerolog logger carrying request_id and
// method into the context. The raw path is never logged: share tokens live
// in paths, so only the route pattern is.
func (s *Server) withLogger(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := s.log.With().Str("request_id", requestID(r)).Str("method", r.Method).Logger()
		next.ServeHTTP(w, r.WithContext(l.WithContext(r.Context())))
	})
}

// recoverPanic turns a panic into a logged 500 with the JSON error shape.
func (s *Server) recoverPanic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				zerolog.Ctx(r.Context()).Error().Str("panic", strings.TrimSpace(sprint(v))).
					Str("stack", string(debug.Stack())).Msg("panic")
				s.writeError(w, r, newError(http.StatusInternalServerError, "internal", "internal error", nil))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func sprint(v any) string {
	if e, ok := v.(error); ok {
		return e.Error()
	}
	if s, ok := v.(string); ok {
		return s
	}
	return "panic"
}

// routePattern is the matched chi pattern, or "unmatched".
func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" {
			return p
		}
	}
	return "unmatched"
}

// accessLog writes one line per request (status, bytes, duration, route
// pattern) and feeds the Prometheus metrics.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		d := time.Since(start)
		route := routePattern(r)
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		s.metrics.observe(r.Method, route, status, d)
		ev := zerolog.Ctx(r.Context()).Info()
		if status >= 500 {
			ev = zerolog.Ctx(r.Context()).Warn()
		}
		ri := info(r)
		ev = ev.Str("route", route).Int("status", status).Int("bytes", ww.BytesWritten()).
			Float64("duration_ms", float64(d.Microseconds())/1000).Str("ip", ri.ip)
		if ri.owner != "" {
			ev = ev.Str("owner_id", ri.owner)
		}
		ev.Msg("request")
	})
}

// apiCSP is sent on every response; HTML pages replace it with pageCSP.
const apiCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// pageCSP is the policy of the embedded UI: scripts, styles and images only
// from our own origin, no inline code, nothing may frame us (SECURITY.md #16).
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; media-src 'self' blob:; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'; object-src 'none'"

// securityHeaders sets the headers every response carries (SECURITY.md #16).
// Referrer-Policy is no-referrer everywhere, not only on share pages: tokens
// live in share URLs and must never travel in a Referer.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", apiCSP)
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
		h.Set("Cache-Control", "no-store")
		if s.tls || r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// hostCheck refuses requests for host names not in allowed-hosts (DNS
// rebinding, Host header poisoning of generated links). Loopback peers may
// always use localhost names so local health checks keep working.
func (s *Server) hostCheck(next http.Handler) http.Handler {
	if len(s.cfg.AllowedHosts) == 0 {
		return next
	}
	allowed := map[string]bool{}
	for _, h := range s.cfg.AllowedHosts {
		allowed[h] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := strings.ToLower(r.Host)
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
		ok := allowed[host] || allowed["*"]
		if !ok {
			for h := range allowed {
				if strings.HasPrefix(h, ".") && strings.HasSuffix(host, h) {
					ok = true
					break
				}
			}
		}
		if !ok && isLoopback(peerIP(r)) && (host == "localhost" || host == "127.0.0.1" || host == "::1") {
			ok = true
		}
		if !ok {
			s.writeError(w, r, newError(http.StatusBadRequest, "invalid_host", "host not allowed", nil))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func peerIP(r *http.Request) net.IP {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return net.ParseIP(host)
}

func isLoopback(ip net.IP) bool { return ip != nil && ip.IsLoopback() }

// clientIPFrom takes the client address from the socket unless the peer is a
// trusted proxy; only then is X-Forwarded-For read, right to left, skipping
// trusted hops. A spoofed X-Forwarded-For from anyone else changes nothing
// (SECURITY.md #2).
func clientIPFrom(r *http.Request, trusted []*net.IPNet) string {
	peer := peerIP(r)
	if peer == nil {
		return r.RemoteAddr
	}
	isTrusted := func(ip net.IP) bool {
		for _, n := range trusted {
			if n.Contains(ip) {
				return true
			}
		}
		return false
	}
	if !isTrusted(peer) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		ip := net.ParseIP(strings.TrimSpace(hops[i]))
		if ip == nil {
			break
		}
		if !isTrusted(ip) {
			return ip.String()
		}
	}
	return peer.String()
}

func (s *Server) clientIP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info(r).ip = clientIPFrom(r, s.cfg.TrustedProxies)
		next.ServeHTTP(w, r)
	})
}

// rateLimiter is the general per-IP limiter: a fixed one-second window per
// client IP, in memory (its state is worthless after a restart). The
// secret-checking throttles are separate, persistent and always on.
type rateLimiter struct {
	limit int
	mu    sync.Mutex
	win   int64
	count map[string]int
}

func newRateLimiter(limit int) *rateLimiter {
	return &rateLimiter{limit: limit, count: map[string]int{}}
}

func (l *rateLimiter) allow(ip string, now time.Time) bool {
	sec := now.Unix()
	l.mu.Lock()
	defer l.mu.Unlock()
	if sec != l.win {
		l.win = sec
		clear(l.count)
	}
	l.count[ip]++
	return l.count[ip] <= l.limit
}

func (s *Server) rateLimit(next http.Handler) http.Handler {
	if s.cfg.RateLimit <= 0 {
		return next
	}
	l := newRateLimiter(s.cfg.RateLimit)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !l.allow(clientIP(r), time.Now()) {
			w.Header().Set("X-RateLimit-Limit", strconv.Itoa(s.cfg.RateLimit))
			s.writeError(w, r, tooManyRequests(time.Second))
			return
		}
		next.ServeHTTP(w, r)
	})
}
