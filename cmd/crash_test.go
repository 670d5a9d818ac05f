package cmd_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // database/sql driver for reading the vault's database directly
)

// vaultAPI is a logged-in owner talking to a running serve over HTTP.
type vaultAPI struct {
	t     *testing.T
	base  string
	token string
}

// ownerPassword is the password of owners made by createOwnerCLI.
const ownerPassword = "lighthouse tangerine velvet 1987"

// createOwnerCLI makes an owner with `photovault user create`.
func createOwnerCLI(t *testing.T, dir string, env []string, username string) {
	t.Helper()
	code, out, stderr := runCmd(t, dir, env, ownerPassword+"\n", "user", "create", "--username", username, "--password-stdin")
	if code != 0 {
		t.Fatalf("user create: %d %s %s", code, out, stderr)
	}
}

// loginAPI logs in over HTTP.
func loginAPI(t *testing.T, addr, username string) *vaultAPI {
	t.Helper()
	a := &vaultAPI{t: t, base: "http://" + addr}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	a.json("POST", "/api/auth/login", map[string]string{"username": username, "password": ownerPassword}, 200, &tok)
	a.token = tok.AccessToken
	return a
}

func (a *vaultAPI) do(req *http.Request) (*http.Response, []byte) {
	a.t.Helper()
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("%s %s: read: %v", req.Method, req.URL.Path, err)
	}
	return resp, b
}

