package server

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/imaging"
)

// gallery is an owner, an album with photos and a share of it.
type gallery struct {
	owner  owner
	album  store.Album
	photos []store.Media
	data   [][]byte
}

func (e *testEnv) gallery(n int) gallery {
	e.t.Helper()
	o := e.createOwner(fmt.Sprintf("photographer%d", len(e.logs.String())%1000))
	g := gallery{owner: o, album: e.newAlbum(o, "Smith Wedding")}
	for i := 0; i < n; i++ {
		data := makeJPEG(e.t, 320+i, 240, uint8(i))
		g.data = append(g.data, data)
		g.photos = append(g.photos, e.addPhoto(o, g.album.ID, fmt.Sprintf("IMG_%04d.jpg", i), data))
	}
	return g
}

func (e *testEnv) share(o owner, body map[string]any) shareView {
	e.t.Helper()
	resp, b := e.do("POST", "/api/shares", body, o.bearer())
	if resp.StatusCode != 201 {
		e.t.Fatalf("create share: %d %s", resp.StatusCode, b)
	}
	return decode[shareView](e.t, b)
}

func pub(token, what string) string { return "/api/public/shares/" + token + "/" + what }

func TestShareCreateListMeta(t *testing.T) {
	e := newTestEnv(t, nil)
	g := e.gallery(2)
	sh := e.share(g.owner, map[string]any{"album_id": g.album.ID, "label": "for the couple", "download": "original"})
	if len(sh.Token) != 43 || !strings.HasSuffix(sh.URL, "/s/"+sh.Token) || sh.ExpiresAt == nil || sh.Status != "active" {
		t.Fatalf("create: %+v", sh)
	}
	exp, _ := time.Parse(time.RFC3339, *sh.ExpiresAt)
	if d := exp.Sub(e.clock.Now()); d < 29*24*time.Hour || d > 31*24*time.Hour {
		t.Fatalf("default expiry %v, want 30 days", d)
	}
	// The token is shown once: never in list or get.
	for _, p := range []string{"/api/shares", "/api/shares/" + sh.ID} {
		resp, b := e.do("GET", p, nil, g.owner.bearer())
		if resp.StatusCode != 200 || strings.Contains(string(b), sh.Token) {
			t.Fatalf("%s: %d leaks token=%v", p, resp.StatusCode, strings.Contains(string(b), sh.Token))
		}
	}
	resp, b := e.do("GET", pub(sh.Token, "meta"), nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("meta %d", resp.StatusCode)
	}
	m := decode[map[string]any](t, b)
	if m["title"] != "Smith Wedding" || m["requires_password"] != false || m["download"] != "original" || m["item_count"] != float64(2) {
		t.Fatalf("meta %s", b)
	}
	for _, leak := range []string{sh.ID, g.album.ID, g.owner.id, g.owner.username, "views", "IMG_", e.cfg.DataDir} {
		if strings.Contains(string(b), leak) {
			t.Errorf("meta leaks %q: %s", leak, b)
		}
	}
	if resp.Header.Get("Referrer-Policy") != "no-referrer" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("headers %v", resp.Header)
	}
	// meta never counts a view, and neither does the page.
	e.do("GET", "/s/"+sh.Token, nil, nil)
	_, b = e.do("GET", "/api/shares/"+sh.ID, nil, g.owner.bearer())
	if decode[shareView](t, b).Views != 0 {
		t.Fatal("meta or page counted a view")
	}
	if resp, _ := e.do("GET", pub(strings.Repeat("A", 43), "meta"), nil, nil); resp.StatusCode != 404 {
		t.Fatalf("unknown token %d", resp.StatusCode)
	}
	if resp, _ := e.do("GET", pub("short", "meta"), nil, nil); resp.StatusCode != 404 {
		t.Fatalf("malformed token %d", resp.StatusCode)
	}
}

