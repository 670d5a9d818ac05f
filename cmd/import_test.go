package cmd_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/photovault/photovault/store"
)

// importJPEG encodes a small distinct JPEG.
func importJPEG(t *testing.T, seed int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 48, 32))
	for i := range img.Pix {
		img.Pix[i] = byte(i*seed + seed)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func importWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// importMedia opens the vault's database and lists the album's media.
func importMedia(t *testing.T, data, username, title string) []store.Media {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(data, store.FileName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.UserByUsername(ctx, username)
	if err != nil {
		t.Fatal(err)
	}
	albums, err := st.Albums(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Media
	n := 0
	for _, a := range albums {
		if a.Title != title {
			continue
		}
		n++
		ms, err := st.AlbumMedia(ctx, u.ID, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ms...)
	}
	if n != 1 {
		t.Fatalf("%d albums titled %q", n, title)
	}
	return out
}

func TestImportResumable(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	env := baseEnv("PHOTOVAULT_DATA_DIR=" + data)
	if code, _, stderr := runCmd(t, dir, env, "lighthouse tangerine velvet 1987\n", "user", "create", "--username", "ada", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %s", stderr)
	}
	photos := filepath.Join(dir, "shoot")
	want := map[string][]byte{}
	for i, rel := range []string{"day1/IMG_0001.jpg", "day1/IMG_0002.jpg", "day2/IMG_0003.JPG", "day2/raw/IMG_0004.jpeg", "IMG_0005.jpg"} {
		b := importJPEG(t, i+3)
		importWrite(t, filepath.Join(photos, rel), b)
		want[filepath.Base(rel)] = b
	}
	importWrite(t, filepath.Join(photos, "copies", "IMG_0001 copy.jpg"), want["IMG_0001.jpg"]) // same content
	importWrite(t, filepath.Join(photos, ".DS_Store"), []byte("Bud1 hidden junk"))
	importWrite(t, filepath.Join(photos, ".thumbnails", "x.jpg"), importJPEG(t, 99))

	code, out, stderr := runCmd(t, dir, env, "", "import", photos, "--album", "Smith Wedding", "--owner", "ada", "--workers", "3", "--derive=false")
	if code != 0 {
		t.Fatalf("first import: %d\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(out, "made by `photovault serve`") {
		t.Errorf("--derive=false summary:\n%s", out)
	}
	if !strings.Contains(out, "Imported 5 files") || !strings.Contains(out, "1 duplicates") || !strings.Contains(out, "2 hidden") {
		t.Fatalf("first summary:\n%s", out)
	}
	// stderr is not a terminal: plain progress lines, no carriage returns.
	if !strings.Contains(stderr, "6/6 files") || !strings.Contains(stderr, "ETA") || strings.Contains(stderr, "\r") {
		t.Fatalf("progress on stderr:\n%q", stderr)
	}
	media := importMedia(t, data, "ada", "Smith Wedding")
	if len(media) != 5 {
		t.Fatalf("%d media after the first import", len(media))
	}
	for _, m := range media {
		b, ok := want[m.Filename]
		if !ok && m.Filename == "IMG_0001 copy.jpg" {
			b, ok = want["IMG_0001.jpg"], true
		}
		if !ok || m.SHA256 != importSHA(b) || m.Size != int64(len(b)) || m.ContentType != "image/jpeg" || m.Status != store.MediaStatusProcessing {
			t.Errorf("media %+v", m)
		}
	}
	// Stored encrypted: no blob file starts with JPEG magic.
	blobs := 0
	filepath.WalkDir(filepath.Join(data, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			blobs++
			b, _ := os.ReadFile(p)
			if bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}) {
				t.Errorf("plaintext JPEG at %s", p)
			}
		}
		return nil
	})
	if blobs != 5 {
		t.Fatalf("%d blob files, want 5 (the duplicate's must be deleted)", blobs)
	}

	// Second run: nothing new, everything skipped, same album; this time
	// the queued previews are made (the default).
	code, out, stderr = runCmd(t, dir, env, "", "import", photos, "--album", "Smith Wedding", "--owner", "ada")
	if code != 0 {
		t.Fatalf("second import: %d\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(out, "Imported 0 files") || !strings.Contains(out, "Skipped 6 already in the album") ||
		!strings.Contains(out, "Previews and thumbnails: 5 ready.") {
		t.Fatalf("second summary:\n%s", out)
	}
	if !strings.Contains(stderr, "Making previews and thumbnails for 5 files") || !strings.Contains(stderr, "5/5 previews") {
		t.Fatalf("derive progress on stderr:\n%s", stderr)
	}
	got := importMedia(t, data, "ada", "Smith Wedding")
	if len(got) != 5 {
		t.Fatalf("%d media after the second import", len(got))
	}
	for _, m := range got {
		if m.Status != store.MediaStatusReady {
			t.Errorf("%s: status %s after the derive, want ready", m.Filename, m.Status)
		}
	}
	// Previews and thumbnails are stored encrypted too.
	filepath.WalkDir(filepath.Join(data, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			blobs--
			if b, _ := os.ReadFile(p); bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}) {
				t.Errorf("plaintext JPEG at %s", p)
			}
		}
		return nil
	})
	if blobs > -10 {
		t.Errorf("only %d new blob files after the derive, want a preview and a thumbnail each", -blobs)
	}
}

func TestImportRejectsAndFails(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	env := baseEnv("PHOTOVAULT_DATA_DIR="+data, "PHOTOVAULT_MAX_UPLOAD_BYTES=20000")
	if code, _, stderr := runCmd(t, dir, env, "lighthouse tangerine velvet 1987\n", "user", "create", "--username", "ada", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %s", stderr)
	}
	photos := filepath.Join(dir, "mixed")
	importWrite(t, filepath.Join(photos, "good.jpg"), importJPEG(t, 5))
	importWrite(t, filepath.Join(photos, "notes.txt"), []byte("just text"))
	importWrite(t, filepath.Join(photos, "page.jpg"), []byte("<html><script>alert(1)</script></html>"))
	importWrite(t, filepath.Join(photos, "huge.jpg"), append(importJPEG(t, 6), make([]byte, 30000)...))

	code, out, stderr := runCmd(t, dir, env, "", "import", photos, "--album", "Mixed", "--owner", "ada")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, stderr)
	}
	for _, s := range []string{"Imported 1 files", "Rejected 3:", "notes.txt: not a supported photo or video",
		"page.jpg: not a supported photo or video", "huge.jpg: larger than the upload limit"} {
		if !strings.Contains(out, s) {
			t.Errorf("summary lacks %q:\n%s", s, out)
		}
	}
	if got := importMedia(t, data, "ada", "Mixed"); len(got) != 1 || got[0].Filename != "good.jpg" {
		t.Fatalf("media %+v", got)
	}
	// Wrong owner and missing flags fail cleanly.
	if code, _, stderr := runCmd(t, dir, env, "", "import", photos, "--album", "Mixed", "--owner", "nobody"); code == 0 || !strings.Contains(stderr, "no owner named") {
		t.Fatalf("unknown owner: %d %s", code, stderr)
	}
	if code, _, _ := runCmd(t, dir, env, "", "import", photos, "--owner", "ada"); code == 0 {
		t.Fatal("missing --album accepted")
	}
	if code, _, _ := runCmd(t, dir, env, "", "import", filepath.Join(photos, "good.jpg"), "--album", "X", "--owner", "ada"); code == 0 {
		t.Fatal("a file as DIR accepted")
	}
}

func importSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