// json sends a JSON request, checks the status and decodes the answer.
func (a *vaultAPI) json(method, path string, body any, want int, out any) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, a.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, b := a.do(req)
	if resp.StatusCode != want {
		a.t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// get returns the body of a GET that must answer 200.
func (a *vaultAPI) get(path string) []byte {
	a.t.Helper()
	req, _ := http.NewRequest("GET", a.base+path, nil)
	resp, b := a.do(req)
	if resp.StatusCode != 200 {
		a.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return b
}

func (a *vaultAPI) createAlbum(title string) string {
	a.t.Helper()
	var al struct{ ID string }
	a.json("POST", "/api/albums", map[string]string{"title": title}, 201, &al)
	return al.ID
}

// apiMedia is the part of the media JSON the tests read.
type apiMedia struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	Duplicate bool   `json:"duplicate"`
}

// upload sends one file in a multipart body and returns its media.
func (a *vaultAPI) upload(albumID, name string, data []byte) apiMedia {
	a.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		a.t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", a.base+"/api/albums/"+albumID+"/media", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, b := a.do(req)
	if resp.StatusCode != 201 {
		a.t.Fatalf("upload %s: %d %s", name, resp.StatusCode, b)
	}
	var out struct{ Items []apiMedia }
	if err := json.Unmarshal(b, &out); err != nil || len(out.Items) != 1 {
		a.t.Fatalf("upload answer %s: %v", b, err)
	}
	return out.Items[0]
}

// waitReady polls a media item until its derivatives are done.
func (a *vaultAPI) waitReady(id string) apiMedia {
	a.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var m apiMedia
		a.json("GET", "/api/media/"+id, nil, 200, &m)
		if m.Status != "processing" {
			if m.Status != "ready" {
				a.t.Fatalf("media %s: status %s", id, m.Status)
			}
			return m
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("media %s still processing", id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testJPEG is a real JPEG of w×h with a gradient seeded by seed.
func testJPEG(t testing.TB, w, h int, seed uint8) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), seed, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// openDB opens the vault's database file directly.
func openDB(t *testing.T, dataDir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "photovault.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func integrityOK(t *testing.T, db *sql.DB) {
	t.Helper()
	var res string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check: %q %v", res, err)
	}
	var fk int
	rows, err := db.Query(`PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		fk++
	}
	rows.Close()
	if fk != 0 {
		t.Fatalf("%d foreign key violations", fk)
	}
}

// blobFilesOnDisk lists the committed blob files by id.
func blobFilesOnDisk(t *testing.T, dataDir string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	err := filepath.WalkDir(filepath.Join(dataDir, "blobs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			out[d.Name()] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func blobRows(t *testing.T, db *sql.DB) map[string]bool {
	t.Helper()
	rows, err := db.Query(`SELECT id FROM blobs`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out[id] = true
	}
	return out
}

// tmpFiles lists tmp/ with sizes.
func tmpFiles(dataDir string) map[string]int64 {
	out := map[string]int64{}
	ents, _ := os.ReadDir(filepath.Join(dataDir, "tmp"))
	for _, e := range ents {
		if info, err := e.Info(); err == nil {
			out[e.Name()] = info.Size()
		}
	}
	return out
}

// TestCrashDuringUpload kills serve with SIGKILL in the middle of a large
// streamed upload and checks what the restart finds (SECURITY.md #18):
// an intact database, no trace of the killed upload in the rows, its
// partial bytes reclaimed, and the media committed before the kill intact.
func TestCrashDuringUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("streams hundreds of MB")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "d")
	env := baseEnv("PHOTOVAULT_ADDR=127.0.0.1:0", "PHOTOVAULT_DATA_DIR="+data, "PHOTOVAULT_RATE_LIMIT=0")
	createOwnerCLI(t, dir, env, "ada")
	d := startServe(t, dir, env)
	api := loginAPI(t, d.addr, "ada")
	album := api.createAlbum("Wedding")
	before := testJPEG(t, 640, 480, 7)
	kept := api.upload(album, "before.jpg", before)
	api.waitReady(kept.ID)
	keptThumb := api.get("/api/media/" + kept.ID + "/thumb")

	// A 300 MB upload generated on the fly: a real JPEG, then filler.
	const total = 300 << 20
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="killed.jpg"`)
		h.Set("Content-Type", "image/jpeg")
		part, err := mw.CreatePart(h)
		if err != nil {
			_ = pw.CloseWithError(err)
			return
		}
		head := testJPEG(t, 320, 240, 9)
		if _, err := part.Write(head); err != nil {
			_ = pw.CloseWithError(err)
			return
		}
		filler := bytes.Repeat([]byte("photovault-filler-"), (1<<20)/18)
		for n := len(head); n < total; n += len(filler) {
			if _, err := part.Write(filler); err != nil {
				_ = pw.CloseWithError(err)
				return
			}
		}
		_ = mw.Close()
		_ = pw.Close()
	}()
	req, _ := http.NewRequestWithContext(context.Background(), "POST", api.base+"/api/albums/"+album+"/media", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+api.token)
	uploadDone := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			err = fmt.Errorf("upload finished before the kill: %d %s", resp.StatusCode, b)
		}
		uploadDone <- err
	}()

	// Kill once a good part of the file is in tmp/.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var biggest int64
		for _, sz := range tmpFiles(data) {
			biggest = max(biggest, sz)
		}
		if biggest >= 64<<20 {
			break
		}
		select {
		case err := <-uploadDone:
			t.Fatalf("upload ended early: %v\n%s", err, d.logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("upload did not progress\n%s", d.logs())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-d.done
	_ = pr.CloseWithError(fmt.Errorf("server killed"))
	if err := <-uploadDone; err == nil || strings.Contains(err.Error(), "finished before the kill") {
		t.Fatalf("upload: %v", err)
	}
	if len(tmpFiles(data)) == 0 {
		t.Fatal("the kill left no partial file: it did not hit mid-stream")
	}
	// The database as the crash left it.
	db := openDB(t, data)
	integrityOK(t, db)
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM media WHERE filename = 'killed.jpg'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("killed upload has %d media rows (%v)", n, err)
	}
	_ = db.Close()

	// Restart: tmp/ is emptied, the reconciler runs once at start.
	d = startServe(t, dir, env)
	api = loginAPI(t, d.addr, "ada")
	if left := tmpFiles(data); len(left) != 0 {
		t.Fatalf("tmp/ not emptied at start: %v", left)
	}
	var al struct {
		Media []apiMedia `json:"media"`
	}
	api.json("GET", "/api/albums/"+album, nil, 200, &al)
	if len(al.Media) != 1 || al.Media[0].ID != kept.ID {
		t.Fatalf("album after crash: %+v", al.Media)
	}
	if got := api.get("/api/media/" + kept.ID + "/original"); !bytes.Equal(got, before) {
		t.Fatal("media committed before the kill changed")
	}
	if got := api.get("/api/media/" + kept.ID + "/thumb"); !bytes.Equal(got, keptThumb) {
		t.Fatal("thumbnail committed before the kill changed")
	}
	// The vault still takes uploads.
	after := api.upload(album, "after.jpg", testJPEG(t, 200, 100, 3))
	api.waitReady(after.ID)
	if code := d.stop(t); code != 0 {
		t.Fatalf("exit %d\n%s", code, d.logs())
	}

	db = openDB(t, data)
	integrityOK(t, db)
	if err := db.QueryRow(`SELECT count(*) FROM media`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d media rows (%v), want 2", n, err)
	}
	// Every blob file has a row and every row its file: no orphan of the
	// killed upload reached blobs/, no row points at nothing.
	files, rows := blobFilesOnDisk(t, data), blobRows(t, db)
	for id := range files {
		if !rows[id] {
			t.Errorf("orphan blob file %s", id)
		}
	}
	for id := range rows {
		if !files[id] {
			t.Errorf("blob row %s without its file", id)
		}
	}
	var used int64
	for _, sub := range []string{"blobs", "tmp"} {
		_ = filepath.WalkDir(filepath.Join(data, sub), func(p string, de fs.DirEntry, err error) error {
			if err == nil && !de.IsDir() {
				if info, err := de.Info(); err == nil {
					used += info.Size()
				}
			}
			return nil
		})
	}
	if used > 8<<20 {
		t.Fatalf("blobs/ and tmp/ hold %d MB after the crash: the partial upload was not reclaimed", used>>20)
	}
}
