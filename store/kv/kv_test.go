package kv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, zerolog.Nop())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestSetGetDelete(t *testing.T) {
	s := open(t, t.TempDir())
	if _, err := s.Get([]byte("missing")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get missing: err = %v, want ErrNotFound", err)
	}
	if err := s.Set([]byte("k"), []byte("v1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get([]byte("k"))
	if err != nil || string(got) != "v1" {
		t.Fatalf("Get = %q, %v; want v1", got, err)
	}
	// The returned slice is a copy: changing it must not change the store.
	got[0] = 'X'
	if again, _ := s.Get([]byte("k")); string(again) != "v1" {
		t.Fatalf("stored value changed through returned slice: %q", again)
	}
	if err := s.Set([]byte("k"), []byte("v2"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get([]byte("k")); string(got) != "v2" {
		t.Fatalf("overwrite: Get = %q", got)
	}
	if err := s.Delete([]byte("k")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get([]byte("k")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after Delete: err = %v, want ErrNotFound", err)
	}
	if err := s.Delete([]byte("never-there")); err != nil {
		t.Fatalf("Delete missing key: %v", err)
	}
}

func TestEveryKeyNeedsTTL(t *testing.T) {
	s := open(t, t.TempDir())
	for _, ttl := range []time.Duration{0, -time.Second} {
		if err := s.Set([]byte("k"), []byte("v"), ttl); !errors.Is(err, ErrInvalidTTL) {
			t.Errorf("Set ttl %v: err = %v, want ErrInvalidTTL", ttl, err)
		}
		if _, err := s.Incr([]byte("c"), ttl); !errors.Is(err, ErrInvalidTTL) {
			t.Errorf("Incr ttl %v: err = %v, want ErrInvalidTTL", ttl, err)
		}
	}
	if _, err := s.Get([]byte("k")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a rejected Set stored something: %v", err)
	}
}

func TestEmptyKeyIsAnError(t *testing.T) {
	s := open(t, t.TempDir())
	if err := s.Set(nil, []byte("v"), time.Hour); err == nil {
		t.Fatal("Set with empty key: want error")
	}
	if _, err := s.Get(nil); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("Get with empty key: err = %v, want a non-NotFound error", err)
	}
}

func TestTTLExpiry(t *testing.T) {
	s := open(t, t.TempDir())
	if err := s.Set([]byte("short"), []byte("v"), 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := s.Set([]byte("long"), []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	// A sub-second TTL is rounded up to badger's one-second resolution, so it
	// must still be readable right away.
	if _, err := s.Get([]byte("short")); err != nil {
		t.Fatalf("short key vanished at once: %v", err)
	}
	// Incr sets the TTL on creation and keeps it afterwards.
	if n, err := s.Incr([]byte("ctr"), time.Second); err != nil || n != 1 {
		t.Fatalf("Incr = %d, %v", n, err)
	}
	if n, err := s.Incr([]byte("ctr"), time.Hour); err != nil || n != 2 {
		t.Fatalf("Incr = %d, %v", n, err)
	}
	waitGone(t, s, "short")
	waitGone(t, s, "ctr")
	if _, err := s.Get([]byte("long")); err != nil {
		t.Fatalf("long key expired too: %v", err)
	}
	// An expired counter starts again from 1.
	if n, err := s.Incr([]byte("ctr"), time.Hour); err != nil || n != 1 {
		t.Fatalf("Incr after expiry = %d, %v; want 1", n, err)
	}
}

func waitGone(t *testing.T, s *Store, key string) {
	t.Helper()
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := s.Get([]byte(key)); errors.Is(err, ErrNotFound) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("key %q did not expire", key)
}

func TestIncrIsAtomic(t *testing.T) {
	s := open(t, t.TempDir())
	const workers, each = 40, 25
	var wg sync.WaitGroup
	seen := make([]bool, workers*each+1)
	var mu sync.Mutex
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				n, err := s.Incr([]byte("hot"), time.Hour)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if n < 1 || int(n) >= len(seen) || seen[n] {
					mu.Unlock()
					errs <- fmt.Errorf("Incr returned %d twice or out of range", n)
					return
				}
				seen[n] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := s.Get([]byte("hot"))
	if err != nil || string(got) != fmt.Sprint(workers*each) {
		t.Fatalf("final counter = %q, %v; want %d", got, err, workers*each)
	}
}

func TestLargestSupportedValue(t *testing.T) {
	s := open(t, t.TempDir())
	val := bytes.Repeat([]byte("v"), 256<<10)
	if err := s.Set([]byte("big"), val, time.Hour); err != nil {
		t.Fatalf("Set 256 KiB: %v", err)
	}
	if got, err := s.Get([]byte("big")); err != nil || !bytes.Equal(got, val) {
		t.Fatalf("Get 256 KiB: len %d, %v", len(got), err)
	}
}

func TestIncrOnNonCounter(t *testing.T) {
	s := open(t, t.TempDir())
	if err := s.Set([]byte("k"), []byte("not a number"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Incr([]byte("k"), time.Hour); err == nil {
		t.Fatal("Incr on a non-counter value: want error")
	}
}

func TestPersistsAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set([]byte("k"), []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Incr([]byte("c"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	s = open(t, dir)
	if got, err := s.Get([]byte("k")); err != nil || string(got) != "v" {
		t.Fatalf("after reopen Get = %q, %v", got, err)
	}
	if n, err := s.Incr([]byte("c"), time.Hour); err != nil || n != 2 {
		t.Fatalf("after reopen Incr = %d, %v; want 2", n, err)
	}
}

func TestPingAndClosed(t *testing.T) {
	s, err := Open(t.TempDir(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ping after Close: err = %v, want ErrClosed", err)
	}
	if _, err := s.Get([]byte("k")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close: err = %v, want ErrClosed", err)
	}
	if _, err := s.Incr([]byte("k"), time.Hour); !errors.Is(err, ErrClosed) {
		t.Fatalf("Incr after Close: err = %v, want ErrClosed", err)
	}
}

// writeGarbage fills a fresh badger directory with corrupt files.
func writeGarbage(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenCorruptDirIsWipedAndRecreated(t *testing.T) {
	cases := map[string]map[string]string{
		"corrupt MANIFEST":    {"MANIFEST": "this is not a badger manifest at all"},
		"corrupt KEYREGISTRY": {"KEYREGISTRY": strings.Repeat("\xff", 100)},
		"garbage everywhere": {
			"MANIFEST":    "\x00\x01garbage",
			"000001.vlog": strings.Repeat("junk", 1000),
			"000002.sst":  strings.Repeat("junk", 1000),
			"00003.mem":   "junk",
		},
	}
	for name, files := range cases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "kv")
			writeGarbage(t, dir, files)
			var logBuf bytes.Buffer
			s, err := Open(dir, zerolog.New(&logBuf))
			if err != nil {
				t.Fatalf("Open on corrupt dir: %v", err)
			}
			defer s.Close()
			if !strings.Contains(logBuf.String(), `"level":"warn"`) || !strings.Contains(logBuf.String(), "removing it") {
				t.Fatalf("no warning logged for the wipe; log: %s", logBuf.String())
			}
			if err := s.Ping(); err != nil {
				t.Fatalf("Ping after recovery: %v", err)
			}
			for f := range files {
				data, err := os.ReadFile(filepath.Join(dir, f))
				if err == nil && bytes.Contains(data, []byte("junk")) {
					t.Fatalf("garbage file %s survived the wipe", f)
				}
			}
		})
	}
}

func TestOpenDoesNotWipeForeignFiles(t *testing.T) {
	dir := t.TempDir()
	writeGarbage(t, dir, map[string]string{
		"MANIFEST":  "corrupt",
		"photo.jpg": "precious",
	})
	_, err := Open(dir, zerolog.Nop())
	if err == nil {
		t.Fatal("Open succeeded on a corrupt dir with foreign files; want error")
	}
	if data, rerr := os.ReadFile(filepath.Join(dir, "photo.jpg")); rerr != nil || string(data) != "precious" {
		t.Fatalf("foreign file touched: %q, %v", data, rerr)
	}
	if !strings.Contains(err.Error(), "not wiped") {
		t.Fatalf("error should say the dir was not wiped: %v", err)
	}
}

func TestOpenLockedDirIsNotWiped(t *testing.T) {
	dir := t.TempDir()
	first := open(t, dir)
	if err := first.Set([]byte("k"), []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	second, err := Open(dir, zerolog.Nop())
	if err == nil {
		second.Close()
		t.Fatal("second Open of a locked dir succeeded")
	}
	if !strings.Contains(err.Error(), "in use") {
		t.Fatalf("lock not recognised (badger's message changed?): %v", err)
	}
	if got, err := first.Get([]byte("k")); err != nil || string(got) != "v" {
		t.Fatalf("first store damaged by second Open: %q, %v", got, err)
	}
}

func TestOpenPathIsAFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "kv")
	if err := os.WriteFile(f, []byte("a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(f, zerolog.Nop()); err == nil {
		t.Fatal("Open on a regular file: want error")
	}
	if data, _ := os.ReadFile(f); string(data) != "a file" {
		t.Fatal("regular file was removed")
	}
	if _, err := Open("", zerolog.Nop()); err == nil {
		t.Fatal("Open with empty dir: want error")
	}
}

func TestRunGCStopsOnCloseAndCancel(t *testing.T) {
	s, err := Open(t.TempDir(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 4<<10) // above ValueThreshold: goes to the value log
	for i := range 200 {
		if err := s.Set(fmt.Appendf(nil, "k%d", i), big, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 200 {
		if err := s.Delete(fmt.Appendf(nil, "k%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.RunGC(ctx, 10*time.Millisecond)
	s.RunGC(context.Background(), 10*time.Millisecond) // only Close stops this one
	time.Sleep(50 * time.Millisecond)
	cancel()
	done := make(chan error)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not stop the GC goroutines")
	}
}

func TestBadgerLoggerLevels(t *testing.T) {
	var buf bytes.Buffer
	l := badgerLogger{log: zerolog.New(&buf)}
	l.Debugf("debug %d", 1)
	l.Infof("info %d", 2)
	if buf.Len() != 0 {
		t.Fatalf("info/debug leaked: %s", buf.String())
	}
	l.Warningf("warn %d\n", 3)
	l.Errorf("err %d", 4)
	out := buf.String()
	if !strings.Contains(out, `"level":"warn","message":"warn 3"`) || !strings.Contains(out, `"level":"error","message":"err 4"`) {
		t.Fatalf("unexpected log: %s", out)
	}
}

func TestIsBadgerFile(t *testing.T) {
	for name, want := range map[string]bool{
		"MANIFEST": true, "LOCK": true, "KEYREGISTRY": true, "DISCARD": true,
		"000001.vlog": true, "000012.sst": true, "00001.mem": true,
		"photo.jpg": false, "x.sst": false, ".vlog": false, "photovault.db": false,
	} {
		if got := isBadgerFile(name); got != want {
			t.Errorf("isBadgerFile(%q) = %v, want %v", name, got, want)
		}
	}
}
