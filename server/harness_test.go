package server

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/photovault/photovault/server/auth"
	"github.com/photovault/photovault/store/blob"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/photovault/photovault/cmd/config"
	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/keys"
	"github.com/photovault/photovault/store/kv"
	"github.com/photovault/photovault/store/storetest"
	"github.com/rs/zerolog"
	"github.com/spf13/pflag"
)

// syncBuffer collects log lines from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testEnv is a real server on a real SQLite file, a real badger dir and a
// real HTTP listener.
type testEnv struct {
	t     testing.TB
	srv   *Server
	http  *httptest.Server
	store *store.Store
	kv    *kv.Store
	cfg   *config.Config
	logs  *syncBuffer
	clock *storetest.Clock
	// queries counts SQL statements (constant-query checks).
	queries *storetest.Counter
	// sleeps records throttle delays instead of sleeping.
	sleepMu sync.Mutex
	sleeps  []time.Duration
}

func newTestEnv(t testing.TB, env map[string]string) *testEnv {
	t.Helper()
	dir := t.TempDir()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	config.Register(fs)
	vals := map[string]string{"PHOTOVAULT_DATA_DIR": dir, "PHOTOVAULT_RATE_LIMIT": "0"}
	for k, v := range env {
		vals[k] = v
	}
	cfg, err := config.Load(fs, func(k string) string { return vals[k] })
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{cfg.TmpDir(), cfg.BlobRoot()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	clock := storetest.NewClock()
	var st *store.Store
	var queries *storetest.Counter
	if _, bench := t.(*testing.B); bench {
		st, queries = storetest.NewWithClock(t, clock.Now), &storetest.Counter{} // the real driver path
	} else {
		st, queries = storetest.NewCounting(t, clock.Now)
	}
	logs := &syncBuffer{}
	log := zerolog.New(logs).With().Timestamp().Logger()
	kvs, err := kv.Open(filepath.Join(dir, "kv"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kvs.Close() })
	blobs, err := blob.New(cfg.BlobRoot(), cfg.TmpDir())
	if err != nil {
		t.Fatal(err)
	}
	master, _ := keys.Generate()
	secret, _ := keys.Generate()
	e := &testEnv{t: t, store: st, kv: kvs, cfg: cfg, logs: logs, clock: clock, queries: queries}
	srv, err := New(Deps{Config: cfg, Log: log, Store: st, Blobs: blobs, KV: kvs, Master: master, Secret: secret, Now: clock.Now, Version: "test",
		Sleep: func(_ context.Context, d time.Duration) error {
			e.sleepMu.Lock()
			e.sleeps = append(e.sleeps, d)
			e.sleepMu.Unlock()
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.http = httptest.NewServer(srv.Handler())
	t.Cleanup(e.http.Close)
	return e
}

// owner is a created owner with a logged-in session.
type owner struct {
	id, username, password string
	access, refresh        string
}

func (o owner) bearer() map[string]string {
	return map[string]string{"Authorization": "Bearer " + o.access}
}

// createOwner makes an owner directly in the store and logs in over HTTP.
func (e *testEnv) createOwner(username string) owner {
	e.t.Helper()
	pw := "Correct-Horse-Battery-" + username + "-42"
	hash, err := auth.HashPassword(pw)
	if err != nil {
		e.t.Fatal(err)
	}
	u, err := e.store.CreateUser(context.Background(), username, hash)
	if err != nil {
		e.t.Fatal(err)
	}
	o := owner{id: u.ID, username: username, password: pw}
	o.access, o.refresh = e.login(username, pw)
	return o
}

func (e *testEnv) login(username, pw string) (string, string) {
	e.t.Helper()
	resp, body := e.do("POST", "/api/auth/login", map[string]string{"username": username, "password": pw}, nil)
	if resp.StatusCode != 200 {
		e.t.Fatalf("login %s: %d %s", username, resp.StatusCode, body)
	}
	tp := decode[tokenPair](e.t, body)
	return tp.AccessToken, tp.RefreshToken
}

// do sends a request and returns status, headers and body.
func (e *testEnv) do(method, path string, body any, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

func decode[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}
