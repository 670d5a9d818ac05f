package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/imaging"
)

// makeJPEG draws a real w×h JPEG (a gradient with a seed-dependent tint).
func makeJPEG(t testing.TB, w, h int, seed uint8) []byte {
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

// withGPS writes GPS, camera and serial tags into a JPEG with exiftool, or
// skips the test when exiftool is not installed.
func withGPS(t testing.TB, data []byte) []byte {
	t.Helper()
	if _, err := exec.LookPath("exiftool"); err != nil {
		t.Skip("exiftool not installed")
	}
	p := filepath.Join(t.TempDir(), "gps.jpg")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("exiftool", "-q", "-overwrite_original", "-GPSLatitude=48.858370", "-GPSLatitudeRef=N",
		"-GPSLongitude=2.294481", "-GPSLongitudeRef=E", "-Make=CanaryMaker", "-Model=CanaryCam 9000",
		"-SerialNumber=SN-CANARY-123", p).CombinedOutput()
	if err != nil {
		t.Fatalf("exiftool: %v %s", err, out)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// addPhoto stores a real photo the way the vault does: an encrypted blob, a
// media row, and encrypted preview/thumb (and stripped-original) derivatives.
func (e *testEnv) addPhoto(o owner, albumID, name string, data []byte) store.Media {
	e.t.Helper()
	ctx := context.Background()
	d, err := imaging.Sniff(data)
	if err != nil {
		e.t.Fatal(err)
	}
	w, err := e.srv.blobs.Create(e.srv.kek())
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		e.t.Fatal(err)
	}
	ref, err := w.Commit()
	if err != nil {
		e.t.Fatal(err)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		e.t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	m, dup, err := e.store.InsertMedia(ctx, store.Media{OwnerID: o.id, AlbumID: albumID, SHA256: hex.EncodeToString(sum[:]),
		CRC32: crc32.ChecksumIEEE(data), Size: int64(len(data)), ContentType: d.ContentType, Kind: string(d.Kind), Filename: name,
		Width: cfg.Width, Height: cfg.Height}, ref, nil)
	if err != nil || dup {
		e.t.Fatalf("insert media: %v dup=%v", err, dup)
	}
	preview, thumb, err := imaging.Derive(bytes.NewReader(data), d, 1)
	if err != nil {
		e.t.Fatal(err)
	}
	pc, _, _ := image.DecodeConfig(bytes.NewReader(preview))
	tc, _, _ := image.DecodeConfig(bytes.NewReader(thumb))
	if _, err := e.srv.putDerivative(ctx, m.ID, "preview", preview, pc.Width, pc.Height); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.srv.putDerivative(ctx, m.ID, "thumb", thumb, tc.Width, tc.Height); err != nil {
		e.t.Fatal(err)
	}
	// The location-free copy as the derive worker makes it (a splice of
	// the original for JPEGs).
	jm := store.JobMedia{ID: m.ID, BlobID: m.BlobID, ContentType: d.ContentType, Kind: string(d.Kind), Width: cfg.Width, Height: cfg.Height}
	if _, err := e.srv.storeStripped(ctx, jm, d, bytes.NewReader(data)); err != nil {
		e.t.Fatal(err)
	}
	return m
}

// newAlbum creates an album for o.
func (e *testEnv) newAlbum(o owner, title string) store.Album {
	e.t.Helper()
	a, err := e.store.CreateAlbum(context.Background(), o.id, title, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}
