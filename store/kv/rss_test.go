package kv

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestMeasureRSS prints the process RSS right after Open and after writing
// 100k TTL keys. It is a measurement, not a check: run it with
// PHOTOVAULT_KV_RSS=1 go test -run MeasureRSS -v ./store/kv/
func TestMeasureRSS(t *testing.T) {
	if os.Getenv("PHOTOVAULT_KV_RSS") == "" {
		t.Skip("set PHOTOVAULT_KV_RSS=1 to measure")
	}
	runtime.GC()
	t.Logf("before Open: %s", rss(t))
	s, err := Open(t.TempDir(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t.Logf("after Open: %s", rss(t))
	start := time.Now()
	for i := range 100_000 {
		if _, err := s.Incr(fmt.Appendf(nil, "throttle/ip/%032x/%d", i, i%7), 15*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("after 100k Incr (%v): %s", time.Since(start).Round(time.Millisecond), rss(t))
	for i := range 100_000 {
		if _, err := s.Get(fmt.Appendf(nil, "throttle/ip/%032x/%d", i, i%7)); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	t.Logf("after 100k Get + GC: %s", rss(t))
	time.Sleep(3 * time.Second)
	t.Logf("idle 3 s later: %s", rss(t))
}

func rss(t *testing.T) string {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS") || strings.HasPrefix(line, "VmHWM") {
			out = append(out, strings.Join(strings.Fields(line), " "))
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out = append(out, fmt.Sprintf("Go heap in use %d kB, sys %d kB", ms.HeapInuse>>10, ms.Sys>>10))
	return strings.Join(out, ", ")
}
