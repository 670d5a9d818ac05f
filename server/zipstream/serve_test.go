package zipstream

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

type serveResult struct {
	status int
	header http.Header
	body   []byte
	err    error // reading the body
}

func doRequest(t *testing.T, srv *httptest.Server, method string, hdr map[string]string) serveResult {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return serveResult{resp.StatusCode, resp.Header, body, err}
}

func newServer(t *testing.T, a *Archive, filename string) (*httptest.Server, chan error) {
	t.Helper()
	errs := make(chan error, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := a.Serve(w, r, filename)
		select {
		case errs <- err:
		default: // nobody is collecting
		}
	}))
	t.Cleanup(srv.Close)
	return srv, errs
}

func TestServe(t *testing.T) {
	entries, _ := sampleEntries(nil)
	a := mustNew(t, entries)
	full := fullBytes(t, a)
	size := a.Size()
	srv, _ := newServer(t, a, "Hochzeit Müller")
	etag := a.ETag()

	cases := []struct {
		name       string
		method     string
		hdr        map[string]string
		wantStatus int
		wantBody   []byte
		wantRange  string
	}{
		{"full", "GET", nil, 200, full, ""},
		{"range", "GET", map[string]string{"Range": "bytes=10-99"}, 206, full[10:100], fmt.Sprintf("bytes 10-99/%d", size)},
		{"open-ended range", "GET", map[string]string{"Range": "bytes=1000-"}, 206, full[1000:], fmt.Sprintf("bytes 1000-%d/%d", size-1, size)},
		{"suffix range", "GET", map[string]string{"Range": "bytes=-50"}, 206, full[size-50:], fmt.Sprintf("bytes %d-%d/%d", size-50, size-1, size)},
		{"suffix larger than archive", "GET", map[string]string{"Range": "bytes=-99999999"}, 206, full, fmt.Sprintf("bytes 0-%d/%d", size-1, size)},
		{"end past archive is clamped", "GET", map[string]string{"Range": fmt.Sprintf("bytes=%d-99999999999999999999", size-3)}, 206, full[size-3:], fmt.Sprintf("bytes %d-%d/%d", size-3, size-1, size)},
		{"last byte", "GET", map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", size-1, size-1)}, 206, full[size-1:], fmt.Sprintf("bytes %d-%d/%d", size-1, size-1, size)},
		{"unsatisfiable", "GET", map[string]string{"Range": fmt.Sprintf("bytes=%d-", size)}, 416, nil, fmt.Sprintf("bytes */%d", size)},
		{"unsatisfiable huge start", "GET", map[string]string{"Range": "bytes=99999999999999999999999-"}, 416, nil, fmt.Sprintf("bytes */%d", size)},
		{"empty suffix", "GET", map[string]string{"Range": "bytes=-0"}, 416, nil, fmt.Sprintf("bytes */%d", size)},
		{"If-Range matches", "GET", map[string]string{"Range": "bytes=5-9", "If-Range": etag}, 206, full[5:10], fmt.Sprintf("bytes 5-9/%d", size)},
		{"If-Range mismatch", "GET", map[string]string{"Range": "bytes=5-9", "If-Range": `"z1-stale"`}, 200, full, ""},
		{"If-Range weak", "GET", map[string]string{"Range": "bytes=5-9", "If-Range": "W/" + etag}, 200, full, ""},
		{"If-Range date", "GET", map[string]string{"Range": "bytes=5-9", "If-Range": "Wed, 21 Oct 2015 07:28:00 GMT"}, 200, full, ""},
		{"If-Range mismatch on unsatisfiable", "GET", map[string]string{"Range": "bytes=999999999-", "If-Range": `"old"`}, 200, full, ""},
		{"several ranges ignored", "GET", map[string]string{"Range": "bytes=0-1,5-6"}, 200, full, ""},
		{"malformed ignored", "GET", map[string]string{"Range": "bytes=9-3"}, 200, full, ""},
		{"other unit ignored", "GET", map[string]string{"Range": "items=0-1"}, 200, full, ""},
		{"signed number ignored", "GET", map[string]string{"Range": "bytes=+1-5"}, 200, full, ""},
		{"HEAD", "HEAD", nil, 200, nil, ""},
		{"HEAD range", "HEAD", map[string]string{"Range": "bytes=0-9"}, 206, nil, fmt.Sprintf("bytes 0-9/%d", size)},
		{"If-None-Match", "GET", map[string]string{"If-None-Match": `"a", W/` + etag}, 304, nil, ""},
		{"If-None-Match other", "GET", map[string]string{"If-None-Match": `"other"`}, 200, full, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := doRequest(t, srv, tc.method, tc.hdr)
			if res.err != nil {
				t.Fatalf("body: %v", res.err)
			}
			if res.status != tc.wantStatus {
				t.Fatalf("status %d, want %d", res.status, tc.wantStatus)
			}
			if tc.wantBody != nil && !bytes.Equal(res.body, tc.wantBody) {
				t.Errorf("body of %d bytes differs from the expected %d", len(res.body), len(tc.wantBody))
			}
			if tc.method == "HEAD" && len(res.body) != 0 {
				t.Error("HEAD sent a body")
			}
			if got := res.header.Get("Content-Range"); got != tc.wantRange {
				t.Errorf("Content-Range %q, want %q", got, tc.wantRange)
			}
			if res.header.Get("ETag") != etag || res.header.Get("Accept-Ranges") != "bytes" {
				t.Errorf("ETag %q Accept-Ranges %q", res.header.Get("ETag"), res.header.Get("Accept-Ranges"))
			}
			if tc.wantStatus == 200 || tc.wantStatus == 206 {
				wantLen := int64(len(tc.wantBody))
				if tc.method == "HEAD" {
					wantLen = size
					if tc.wantStatus == 206 {
						wantLen = 10
					}
				}
				if got := res.header.Get("Content-Length"); got != strconv.FormatInt(wantLen, 10) {
					t.Errorf("Content-Length %q, want %d", got, wantLen)
				}
				if res.header.Get("Content-Type") != "application/zip" {
					t.Errorf("Content-Type %q", res.header.Get("Content-Type"))
				}
				if res.header.Get("X-Content-Type-Options") != "nosniff" {
					t.Error("nosniff missing")
				}
				want := `attachment; filename="Hochzeit M_ller.zip"; filename*=UTF-8''Hochzeit%20M%C3%BCller.zip`
				if got := res.header.Get("Content-Disposition"); got != want {
					t.Errorf("Content-Disposition %q, want %q", got, want)
				}
			}
		})
	}

	t.Run("method not allowed", func(t *testing.T) {
		res := doRequest(t, srv, "POST", nil)
		if res.status != 405 || res.header.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST: %d, Allow %q", res.status, res.header.Get("Allow"))
		}
	})
}

