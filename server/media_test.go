package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/photovault/photovault/store"
)

// mtSetup is an owner with one uploaded JPEG of a few 64 KiB chunks.
func mtSetup(t *testing.T) (*testEnv, owner, string, mediaView, []byte) {
	t.Helper()
	e := newTestEnv(t, nil)
	o := e.createOwner("alice")
	album := e.mtAlbum(o, "Serve")
	j := mtJPEG(t, 640, 400, 21, "")
	if len(j) < 3*65536 {
		t.Fatalf("fixture too small for chunk-crossing ranges: %d", len(j))
	}
	resp, body := e.mtUpload(o, album, mtFile{name: "Café Noir.jpg", data: j})
	if resp.StatusCode != 201 {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	return e, o, album, decode[mtItems](t, body).Items[0], j
}

func (e *testEnv) mtGet(o owner, path string, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	h := o.bearer()
	for k, v := range hdr {
		h[k] = v
	}
	return e.do("GET", path, nil, h)
}

func TestOriginalHeaders(t *testing.T) {
	e, o, _, m, j := mtSetup(t)
	resp, body := e.mtGet(o, "/api/media/"+m.ID+"/original", nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, j) {
		t.Fatalf("original %d", resp.StatusCode)
	}
	h := resp.Header
	want := map[string]string{
		"Content-Type":           "image/jpeg",
		"ETag":                   `"` + mtSHA(j) + `"`,
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "private, no-cache",
		"Accept-Ranges":          "bytes",
		"Content-Length":         fmt.Sprint(len(j)),
	}
	for k, v := range want {
		if h.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, h.Get(k), v)
		}
	}
	if csp := h.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "sandbox") {
		t.Errorf("CSP %q", csp)
	}
	cd := h.Get("Content-Disposition")
	if cd != `attachment; filename="Caf_ Noir.jpg"; filename*=UTF-8''Caf%C3%A9%20Noir.jpg` {
		t.Errorf("Content-Disposition %q", cd)
	}
	if _, p, err := mime.ParseMediaType(cd); err != nil || p["filename"] != "Café Noir.jpg" {
		t.Errorf("parsed %v %v", p, err)
	}
	// If-None-Match with the ETag: 304 and no body.
	resp, body = e.mtGet(o, "/api/media/"+m.ID+"/original", map[string]string{"If-None-Match": `"` + mtSHA(j) + `"`})
	if resp.StatusCode != 304 || len(body) != 0 {
		t.Fatalf("conditional: %d %d bytes", resp.StatusCode, len(body))
	}
	resp, _ = e.mtGet(o, "/api/media/"+m.ID+"/original", map[string]string{"If-None-Match": `"` + strings.Repeat("0", 64) + `"`})
	if resp.StatusCode != 200 {
		t.Fatalf("stale etag: %d", resp.StatusCode)
	}
}

func TestOriginalRanges(t *testing.T) {
	e, o, _, m, j := mtSetup(t)
	n := len(j)
	path := "/api/media/" + m.ID + "/original"
	cases := []struct {
		rng        string
		start, end int // inclusive
	}{
		{"bytes=0-0", 0, 0},
		{"bytes=0-99", 0, 99},
		{"bytes=65530-65545", 65530, 65545}, // crosses a chunk boundary
		{"bytes=65536-131071", 65536, 131071},
		{"bytes=100-", 100, n - 1},
		{"bytes=-500", n - 500, n - 1},
		{"bytes=-1", n - 1, n - 1},
		{fmt.Sprintf("bytes=%d-%d", n-10, n+1000), n - 10, n - 1}, // end past EOF is clamped
	}
	for _, c := range cases {
		resp, body := e.mtGet(o, path, map[string]string{"Range": c.rng})
		if resp.StatusCode != 206 {
			t.Fatalf("%s: %d", c.rng, resp.StatusCode)
		}
		if !bytes.Equal(body, j[c.start:c.end+1]) {
			t.Fatalf("%s: %d bytes differ from the original slice", c.rng, len(body))
		}
		if cr := resp.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes %d-%d/%d", c.start, c.end, n) {
			t.Fatalf("%s: Content-Range %q", c.rng, cr)
		}
	}
	for _, rng := range []string{fmt.Sprintf("bytes=%d-", n), fmt.Sprintf("bytes=%d-%d", n+5, n+10)} {
		resp, _ := e.mtGet(o, path, map[string]string{"Range": rng})
		if resp.StatusCode != 416 {
			t.Fatalf("%s: %d, want 416", rng, resp.StatusCode)
		}
	}
	// Two ranges: a multipart/byteranges answer whose parts are the slices.
	resp, body := e.mtGet(o, path, map[string]string{"Range": "bytes=10-19,70000-70009"})
	mt, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != 206 || mt != "multipart/byteranges" {
		t.Fatalf("multi-range: %d %s", resp.StatusCode, mt)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for _, want := range [][]byte{j[10:20], j[70000:70010]} {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(p)
		if !bytes.Equal(got, want) || p.Header.Get("Content-Type") != "image/jpeg" {
			t.Fatalf("multi-range part %x, want %x", got, want)
		}
	}
	// Range with a matching If-Range ETag still ranges; a stale one gets all.
	resp, body = e.mtGet(o, path, map[string]string{"Range": "bytes=0-9", "If-Range": `"stale"`})
	if resp.StatusCode != 200 || len(body) != n {
		t.Fatalf("stale If-Range: %d", resp.StatusCode)
	}
}

