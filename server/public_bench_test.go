package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Handler-level benchmarks of the public hot paths (no network): run with
// -cpuprofile to see where a request's time goes. Whole-process figures
// come from cmd/pvload (docs/PERFORMANCE.md).
func BenchmarkPublic(b *testing.B) {
	e := newTestEnv(b, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.srv.runAccessFlusher(ctx) // as serve runs it: the access-log buffer must drain
	g := e.gallery(300)
	sh := e.share(g.owner, map[string]any{"album_id": g.album.ID, "download": "original", "never_expires": true})
	_, body := e.do("GET", pub(sh.Token, "content"), nil, nil)
	c := decode[contentView](e.t, body)
	h := e.srv.Handler()
	run := func(b *testing.B, path string) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				w := httptest.NewRecorder()
				r := httptest.NewRequest("GET", path, nil)
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d", path, w.Code)
				}
			}
		})
	}
	b.Run("thumb", func(b *testing.B) { run(b, *c.Items[7].ThumbURL) })
	b.Run("meta", func(b *testing.B) { run(b, pub(sh.Token, "meta")) })
	b.Run("content300", func(b *testing.B) { run(b, pub(sh.Token, "content")) })
}
