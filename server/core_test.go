package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestHealth(t *testing.T) {
	e := newTestEnv(t, nil)
	for _, p := range []string{"/health", "/health/"} {
		resp, body := e.do("GET", p, nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, body)
		}
		h := decode[healthBody](t, body)
		if h.Status != "healthy" || h.Checks["database"] != "ok" || h.Checks["storage"] != "ok" || h.Checks["kv"] != "ok" || h.Timestamp == "" {
			t.Fatalf("%s: %+v", p, h)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Fatalf("content type %q", ct)
		}
	}
}

func TestHealthUnhealthyWhenDatabaseClosed(t *testing.T) {
	e := newTestEnv(t, nil)
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	resp, body := e.do("GET", "/health", nil, nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d", resp.StatusCode)
	}
	h := decode[healthBody](t, body)
	if h.Status != "unhealthy" || h.Checks["database"] != "error" || h.Checks["kv"] != "ok" {
		t.Fatalf("%+v", h)
	}
	if strings.Contains(string(body), e.cfg.DataDir) || strings.Contains(string(body), "sql") {
		t.Fatalf("health leaks internals: %s", body)
	}
}

func TestHealthUnhealthyWhenKVClosed(t *testing.T) {
	e := newTestEnv(t, nil)
	_ = e.kv.Close()
	resp, body := e.do("GET", "/health", nil, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || decode[healthBody](t, body).Checks["kv"] != "error" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	e := newTestEnv(t, nil)
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/health", 200},
		{"GET", "/no/such/path", 404},
		{"DELETE", "/health", 405},
		{"GET", "/metrics", 200},
		{"GET", "/api/public/shares/whatever/meta", 404},
	} {
		resp, body := e.do(c.method, c.path, nil, nil)
		if resp.StatusCode != c.want {
			t.Errorf("%s %s: %d", c.method, c.path, resp.StatusCode)
		}
		for h, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"X-Frame-Options":        "DENY",
			"Referrer-Policy":        "no-referrer",
		} {
			if got := resp.Header.Get(h); got != want {
				t.Errorf("%s %s: %s = %q", c.method, c.path, h, got)
			}
		}
		if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("%s %s: CSP %q", c.method, c.path, resp.Header.Get("Content-Security-Policy"))
		}
		if resp.Header.Get("X-Request-ID") == "" {
			t.Errorf("%s %s: no request id", c.method, c.path)
		}
		if resp.Header.Get("Strict-Transport-Security") != "" {
			t.Errorf("HSTS without TLS")
		}
		if c.want >= 400 {
			var eb errorBody
			if err := json.Unmarshal(body, &eb); err != nil || eb.Error == "" || eb.Message == "" {
				t.Errorf("%s %s: error body %s", c.method, c.path, body)
			}
		}
	}
}

func TestHSTSUnderTLS(t *testing.T) {
	e := newTestEnv(t, map[string]string{"PHOTOVAULT_DOMAIN": "photos.example.com"})
	resp, _ := e.do("GET", "/health", nil, nil)
	if !strings.Contains(resp.Header.Get("Strict-Transport-Security"), "max-age=63072000") {
		t.Fatalf("HSTS %q", resp.Header.Get("Strict-Transport-Security"))
	}
}

func TestRequestID(t *testing.T) {
	e := newTestEnv(t, nil)
	resp, _ := e.do("GET", "/health", nil, map[string]string{"X-Request-ID": "abc-123.DEF_4"})
	if got := resp.Header.Get("X-Request-ID"); got != "abc-123.DEF_4" {
		t.Fatalf("echo: %q", got)
	}
	resp, _ = e.do("GET", "/health", nil, map[string]string{"X-Request-ID": "evil\"}{injection" + strings.Repeat("x", 80)})
	got := resp.Header.Get("X-Request-ID")
	if got == "" || strings.Contains(got, "evil") {
		t.Fatalf("insane id not replaced: %q", got)
	}
	resp2, _ := e.do("GET", "/health", nil, nil)
	if resp2.Header.Get("X-Request-ID") == got {
		t.Fatal("minted ids repeat")
	}
}