// TestServeResume is the product case: a download breaks off and resumes with
// Range + If-Range; the pieces join into the exact archive.
func TestServeResume(t *testing.T) {
	entries, _ := sampleEntries(nil)
	a := mustNew(t, entries)
	full := fullBytes(t, a)
	srv, _ := newServer(t, a, "all.zip")

	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 123_457)
	if _, err := io.ReadFull(resp.Body, part); err != nil {
		t.Fatal(err)
	}
	etag := resp.Header.Get("ETag")
	resp.Body.Close() // the connection drops mid-download

	res := doRequest(t, srv, "GET", map[string]string{
		"Range": fmt.Sprintf("bytes=%d-", len(part)), "If-Range": etag,
	})
	if res.status != 206 || res.err != nil {
		t.Fatalf("resume: %d %v", res.status, res.err)
	}
	if !bytes.Equal(append(part, res.body...), full) {
		t.Fatal("resumed download differs from the archive")
	}
}

// TestServeEntryFailure: when an entry fails mid-stream, the client sees a
// short body (never a complete-looking corrupt archive) and Serve reports the
// error for the log.
func TestServeEntryFailure(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 200_000)
	a := mustNew(t, []Entry{
		memEntry("ok.jpg", data, testTime, nil),
		{Name: "gone.jpg", Size: 500_000, CRC32: 1, Modified: testTime, Open: func(int64) (io.ReadCloser, error) {
			return nil, errors.New("blob missing")
		}},
	})
	srv, errs := newServer(t, a, "x.zip")
	res := doRequest(t, srv, "GET", nil)
	if res.status != 200 {
		t.Fatalf("status %d", res.status)
	}
	if res.err == nil || int64(len(res.body)) >= a.Size() {
		t.Errorf("client read %d of %d bytes without error", len(res.body), a.Size())
	}
	if err := <-errs; err == nil || !strings.Contains(err.Error(), "gone.jpg") {
		t.Errorf("Serve returned %v", err)
	}
}

func TestContentDisposition(t *testing.T) {
	cases := map[string]string{
		"album":                   `attachment; filename="album.zip"; filename*=UTF-8''album.zip`,
		"Album.ZIP":               `attachment; filename="Album.ZIP"; filename*=UTF-8''Album.ZIP`,
		"":                        `attachment; filename="download.zip"; filename*=UTF-8''download.zip`,
		"..":                      `attachment; filename="download.zip"; filename*=UTF-8''download.zip`,
		"../../etc/passwd":        `attachment; filename="passwd.zip"; filename*=UTF-8''passwd.zip`,
		`C:\x\y.zip`:              `attachment; filename="y.zip"; filename*=UTF-8''y.zip`,
		"a\"b\r\nSet-Cookie: x=1": `attachment; filename="a_bSet-Cookie: x=1.zip"; filename*=UTF-8''a%22bSet-Cookie%3A%20x%3D1.zip`,
		"100% 😀;.zip":             `attachment; filename="100_ _;.zip"; filename*=UTF-8''100%25%20%F0%9F%98%80%3B.zip`,
	}
	for in, want := range cases {
		got := contentDisposition(in)
		if got != want {
			t.Errorf("contentDisposition(%q)\n got %s\nwant %s", in, got, want)
		}
		if strings.ContainsAny(got, "\r\n\x00") {
			t.Errorf("control characters in %q", got)
		}
	}
}
