package server

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/photovault/photovault/store"
)

// The album and media routes join the negative-auth table.
func init() {
	protectedRoutes = append(protectedRoutes,
		protectedRoute{"GET", "/api/albums", nil},
		protectedRoute{"POST", "/api/albums", map[string]string{"title": "x"}},
		protectedRoute{"GET", "/api/albums/{album}", nil},
		protectedRoute{"PATCH", "/api/albums/{album}", map[string]string{"title": "pwned"}},
		protectedRoute{"DELETE", "/api/albums/{album}", nil},
		protectedRoute{"POST", "/api/albums/{album}/media", nil},
		protectedRoute{"POST", "/api/media/lookup", map[string]any{"sha256": []string{}}},
		protectedRoute{"GET", "/api/media/{media}", nil},
		protectedRoute{"GET", "/api/media/{media}/original", nil},
		protectedRoute{"GET", "/api/media/{media}/thumb", nil},
		protectedRoute{"GET", "/api/media/{media}/preview", nil},
		protectedRoute{"DELETE", "/api/media/{media}", nil},
	)
	negativeFixtures = append(negativeFixtures, func(e *testEnv, victim owner, ids *fixtureIDs) {
		a, err := e.store.CreateAlbum(context.Background(), victim.id, "Victim's album", "")
		if err != nil {
			e.t.Fatal(err)
		}
		m, _, err := e.srv.Ingest(context.Background(), victim.id, a.ID, "victim.jpg", bytes.NewReader(mtJPEG(e.t, 32, 32, 77, "")))
		if err != nil {
			e.t.Fatal(err)
		}
		if ids.album == "" {
			ids.album = a.ID
		}
		if ids.media == "" {
			ids.media = m.ID
		}
	})
}

type mtAlbumList struct {
	Items []albumView `json:"items"`
}

