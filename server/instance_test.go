package server

import (
	"strconv"
	"testing"
)

func TestInstance(t *testing.T) {
	// Without SMTP (the default test env): mail is off.
	e := newTestEnv(t, nil)
	if resp, b := e.do("GET", "/api/instance", nil, nil); resp.StatusCode != 401 {
		t.Fatalf("anonymous: %d %s", resp.StatusCode, b)
	}
	o := e.createOwner("ada")
	resp, body := e.do("GET", "/api/instance/", nil, o.bearer())
	got := decode[instanceView](t, body)
	if resp.StatusCode != 200 || got.Mail || got.Version != "test" || got.PublicURL != e.cfg.BaseURL() || got.PublicURL == "" {
		t.Fatalf("instance without SMTP: %d %s", resp.StatusCode, body)
	}
	// The raw answer carries the documented fields, mail as a real false.
	raw := decode[map[string]any](t, body)
	if v, ok := raw["mail"].(bool); !ok || v {
		t.Fatalf("mail field %#v in %s", raw["mail"], body)
	}

	// With SMTP configured: mail is on, and the public URL is the one share links use.
	_, port := startInbox(t)
	e2 := newTestEnv(t, map[string]string{"PHOTOVAULT_SMTP_HOST": "127.0.0.1", "PHOTOVAULT_SMTP_PORT": strconv.Itoa(port),
		"PHOTOVAULT_SMTP_TLS": "none", "PHOTOVAULT_SMTP_FROM": "studio@example.com", "PHOTOVAULT_PUBLIC_URL": "https://photos.example.com/"})
	o2 := e2.createOwner("grace")
	resp, body = e2.do("GET", "/api/instance", nil, o2.bearer())
	got = decode[instanceView](t, body)
	if resp.StatusCode != 200 || !got.Mail || got.Version != "test" || got.PublicURL != "https://photos.example.com" {
		t.Fatalf("instance with SMTP: %d %s", resp.StatusCode, body)
	}
	g := e2.gallery(1)
	sh := e2.share(g.owner, map[string]any{"album_id": g.album.ID})
	if want := got.PublicURL + "/s/" + sh.Token; sh.URL != want {
		t.Fatalf("share url %q, want it on public_url (%q)", sh.URL, want)
	}
}