func TestLogsCarryRequestIDAndNeverRawPaths(t *testing.T) {
	e := newTestEnv(t, nil)
	token := "CANARYtokenAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	for _, p := range []string{"/s/" + token, "/api/public/shares/" + token + "/meta", "/api/public/shares/" + token + "/content?x=" + token} {
		e.do("GET", p, nil, map[string]string{"X-Request-ID": "req-canary-1"})
	}
	logs := e.logs.String()
	if strings.Contains(logs, token) || strings.Contains(logs, "CANARY") {
		t.Fatalf("token reached the log:\n%s", logs)
	}
	lines := 0
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if m["message"] == "request" {
			lines++
			if m["request_id"] != "req-canary-1" || m["route"] == nil || m["status"] == nil || m["duration_ms"] == nil {
				t.Fatalf("access line lacks fields: %v", m)
			}
		}
	}
	if lines != 3 {
		t.Fatalf("want 3 access lines, got %d:\n%s", lines, logs)
	}
}

func TestMetricsAccess(t *testing.T) {
	e := newTestEnv(t, map[string]string{"PHOTOVAULT_METRICS_TOKEN": "metrics-token-0123456789abcdef"})
	e.do("GET", "/health", nil, nil)
	resp, body := e.do("GET", "/metrics", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "photovault_http_requests_total") {
		t.Fatalf("loopback: %d", resp.StatusCode)
	}
	// A forwarded request is not "loopback" even though the socket is.
	resp, _ = e.do("GET", "/metrics", nil, map[string]string{"X-Forwarded-For": "203.0.113.9"})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forwarded without token: %d", resp.StatusCode)
	}
	resp, _ = e.do("GET", "/metrics", nil, map[string]string{"X-Forwarded-For": "203.0.113.9", "Authorization": "Bearer wrong"})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("wrong token: %d", resp.StatusCode)
	}
	resp, _ = e.do("GET", "/metrics", nil, map[string]string{"X-Forwarded-For": "203.0.113.9", "Authorization": "Bearer metrics-token-0123456789abcdef"})
	if resp.StatusCode != 200 {
		t.Fatalf("right token: %d", resp.StatusCode)
	}
}

func TestAllowedHosts(t *testing.T) {
	e := newTestEnv(t, map[string]string{"PHOTOVAULT_ALLOWED_HOSTS": "photos.example.com"})
	req, _ := http.NewRequest("GET", e.http.URL+"/health", nil)
	req.Host = "evil.example.net"
	resp, err := e.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("foreign host: %d", resp.StatusCode)
	}
	req.Host = "photos.example.com"
	resp, err = e.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("allowed host: %d", resp.StatusCode)
	}
}

func TestClientIP(t *testing.T) {
	trusted, _ := parseNets(t, "10.0.0.0/8")
	cases := []struct {
		remote, xff string
		trusted     bool
		want        string
	}{
		{"203.0.113.5:1234", "1.2.3.4", false, "203.0.113.5"},
		{"10.0.0.2:1234", "1.2.3.4", true, "1.2.3.4"},
		{"10.0.0.2:1234", "6.6.6.6, 1.2.3.4, 10.0.0.3", true, "1.2.3.4"},
		{"10.0.0.2:1234", "", true, "10.0.0.2"},
	}
	for _, c := range cases {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := clientIPFrom(r, trusted); got != c.want {
			t.Errorf("%s xff=%q: got %s want %s", c.remote, c.xff, got, c.want)
		}
	}
}

func TestGeneralRateLimit(t *testing.T) {
	e := newTestEnv(t, map[string]string{"PHOTOVAULT_RATE_LIMIT": "5"})
	limited := 0
	for i := 0; i < 20; i++ {
		resp, _ := e.do("GET", "/health", nil, nil)
		if resp.StatusCode == http.StatusTooManyRequests {
			limited++
			if resp.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		}
	}
	if limited == 0 {
		t.Fatal("20 rapid requests with limit 5/s were never limited")
	}
}