func TestAlbumCRUDOverHTTP(t *testing.T) {
	e := newTestEnv(t, nil)
	o := e.createOwner("alice")
	resp, body := e.do("POST", "/api/albums", map[string]string{"title": "  Smith Wedding  ", "description": "June 2026\nBarn"}, o.bearer())
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	a := decode[albumView](t, body)
	if a.Title != "Smith Wedding" || a.Description != "June 2026\nBarn" || a.MediaCount != 0 || a.CoverMediaID != nil || !store.ValidID(a.ID) {
		t.Fatalf("created %s", body)
	}
	for _, k := range []string{`"id"`, `"title"`, `"description"`, `"media_count"`, `"cover_media_id":null`, `"created_at"`, `"updated_at"`} {
		if !strings.Contains(string(body), k) {
			t.Errorf("album JSON lacks %s: %s", k, body)
		}
	}
	if ts, err := time.Parse(time.RFC3339, a.CreatedAt); err != nil || ts.Location() != time.UTC || !strings.HasSuffix(a.CreatedAt, "Z") {
		t.Fatalf("created_at %q", a.CreatedAt)
	}
	e.clock.Advance(time.Minute)
	resp, body = e.do("POST", "/api/albums", map[string]string{"title": "Second"}, o.bearer())
	if resp.StatusCode != 201 {
		t.Fatalf("second album: %d", resp.StatusCode)
	}
	second := decode[albumView](t, body)

	resp, body = e.do("GET", "/api/albums", nil, o.bearer())
	list := decode[mtAlbumList](t, body).Items
	if resp.StatusCode != 200 || len(list) != 2 || list[0].ID != second.ID || list[1].ID != a.ID {
		t.Fatalf("list (newest first): %d %s", resp.StatusCode, body)
	}

	// Upload two photos; the first in album order becomes the cover.
	j1, j2 := mtJPEG(t, 16, 16, 41, ""), mtJPEG(t, 16, 16, 42, "")
	_, body = e.mtUpload(o, a.ID, mtFile{name: "b.jpg", data: j1}, mtFile{name: "a.jpg", data: j2})
	items := decode[mtItems](t, body).Items
	resp, body = e.do("GET", "/api/albums/"+a.ID, nil, o.bearer())
	det := decode[albumDetailView](t, body)
	if resp.StatusCode != 200 || det.MediaCount != 2 || len(det.Media) != 2 || det.Media[0].Filename != "a.jpg" ||
		det.CoverMediaID == nil || *det.CoverMediaID != items[1].ID {
		t.Fatalf("detail: %d %s", resp.StatusCode, body)
	}

	// PATCH: title, description, cover; absent fields stay.
	e.clock.Advance(time.Minute)
	resp, body = e.do("PATCH", "/api/albums/"+a.ID, map[string]any{"title": "Smith & Jones Wedding", "cover_media_id": items[0].ID}, o.bearer())
	up := decode[albumView](t, body)
	if resp.StatusCode != 200 || up.Title != "Smith & Jones Wedding" || up.Description != "June 2026\nBarn" ||
		up.CoverMediaID == nil || *up.CoverMediaID != items[0].ID || up.UpdatedAt == a.UpdatedAt {
		t.Fatalf("patch: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("PATCH", "/api/albums/"+a.ID, map[string]any{"cover_media_id": nil, "description": ""}, o.bearer())
	up = decode[albumView](t, body)
	if resp.StatusCode != 200 || *up.CoverMediaID != items[1].ID || up.Description != "" || up.Title != "Smith & Jones Wedding" {
		t.Fatalf("patch clear: %d %s", resp.StatusCode, body)
	}

	// Validation.
	bad := []map[string]any{
		{"title": ""},
		{"title": "   "},
		{"title": strings.Repeat("x", 201)},
		{"title": "bell\x07"},
		{"description": strings.Repeat("x", 5001)},
		{"description": "nul\x00"},
		{"cover_media_id": "not-an-id"},
		{"cover_media_id": 42},
		{"cover_media_id": store.NewID()},
		{"cover_media_id": second.ID},
	}
	for _, b := range bad {
		if resp, body := e.do("PATCH", "/api/albums/"+a.ID, b, o.bearer()); resp.StatusCode != 400 {
			t.Errorf("patch %v: %d %s", b, resp.StatusCode, body)
		}
	}
	if resp, _ := e.do("PATCH", "/api/albums/"+a.ID, map[string]any{"title": strings.Repeat("é", 200)}, o.bearer()); resp.StatusCode != 200 {
		t.Errorf("200-character title refused: %d", resp.StatusCode)
	}
	for _, b := range []any{map[string]string{}, map[string]string{"title": strings.Repeat("y", 201)}, "[]"} {
		if resp, body := e.do("POST", "/api/albums", b, o.bearer()); resp.StatusCode != 400 {
			t.Errorf("create %v: %d %s", b, resp.StatusCode, body)
		}
	}

	// DELETE: album, media and originals go at once.
	resp, _ = e.do("DELETE", "/api/albums/"+a.ID, nil, o.bearer())
	if resp.StatusCode != 204 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	for _, p := range []string{"/api/albums/" + a.ID, "/api/media/" + items[0].ID, "/api/media/" + items[1].ID + "/original"} {
		if resp, _ := e.do("GET", p, nil, o.bearer()); resp.StatusCode != 404 {
			t.Fatalf("after delete %s: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := e.do("DELETE", "/api/albums/"+a.ID, nil, o.bearer()); resp.StatusCode != 404 {
		t.Fatalf("delete twice: %d", resp.StatusCode)
	}
	_, body = e.do("GET", "/api/albums", nil, o.bearer())
	if l := decode[mtAlbumList](t, body).Items; len(l) != 1 || l[0].ID != second.ID {
		t.Fatalf("list after delete %s", body)
	}
	for ev, want := range map[string]int{"album_created": 2, "album_deleted": 1} {
		if n := e.mtCount(`SELECT count(*) FROM audit_logs WHERE event_type = ? AND owner_id = ?`, ev, o.id); n != want {
			t.Errorf("%s audit events: %d, want %d", ev, n, want)
		}
	}
}

// TestAlbumOtherOwner: another owner's album id answers 404 on every album
// route, exactly like an unknown id, and nothing changes.
func TestAlbumOtherOwner(t *testing.T) {
	e := newTestEnv(t, nil)
	alice := e.createOwner("alice")
	mallory := e.createOwner("mallory")
	album := e.mtAlbum(alice, "Alice's secret shoot")
	j := mtJPEG(t, 16, 16, 51, "")
	_, body := e.mtUpload(alice, album, mtFile{name: "a.jpg", data: j})
	m := decode[mtItems](t, body).Items[0]
	mal := e.mtAlbum(mallory, "Mallory's")
	_, body = e.mtUpload(mallory, mal, mtFile{name: "m.jpg", data: mtJPEG(t, 16, 16, 52, "")})
	malMedia := decode[mtItems](t, body).Items[0]

	for _, id := range []string{album, store.NewID()} {
		for _, rt := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/api/albums/" + id, nil},
			{"PATCH", "/api/albums/" + id, map[string]string{"title": "pwned"}},
			{"DELETE", "/api/albums/" + id, nil},
		} {
			resp, body := e.do(rt.method, rt.path, rt.body, mallory.bearer())
			if resp.StatusCode != 404 || strings.Contains(string(body), "secret") || strings.Contains(string(body), m.ID) {
				t.Errorf("%s %s as mallory: %d %s", rt.method, rt.path, resp.StatusCode, body)
			}
		}
		resp, _ := e.mtUpload(mallory, id, mtFile{name: "x.jpg", data: mtJPEG(t, 16, 16, 53, "")})
		if resp.StatusCode != 404 {
			t.Errorf("upload into %s as mallory: %d", id, resp.StatusCode)
		}
	}
	// Mallory cannot make her media the cover of Alice's album, nor Alice's
	// media the cover of her own.
	if resp, _ := e.do("PATCH", "/api/albums/"+mal, map[string]string{"cover_media_id": m.ID}, mallory.bearer()); resp.StatusCode != 400 {
		t.Errorf("foreign cover: %d", resp.StatusCode)
	}
	_, body = e.do("GET", "/api/albums", nil, mallory.bearer())
	if l := decode[mtAlbumList](t, body).Items; len(l) != 1 || l[0].ID != mal || strings.Contains(string(body), album) {
		t.Fatalf("mallory's list: %s", body)
	}
	resp, body := e.do("GET", "/api/albums/"+album, nil, alice.bearer())
	det := decode[albumDetailView](t, body)
	if resp.StatusCode != 200 || det.Title != "Alice's secret shoot" || len(det.Media) != 1 || det.Media[0].ID != m.ID {
		t.Fatalf("alice's album changed: %s", body)
	}
	if strings.Contains(string(body), malMedia.ID) {
		t.Fatal("alice's album lists mallory's media")
	}
	if n := e.mtCount(`SELECT count(*) FROM media WHERE album_id = ?`, album); n != 1 {
		t.Fatalf("alice's album has %d media", n)
	}
}