func TestDerivatives(t *testing.T) {
	e, o, _, m, _ := mtSetup(t)
	for _, v := range []string{"thumb", "preview"} {
		resp, body := e.mtGet(o, "/api/media/"+m.ID+"/"+v, nil)
		if resp.StatusCode != 404 || !strings.Contains(string(body), "not_ready") || resp.Header.Get("Retry-After") != "2" {
			t.Fatalf("%s while processing: %d %s %q", v, resp.StatusCode, body, resp.Header.Get("Retry-After"))
		}
	}
	thumbBytes := mtJPEG(t, 40, 30, 22, "")
	d := e.mtDerivative(m.ID, "thumb", thumbBytes)
	resp, body := e.mtGet(o, "/api/media/"+m.ID+"/thumb", nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, thumbBytes) {
		t.Fatalf("thumb: %d", resp.StatusCode)
	}
	h := resp.Header
	if h.Get("Content-Type") != "image/jpeg" || h.Get("ETag") != `"`+d.BlobID+`"` ||
		h.Get("Cache-Control") != "private, max-age=31536000, immutable" || h.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.HasPrefix(h.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("thumb headers %v", h)
	}
	resp, body = e.mtGet(o, "/api/media/"+m.ID+"/thumb", map[string]string{"If-None-Match": `"` + d.BlobID + `"`})
	if resp.StatusCode != 304 || len(body) != 0 {
		t.Fatalf("thumb 304: %d", resp.StatusCode)
	}
	// A media item that is ready (or failed) without a derivative: plain 404.
	if err := e.store.SetMediaStatus(context.Background(), m.ID, store.MediaStatusFailed); err != nil {
		t.Fatal(err)
	}
	resp, body = e.mtGet(o, "/api/media/"+m.ID+"/preview", nil)
	if resp.StatusCode != 404 || strings.Contains(string(body), "not_ready") || resp.Header.Get("Retry-After") != "" {
		t.Fatalf("failed media preview: %d %s", resp.StatusCode, body)
	}
	resp, body = e.mtGet(o, "/api/media/"+m.ID, nil)
	if resp.StatusCode != 200 || decode[mediaView](t, body).Status != "failed" {
		t.Fatalf("status %s", body)
	}
}