func TestSharePageIsSafeShell(t *testing.T) {
	e := newTestEnv(t, nil)
	g := e.gallery(1)
	title := `</title><script>alert(1)</script><meta property="og:title" content="x`
	if _, err := e.store.UpdateAlbum(context.Background(), g.owner.id, g.album.ID, store.AlbumUpdate{Title: &title}); err != nil {
		t.Fatal(err)
	}
	sh := e.share(g.owner, map[string]any{"album_id": g.album.ID})
	resp, b := e.do("GET", "/s/"+sh.Token, nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("page %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if strings.Contains(string(b), "alert(1)") || strings.Contains(string(b), sh.Token) {
		t.Fatal("user text or token rendered into the page")
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "script-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP lacks %q: %s", want, csp)
		}
	}
	if resp, _ := e.do("GET", "/s/"+strings.Repeat("B", 43), nil, nil); resp.StatusCode != 404 {
		t.Fatalf("unknown token page %d", resp.StatusCode)
	}
	// The meta JSON escapes the hostile title.
	_, mb := e.do("GET", pub(sh.Token, "meta"), nil, nil)
	if strings.Contains(string(mb), "<script>") {
		t.Fatalf("unescaped title in JSON: %s", mb)
	}
}

func TestContentCountsViewsAndServesSignedMedia(t *testing.T) {
	e := newTestEnv(t, nil)
	g := e.gallery(3)
	sh := e.share(g.owner, map[string]any{"album_id": g.album.ID, "download": "preview"})
	resp, b := e.do("GET", pub(sh.Token, "content"), nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("content %d %s", resp.StatusCode, b)
	}
	c := decode[contentView](t, b)
	if len(c.Items) != 3 || c.Items[0].ThumbURL == nil || c.Items[0].PreviewURL == nil || c.Items[0].OriginalURL != nil || c.Items[0].DownloadURL == nil {
		t.Fatalf("items %s", b)
	}
	_, b = e.do("GET", "/api/shares/"+sh.ID, nil, g.owner.bearer())
	if v := decode[shareView](t, b).Views; v != 1 {
		t.Fatalf("views %d", v)
	}
	resp, thumb := e.do("GET", *c.Items[0].ThumbURL, nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" || !bytes.HasPrefix(thumb, []byte{0xFF, 0xD8}) {
		t.Fatalf("thumb %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("media headers %v", resp.Header)
	}
	// ETag revalidation.
	resp, _ = e.do("GET", *c.Items[0].ThumbURL, nil, map[string]string{"If-None-Match": resp.Header.Get("ETag")})
	if resp.StatusCode != 304 {
		t.Fatalf("revalidate %d", resp.StatusCode)
	}
	// The preview-as-download is an attachment; the original is refused.
	resp, _ = e.do("GET", *c.Items[0].DownloadURL, nil, nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("download %d %q", resp.StatusCode, resp.Header.Get("Content-Disposition"))
	}
	orig := strings.Replace(*c.Items[0].ThumbURL, "/thumb?", "/original?", 1)
	if resp, _ := e.do("GET", orig, nil, nil); resp.StatusCode != 403 {
		t.Fatalf("original with re-used signature: %d", resp.StatusCode)
	}
}

func TestSignedURLTampering(t *testing.T) {
	e := newTestEnv(t, nil)
	g := e.gallery(2)
	sh := e.share(g.owner, map[string]any{"album_id": g.album.ID, "download": "original"})
	_, b := e.do("GET", pub(sh.Token, "content"), nil, nil)
	c := decode[contentView](t, b)
	u := *c.Items[0].ThumbURL
	i := strings.Index(u, "s=") + 2
	flip := func(s string, at int) string {
		ch := byte('A')
		if s[at] == 'A' {
			ch = 'B'
		}
		return s[:at] + string(ch) + s[at+1:]
	}
	cases := map[string]string{
		"signature byte": flip(u, i+5),
		"other media":    strings.Replace(u, c.Items[0].ID, c.Items[1].ID, 1),
		"other variant":  strings.Replace(u, "/thumb?", "/preview?", 1),
		"later expiry":   strings.Replace(u, "e=", "e=9", 1),
		"password epoch": strings.Replace(u, "v=0", "v=1", 1),
		"no signature":   u[:strings.Index(u, "?")],
	}
	for name, bad := range cases {
		if resp, body := e.do("GET", bad, nil, nil); resp.StatusCode != 403 {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	if resp, _ := e.do("GET", u, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("untampered: %d", resp.StatusCode)
	}
	// Past its expiry the URL is refused too.
	e.clock.Advance(3 * time.Hour)
	if resp, _ := e.do("GET", u, nil, nil); resp.StatusCode != 403 {
		t.Fatalf("expired URL: %d", resp.StatusCode)
	}
}

func TestMaxViewsExactUnderConcurrency(t *testing.T) {
	e := newTestEnv(t, nil)
	g := e.gallery(1)
	sh := e.share(g.owner, map[string]any{"album_id": g.album.ID, "max_views": 5})
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := e.do("GET", pub(sh.Token, "content"), nil, nil)
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[200] != 5 || codes[410] != 95 {
		t.Fatalf("100 concurrent opens of max_views=5: %v", codes)
	}
	_, b := e.do("GET", "/api/shares/"+sh.ID, nil, g.owner.bearer())
	v := decode[shareView](t, b)
	if v.Views != 5 || v.Status != "exhausted" {
		t.Fatalf("views %d status %s", v.Views, v.Status)
	}
	if resp, _ := e.do("GET", pub(sh.Token, "meta"), nil, nil); resp.StatusCode != 410 {
		t.Fatalf("meta of exhausted link: %d", resp.StatusCode)
	}
}

func TestRevokedAndExpiredLinksDie(t *testing.T) {
	e := newTestEnv(t, nil)
	g := e.gallery(1)
	revoked := e.share(g.owner, map[string]any{"album_id": g.album.ID, "download": "original"})
	expiring := e.share(g.owner, map[string]any{"album_id": g.album.ID, "download": "original", "expires_in_seconds": 600})
	urls := map[string]contentView{}
	for _, sh := range []shareView{revoked, expiring} {
		_, b := e.do("GET", pub(sh.Token, "content"), nil, nil)
		urls[sh.ID] = decode[contentView](t, b)
	}
	if resp, _ := e.do("DELETE", "/api/shares/"+revoked.ID, nil, g.owner.bearer()); resp.StatusCode != 204 {
		t.Fatalf("revoke %d", resp.StatusCode)
	}
	e.clock.Advance(11 * time.Minute)
	for _, sh := range []shareView{revoked, expiring} {
		for _, p := range []string{pub(sh.Token, "meta"), pub(sh.Token, "content"), pub(sh.Token, "zip"), "/s/" + sh.Token} {
			if resp, _ := e.do("GET", p, nil, nil); resp.StatusCode != 410 {
				t.Errorf("%s after revoke/expiry: %d", p, resp.StatusCode)
			}
		}
		it := urls[sh.ID].Items[0]
		for _, u := range []string{*it.ThumbURL, *it.PreviewURL, *it.OriginalURL} {
			resp, _ := e.do("GET", u, nil, nil)
			if resp.StatusCode != 410 && resp.StatusCode != 403 {
				t.Errorf("signed URL after revoke/expiry: %d", resp.StatusCode)
			}
		}
	}
	// The revoked link's URLs are still within their own signature expiry:
	// they must fail because the database says so (410), not by luck.
	it := urls[revoked.ID].Items[0]
	if resp, _ := e.do("GET", *it.ThumbURL, nil, nil); resp.StatusCode != 410 {
		t.Fatalf("revoked share's signed thumb: %d", resp.StatusCode)
	}
	types, _ := e.store.AuditTypes(context.Background())
	if types["share_revoked"] != 1 || types["share_created"] != 2 {
		t.Fatalf("audit %v", types)
	}
}

func TestPasswordShares(t *testing.T) {
	e := newTestEnv(t, nil)
	g := e.gallery(1)
	a := e.share(g.owner, map[string]any{"album_id": g.album.ID, "password": "open sesame", "download": "original"})
	bShare := e.share(g.owner, map[string]any{"album_id": g.album.ID, "password": "open sesame", "download": "original"})
	_, mb := e.do("GET", pub(a.Token, "meta"), nil, nil)
	m := decode[map[string]any](t, mb)
	if m["requires_password"] != true || m["title"] != nil || m["item_count"] != nil {
		t.Fatalf("locked meta reveals too much: %s", mb)
	}
	for _, p := range []string{"content", "zip"} {
		if resp, _ := e.do("GET", pub(a.Token, p), nil, nil); resp.StatusCode != 401 {
			t.Fatalf("%s without unlock: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := e.do("POST", pub(a.Token, "selections"), map[string]any{"name": "x", "email": "x@example.com", "media_ids": []string{g.photos[0].ID}}, nil); resp.StatusCode != 401 {
		t.Fatalf("selection without unlock: %d", resp.StatusCode)
	}
	if resp, _ := e.do("POST", pub(a.Token, "unlock"), map[string]string{"password": "wrong"}, nil); resp.StatusCode != 401 {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	if resp, _ := e.do("POST", pub(a.Token, "unlock")+"?password=open+sesame", map[string]string{"password": "open sesame"}, nil); resp.StatusCode != 400 {
		t.Fatalf("password in URL accepted: %d", resp.StatusCode)
	}
	resp, ub := e.do("POST", pub(a.Token, "unlock"), map[string]string{"password": "open sesame"}, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("unlock %d %s", resp.StatusCode, ub)
	}
	session := decode[map[string]any](t, ub)["session"].(string)
	var cookies []*http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == shareCookie {
			cookies = append(cookies, c)
			if !c.HttpOnly || !strings.Contains(c.Path, "/api/public/") {
				t.Fatalf("cookie %+v", c)
			}
		}
	}
	if len(cookies) != 2 {
		t.Fatalf("share cookies %v", resp.Cookies())
	}
	hdr := map[string]string{shareSessionHeader: session}
	resp, cb := e.do("GET", pub(a.Token, "content"), nil, hdr)
	if resp.StatusCode != 200 {
		t.Fatalf("content with session %d", resp.StatusCode)
	}
	c := decode[contentView](t, cb)
	// Thumbnails need the session too (Immich #29599).
	if resp, _ := e.do("GET", *c.Items[0].ThumbURL, nil, nil); resp.StatusCode != 401 {
		t.Fatalf("thumb without session: %d", resp.StatusCode)
	}
	if resp, _ := e.do("GET", *c.Items[0].ThumbURL, nil, map[string]string{"Cookie": shareCookie + "=" + session}); resp.StatusCode != 200 {
		t.Fatalf("thumb with cookie: %d", resp.StatusCode)
	}
	// Link A's session never opens link B with the same password (Lychee CVE-2026-22784).
	if resp, _ := e.do("GET", pub(bShare.Token, "content"), nil, hdr); resp.StatusCode != 401 {
		t.Fatalf("session of A opened B: %d", resp.StatusCode)
	}
	// A password change ends the session and every URL issued before it.
	if resp, _ := e.do("PATCH", "/api/shares/"+a.ID, map[string]any{"password": "new secret words"}, g.owner.bearer()); resp.StatusCode != 200 {
		t.Fatalf("patch %d", resp.StatusCode)
	}
	if resp, _ := e.do("GET", pub(a.Token, "content"), nil, hdr); resp.StatusCode != 401 {
		t.Fatalf("old session after password change: %d", resp.StatusCode)
	}
	if resp, _ := e.do("GET", *c.Items[0].ThumbURL, nil, map[string]string{"Cookie": shareCookie + "=" + session}); resp.StatusCode != 403 && resp.StatusCode != 401 {
		t.Fatalf("old URL after password change: %d", resp.StatusCode)
	}
	// Share passwords are stored as argon2id, never in clear.
	sh, _ := e.store.ShareByID(context.Background(), g.owner.id, a.ID)
	if !strings.HasPrefix(sh.PasswordHash, "$argon2id$") {
		t.Fatalf("share password hash %q", sh.PasswordHash[:10])
	}
}

func TestUnlockThrottle(t *testing.T) {
	e := newTestEnv(t, map[string]string{"PHOTOVAULT_TRUSTED_PROXIES": "127.0.0.1"})
	g := e.gallery(1)
	sh := e.share(g.owner, map[string]any{"album_id": g.album.ID, "password": "right password"})
	attacker := map[string]string{"X-Forwarded-For": "198.51.100.9"}
	var last *http.Response
	for i := 0; i < 11; i++ {
		last, _ = e.do("POST", pub(sh.Token, "unlock"), map[string]string{"password": fmt.Sprint("guess", i)}, attacker)
	}
	if last.StatusCode != 429 || last.Header.Get("Retry-After") == "" {
		t.Fatalf("11th failure: %d", last.StatusCode)
	}
	if resp, _ := e.do("POST", pub(sh.Token, "unlock"), map[string]string{"password": "right password"}, attacker); resp.StatusCode != 429 {
		t.Fatalf("right password while throttled: %d", resp.StatusCode)
	}
	if resp, _ := e.do("POST", pub(sh.Token, "unlock"), map[string]string{"password": "right password"}, map[string]string{"X-Forwarded-For": "203.0.113.1"}); resp.StatusCode != 200 {
		t.Fatalf("client from another IP: %d", resp.StatusCode)
	}
	_ = e.srv.flushAccessLog(context.Background())
	_, ab := e.do("GET", "/api/shares/"+sh.ID+"/analytics", nil, g.owner.bearer())
	if a := decode[map[string]any](t, ab); a["unlock_failures"].(float64) != 10 {
		t.Fatalf("analytics %s", ab)
	}
}

func TestZipDownloadsStrippedOriginalsWithRanges(t *testing.T) {
	e := newTestEnv(t, nil)
	o := e.createOwner("zipper")
	album := e.newAlbum(o, "Zip Album")
	gps := withGPS(t, makeJPEG(t, 640, 480, 1))
	plain := makeJPEG(t, 500, 400, 2)
	m1 := e.addPhoto(o, album.ID, "located.jpg", gps)
	e.addPhoto(o, album.ID, "plain.jpg", plain)
	sh := e.share(o, map[string]any{"album_id": album.ID, "download": "original"})
	resp, full := e.do("GET", pub(sh.Token, "zip"), nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Length") != fmt.Sprint(len(full)) || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("zip %d len %s/%d", resp.StatusCode, resp.Header.Get("Content-Length"), len(full))
	}
	zr, err := zip.NewReader(bytes.NewReader(full), int64(len(full)))
	if err != nil || len(zr.File) != 2 {
		t.Fatalf("zip: %v %d", err, len(zr.File))
	}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		switch f.Name {
		case "plain.jpg":
			if !bytes.Equal(b, plain) {
				t.Fatal("plain.jpg differs from the original")
			}
		case "located.jpg":
			if bytes.Contains(b, []byte("SN-CANARY-123")) || bytes.Equal(b, gps) {
				t.Fatal("location/serial survived in the delivered file")
			}
			meta, err := imaging.ReadMeta(bytes.NewReader(b), imaging.Detected{Kind: "jpeg", ContentType: "image/jpeg", IsImage: true})
			if err != nil || meta.HasGPS {
				t.Fatalf("GPS in delivered file: %v %+v", err, meta)
			}
		default:
			t.Fatalf("unexpected entry %q", f.Name)
		}
	}
	// The owner still has the untouched original with its GPS.
	if st, err := e.store.Media(context.Background(), o.id, m1.ID); err != nil || !bytes.Equal(readBlob(t, e, st.BlobID), gps) {
		t.Fatalf("owner original changed: %v", err)
	}
	// A ranged request equals the same slice of the full download.
	for _, rg := range [][2]int{{0, 99}, {100, 5000}, {len(full) - 300, len(full) - 1}} {
		resp, part := e.do("GET", pub(sh.Token, "zip"), nil, map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", rg[0], rg[1])})
		if resp.StatusCode != 206 || !bytes.Equal(part, full[rg[0]:rg[1]+1]) {
			t.Fatalf("range %v: %d equal=%v", rg, resp.StatusCode, bytes.Equal(part, full[rg[0]:rg[1]+1]))
		}
	}
	// Deterministic: a second download is identical.
	if _, again := e.do("GET", pub(sh.Token, "zip"), nil, nil); !bytes.Equal(again, full) {
		t.Fatal("zip not deterministic")
	}
	none := e.share(o, map[string]any{"album_id": album.ID, "download": "none"})
	if resp, _ := e.do("GET", pub(none.Token, "zip"), nil, nil); resp.StatusCode != 403 {
		t.Fatalf("zip of download=none: %d", resp.StatusCode)
	}
	// Single original downloads are stripped too: exactly StripLocation's
	// output, served from a small head plus the original's pixels, whole
	// and in ranges inside, across and after the head.
	var want bytes.Buffer
	if _, err := imaging.StripLocation(bytes.NewReader(gps), &want, imaging.Detected{Kind: imaging.KindJPEG}); err != nil {
		t.Fatal(err)
	}
	dv, err := e.store.Derivative(context.Background(), m1.ID, "stripped")
	if err != nil || dv.Splice == nil || dv.FullSize() != int64(want.Len()) {
		t.Fatalf("stripped copy of located.jpg: %+v %v, want a splice of %d bytes", dv, err, want.Len())
	}
	_, cb := e.do("GET", pub(sh.Token, "content"), nil, nil)
	for _, it := range decode[contentView](t, cb).Items {
		resp, b := e.do("GET", *it.OriginalURL, nil, nil)
		if bytes.Contains(b, []byte("SN-CANARY-123")) {
			t.Fatal("serial number in a delivered original")
		}
		if it.ID != m1.ID {
			continue
		}
		if resp.StatusCode != 200 || !bytes.Equal(b, want.Bytes()) || resp.Header.Get("Content-Length") != fmt.Sprint(want.Len()) {
			t.Fatalf("located.jpg original: %d, %d bytes, want the %d stripped bytes", resp.StatusCode, len(b), want.Len())
		}
		h := int(dv.Size)
		for _, rg := range [][2]int{{0, 9}, {h - 10, h + 10}, {h, h}, {h + 100, want.Len() - 1}} {
			resp, part := e.do("GET", *it.OriginalURL, nil, map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", rg[0], rg[1])})
			if resp.StatusCode != 206 || !bytes.Equal(part, want.Bytes()[rg[0]:rg[1]+1]) {
				t.Fatalf("located.jpg range %v (head %d): %d", rg, h, resp.StatusCode)
			}
		}
		resp, part := e.do("GET", *it.OriginalURL, nil, map[string]string{"Range": "bytes=-700"})
		if resp.StatusCode != 206 || !bytes.Equal(part, want.Bytes()[want.Len()-700:]) {
			t.Fatalf("located.jpg suffix range: %d", resp.StatusCode)
		}
	}
}

func readBlob(t *testing.T, e *testEnv, id string) []byte {
	t.Helper()
	r, err := e.srv.openBlob(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSelections(t *testing.T) {
	e := newTestEnv(t, nil)
	g := e.gallery(3)
	other := e.gallery(1)
	sh := e.share(g.owner, map[string]any{"album_id": g.album.ID, "media_ids": []string{g.photos[0].ID, g.photos[1].ID}, "selection_limit": 2})
	ok := map[string]any{"name": "=HYPERLINK(\"x\")", "email": "client@example.com", "media_ids": []string{g.photos[0].ID}, "note": "the first one!"}
	for name, body := range map[string]map[string]any{
		"not in share":   {"name": "A", "email": "a@example.com", "media_ids": []string{g.photos[2].ID}},
		"other owner's":  {"name": "A", "email": "a@example.com", "media_ids": []string{other.photos[0].ID}},
		"over the limit": {"name": "A", "email": "a@example.com", "media_ids": []string{g.photos[0].ID, g.photos[1].ID, g.photos[2].ID}},
		"bad email":      {"name": "A", "email": "nope", "media_ids": []string{g.photos[0].ID}},
		"empty":          {"name": "A", "email": "a@example.com", "media_ids": []string{}},
	} {
		if resp, b := e.do("POST", pub(sh.Token, "selections"), body, nil); resp.StatusCode != 400 {
			t.Errorf("%s: %d %s", name, resp.StatusCode, b)
		}
	}
	if resp, b := e.do("POST", pub(sh.Token, "selections"), ok, nil); resp.StatusCode != 201 {
		t.Fatalf("selection %d %s", resp.StatusCode, b)
	}
	if resp, _ := e.do("POST", pub(sh.Token, "selections"), map[string]any{"name": "Guest 2", "email": "g2@example.com", "media_ids": []string{g.photos[1].ID}}, nil); resp.StatusCode != 201 {
		t.Fatal("second guest")
	}
	_, b := e.do("GET", "/api/shares/"+sh.ID+"/selections", nil, g.owner.bearer())
	items := decode[map[string][]selectionView](t, b)["items"]
	if len(items) != 2 || items[0].MediaIDs[0] != g.photos[0].ID || items[0].Note != "the first one!" || items[0].Filenames[0] != "IMG_0000.jpg" {
		t.Fatalf("selections %s", b)
	}
	resp, csv := e.do("GET", "/api/shares/"+sh.ID+"/selections.csv", nil, g.owner.bearer())
	if resp.StatusCode != 200 || !strings.Contains(string(csv), `'=HYPERLINK`) {
		t.Fatalf("csv %d %s", resp.StatusCode, csv)
	}
	_, txt := e.do("GET", "/api/shares/"+sh.ID+"/selections.txt", nil, g.owner.bearer())
	if strings.TrimSpace(string(txt)) != "IMG_0000, IMG_0001" {
		t.Fatalf("lightroom list %q", txt)
	}
}

func TestShareIDOR(t *testing.T) {
	e := newTestEnv(t, nil)
	victim := e.gallery(1)
	mallory := e.createOwner("mallory")
	mAlbum := e.newAlbum(mallory, "mine")
	sh := e.share(victim.owner, map[string]any{"album_id": victim.album.ID})
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/shares/" + sh.ID, nil},
		{"PATCH", "/api/shares/" + sh.ID, map[string]any{"label": "pwned", "max_views": 1}},
		{"DELETE", "/api/shares/" + sh.ID, nil},
		{"GET", "/api/shares/" + sh.ID + "/analytics", nil},
		{"GET", "/api/shares/" + sh.ID + "/access-log", nil},
		{"GET", "/api/shares/" + sh.ID + "/access-log.csv", nil},
		{"GET", "/api/shares/" + sh.ID + "/selections", nil},
		{"GET", "/api/shares/" + sh.ID + "/selections.csv", nil},
		{"POST", "/api/shares", map[string]any{"album_id": victim.album.ID}},
		{"POST", "/api/shares", map[string]any{"album_id": mAlbum.ID, "media_ids": []string{victim.photos[0].ID}}},
	} {
		resp, b := e.do(c.method, c.path, c.body, mallory.bearer())
		if resp.StatusCode != 404 {
			t.Errorf("%s %s as other owner: %d %s", c.method, c.path, resp.StatusCode, b)
		}
		if strings.Contains(string(b), victim.album.ID) || strings.Contains(string(b), "Smith") {
			t.Errorf("%s %s leaks victim data", c.method, c.path)
		}
	}
	_, b := e.do("GET", "/api/shares", nil, mallory.bearer())
	if strings.Contains(string(b), sh.ID) {
		t.Fatal("list shows another owner's share")
	}
	got, _ := e.store.ShareByID(context.Background(), victim.owner.id, sh.ID)
	if got.Label != "" || got.RevokedAt != nil || got.MaxViews != nil {
		t.Fatalf("other owner changed the share: %+v", got)
	}
	types, _ := e.store.AuditTypes(context.Background())
	if types["access_denied"] < 5 {
		t.Fatalf("IDOR attempts not audited: %v", types)
	}
}

func TestDatabaseDumpHoldsNoTokenOrPassword(t *testing.T) {
	e := newTestEnv(t, nil)
	g := e.gallery(1)
	sh := e.share(g.owner, map[string]any{"album_id": g.album.ID, "password": "CanaryShareSecret"})
	e.do("POST", pub(sh.Token, "unlock"), map[string]string{"password": "CanaryShareSecret"}, nil)
	_ = e.srv.flushAccessLog(context.Background())
	dir := filepath.Dir(e.store.Path())
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, secret := range []string{sh.Token, "CanaryShareSecret", g.owner.password, g.owner.refresh} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s contains a secret preimage", filepath.Base(f))
			}
		}
	}
	logs := e.logs.String()
	if strings.Contains(logs, sh.Token) || strings.Contains(logs, "CanaryShareSecret") {
		t.Fatal("token or share password in logs")
	}
}

func TestContentConstantQueries(t *testing.T) {
	e := newTestEnv(t, nil)
	measure := func(n int) int64 {
		g := e.gallery(n)
		sh := e.share(g.owner, map[string]any{"album_id": g.album.ID, "download": "original"})
		best := int64(1 << 30)
		for i := 0; i < 3; i++ {
			_ = e.srv.flushAccessLog(context.Background())
			before := e.queries.Load()
			resp, b := e.do("GET", pub(sh.Token, "content"), nil, nil)
			if resp.StatusCode != 200 || len(decode[contentView](t, b).Items) != n {
				t.Fatalf("content of %d: %d", n, resp.StatusCode)
			}
			if d := e.queries.Load() - before; d < best {
				best = d
			}
		}
		return best
	}
	small, large := measure(3), measure(300)
	t.Logf("queries per /content: 3 photos → %d, 300 photos → %d", small, large)
	if large != small || large > 4 {
		t.Fatalf("/content is not constant in queries: %d for 3 photos, %d for 300", small, large)
	}
}

func TestAccessLogAndAnalytics(t *testing.T) {
	e := newTestEnv(t, nil)
	g := e.gallery(2)
	sh := e.share(g.owner, map[string]any{"album_id": g.album.ID, "download": "original"})
	for i := 0; i < 3; i++ {
		e.do("GET", pub(sh.Token, "content"), nil, map[string]string{"User-Agent": "ClientPhone/1.0"})
	}
	e.do("GET", pub(sh.Token, "zip"), nil, nil)
	resp, b := e.do("GET", "/api/shares/"+sh.ID+"/analytics", nil, g.owner.bearer())
	a := decode[map[string]any](t, b)
	if resp.StatusCode != 200 || a["views"] != float64(3) || a["unique_visitors"] != float64(1) || a["zip_downloads"] != float64(1) || a["last_access_at"] == nil {
		t.Fatalf("analytics %s", b)
	}
	daily := a["daily"].([]any)
	if len(daily) != 1 || daily[0].(map[string]any)["views"] != float64(3) {
		t.Fatalf("daily %v", daily)
	}
	_, lb := e.do("GET", "/api/shares/"+sh.ID+"/access-log", nil, g.owner.bearer())
	log := decode[map[string]any](t, lb)
	items := log["items"].([]any)
	if len(items) < 4 || strings.Contains(string(lb), sh.Token) || strings.Contains(string(lb), "127.0.0.1") {
		t.Fatalf("access log %s", lb)
	}
	first := items[0].(map[string]any)
	if first["ip_hash"] == "" || first["at"] == nil || first["event"] == nil {
		t.Fatalf("entry %v", first)
	}
}

func TestWatermarkedProofs(t *testing.T) {
	e := newTestEnv(t, nil)
	g := e.gallery(1)
	plain := e.share(g.owner, map[string]any{"album_id": g.album.ID, "download": "original"})
	proof := e.share(g.owner, map[string]any{"album_id": g.album.ID, "download": "original", "watermark": "PROOF"})
	get := func(sh shareView) contentView {
		_, b := e.do("GET", pub(sh.Token, "content"), nil, nil)
		return decode[contentView](t, b)
	}
	pc, wc := get(plain), get(proof)
	_, plainThumb := e.do("GET", *pc.Items[0].ThumbURL, nil, nil)
	resp, wmThumb := e.do("GET", *wc.Items[0].ThumbURL, nil, nil)
	if resp.StatusCode != 200 || !bytes.HasPrefix(wmThumb, []byte{0xFF, 0xD8}) || bytes.Equal(plainThumb, wmThumb) {
		t.Fatalf("watermarked thumb: %d same=%v", resp.StatusCode, bytes.Equal(plainThumb, wmThumb))
	}
	_, again := e.do("GET", *wc.Items[0].ThumbURL, nil, nil)
	if !bytes.Equal(again, wmThumb) {
		t.Fatal("watermark not cached per share")
	}
	// Originals and the owner's own thumbnails are never watermarked.
	_, orig := e.do("GET", *wc.Items[0].OriginalURL, nil, nil)
	if !bytes.Equal(orig, g.data[0]) {
		t.Fatal("original changed by the watermark")
	}
	if _, ownerThumb := e.do("GET", "/api/media/"+g.photos[0].ID+"/thumb", nil, g.owner.bearer()); !bytes.Equal(ownerThumb, plainThumb) {
		t.Fatal("owner thumbnail watermarked")
	}
}

func TestUnlimitedViewsCountedAndDrainedOnShutdown(t *testing.T) {
	e := newTestEnv(t, nil)
	g := e.gallery(1)
	sh := e.share(g.owner, map[string]any{"album_id": g.album.ID})
	ctx, cancel := context.WithCancel(context.Background())
	go e.srv.runAccessFlusher(ctx)
	for i := 0; i < 7; i++ {
		if resp, _ := e.do("GET", pub(sh.Token, "content"), nil, nil); resp.StatusCode != 200 {
			t.Fatalf("open %d: %d", i, resp.StatusCode)
		}
	}
	cancel() // as on SIGTERM: the flusher drains events and pending view counts
	<-e.srv.access.done
	got, err := e.store.ShareByID(context.Background(), g.owner.id, sh.ID)
	if err != nil || got.Views != 7 {
		t.Fatalf("views after drain: %d %v", got.Views, err)
	}
	evs, _ := e.store.AccessLog(context.Background(), g.owner.id, sh.ID, 0, 100)
	views := 0
	for _, ev := range evs {
		if ev.Event == "view" {
			views++
		}
	}
	if views != 7 {
		t.Fatalf("access log has %d view events, want 7", views)
	}
}