func TestMediaGetAndDelete(t *testing.T) {
	e, o, album, m, _ := mtSetup(t)
	resp, body := e.mtGet(o, "/api/media/"+m.ID, nil)
	got := decode[mediaView](t, body)
	if resp.StatusCode != 200 || got.ID != m.ID || got.AlbumID != album || got.Filename != "Café Noir.jpg" || got.TakenAt != nil {
		t.Fatalf("get: %d %s", resp.StatusCode, body)
	}
	for _, k := range []string{`"id"`, `"album_id"`, `"filename"`, `"content_type"`, `"size"`, `"sha256"`, `"width"`, `"height"`,
		`"taken_at":null`, `"camera"`, `"status"`, `"lens"`, `"created_at"`} {
		if !strings.Contains(string(body), k) {
			t.Errorf("media JSON lacks %s: %s", k, body)
		}
	}
	if strings.Contains(string(body), "blob") || strings.Contains(string(body), "owner") || strings.Contains(string(body), "crc") {
		t.Errorf("media JSON exposes internals: %s", body)
	}
	resp, _ = e.do("DELETE", "/api/media/"+m.ID, nil, o.bearer())
	if resp.StatusCode != 204 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	for _, p := range []string{"", "/original", "/thumb"} {
		if resp, _ := e.mtGet(o, "/api/media/"+m.ID+p, nil); resp.StatusCode != 404 {
			t.Fatalf("after delete %s: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := e.do("DELETE", "/api/media/"+m.ID, nil, o.bearer()); resp.StatusCode != 404 {
		t.Fatalf("delete twice: %d", resp.StatusCode)
	}
	if n := e.mtCount(`SELECT count(*) FROM audit_logs WHERE event_type = 'media_deleted' AND target = ?`, m.ID); n != 1 {
		t.Fatalf("media_deleted audit events: %d", n)
	}
	// The blob waits for the collector; the file is still there.
	if n := e.mtCount(`SELECT count(*) FROM blobs WHERE refs = 0 AND delete_after_ms IS NOT NULL`); n != 1 {
		t.Fatalf("blob not handed to the collector")
	}
	for _, id := range []string{"nope", "../../etc/passwd", strings.Repeat("A", 26)} {
		if resp, _ := e.mtGet(o, "/api/media/"+id, nil); resp.StatusCode != 404 {
			t.Fatalf("garbage id %q: %d", id, resp.StatusCode)
		}
	}
}

func TestMediaLookup(t *testing.T) {
	e, o, _, m, _ := mtSetup(t)
	bob := e.createOwner("bob")
	bobAlbum := e.mtAlbum(bob, "Bob")
	bj := mtJPEG(t, 16, 16, 31, "")
	e.mtUpload(bob, bobAlbum, mtFile{name: "b.jpg", data: bj})
	unknown := strings.Repeat("ab", 32)
	q := map[string]any{"sha256": []string{unknown, strings.ToUpper(m.SHA256), mtSHA(bj)}}
	resp, body := e.do("POST", "/api/media/lookup", q, o.bearer())
	if resp.StatusCode != 200 || string(bytes.TrimSpace(body)) != `{"known":["`+m.SHA256+`"]}` {
		t.Fatalf("lookup: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("POST", "/api/media/lookup", map[string]any{"sha256": []string{}}, o.bearer())
	if resp.StatusCode != 200 || string(bytes.TrimSpace(body)) != `{"known":[]}` {
		t.Fatalf("empty lookup: %d %s", resp.StatusCode, body)
	}
	bad := []any{
		map[string]any{"sha256": []string{"abc"}},
		map[string]any{"sha256": []string{strings.Repeat("zz", 32)}},
		map[string]any{"sha256": "not a list"},
		map[string]any{"sha256": make([]string, maxLookup+1)},
		"not json",
	}
	for _, b := range bad {
		if resp, body := e.do("POST", "/api/media/lookup", b, o.bearer()); resp.StatusCode != 400 {
			t.Errorf("lookup %.60v: %d %s", b, resp.StatusCode, body)
		}
	}
	full := make([]string, maxLookup)
	for i := range full {
		full[i] = fmt.Sprintf("%064x", i)
	}
	full[maxLookup-1] = m.SHA256
	resp, body = e.do("POST", "/api/media/lookup", map[string]any{"sha256": full}, o.bearer())
	if resp.StatusCode != 200 || !strings.Contains(string(body), m.SHA256) {
		t.Fatalf("10000 hashes: %d %.200s", resp.StatusCode, body)
	}
}

// TestMediaOtherOwner: every media route with another owner's id answers
// 404 — the same as an id that does not exist — and changes nothing.
func TestMediaOtherOwner(t *testing.T) {
	e, alice, album, m, j := mtSetup(t)
	e.mtDerivative(m.ID, "thumb", mtJPEG(t, 40, 30, 23, ""))
	mallory := e.createOwner("mallory")
	ghost := store.NewID()
	for _, id := range []string{m.ID, ghost} {
		for _, rt := range []struct{ method, path string }{
			{"GET", "/api/media/" + id},
			{"GET", "/api/media/" + id + "/original"},
			{"GET", "/api/media/" + id + "/thumb"},
			{"GET", "/api/media/" + id + "/preview"},
			{"DELETE", "/api/media/" + id},
		} {
			resp, body := e.do(rt.method, rt.path, nil, mallory.bearer())
			if resp.StatusCode != 404 || bytes.Contains(body, j[:64]) || strings.Contains(string(body), "Café") {
				t.Errorf("%s %s as mallory: %d %s", rt.method, rt.path, resp.StatusCode, body)
			}
			if resp.Header.Get("Retry-After") != "" {
				t.Errorf("%s %s leaks processing state", rt.method, rt.path)
			}
		}
	}
	resp, body := e.do("POST", "/api/media/lookup", map[string]any{"sha256": []string{m.SHA256}}, mallory.bearer())
	if resp.StatusCode != 200 || string(bytes.TrimSpace(body)) != `{"known":[]}` {
		t.Fatalf("mallory lookup: %d %s", resp.StatusCode, body)
	}
	// Alice still has everything.
	resp, got := e.mtGet(alice, "/api/media/"+m.ID+"/original", nil)
	if resp.StatusCode != 200 || !bytes.Equal(got, j) {
		t.Fatal("alice lost her original")
	}
	if resp, _ := e.mtGet(alice, "/api/media/"+m.ID+"/thumb", nil); resp.StatusCode != 200 {
		t.Fatal("alice lost her thumbnail")
	}
	if a, err := e.store.Album(context.Background(), alice.id, album); err != nil || a.MediaCount != 1 {
		t.Fatalf("album changed: %+v %v", a, err)
	}
	if n := e.mtCount(`SELECT count(*) FROM audit_logs WHERE event_type = 'idor_denied' AND actor = ? AND owner_id = ?`, mallory.id, alice.id); n != 5 {
		t.Fatalf("idor audit events: %d, want 5 (one per route on the real id)", n)
	}
}
