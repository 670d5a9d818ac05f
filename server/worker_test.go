package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/imaging"
)

// workerEnv is a real server (SQLite file, blob dir, injectable clock)
// with one owner and album, for driving the derive worker and collector.
type workerEnv struct {
	*testEnv
	ctx   context.Context
	owner string
	album string
}

func newWorkerEnv(t *testing.T, env map[string]string) *workerEnv {
	t.Helper()
	e := newTestEnv(t, env)
	ctx := context.Background()
	u, err := e.store.CreateUser(ctx, "worker", "x")
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.store.CreateAlbum(ctx, u.ID, "shoot", "")
	if err != nil {
		t.Fatal(err)
	}
	return &workerEnv{testEnv: e, ctx: ctx, owner: u.ID, album: a.ID}
}

// addOriginal encrypts data into a blob and records it as a media item
// with a queued derive job, as an upload does.
func (w *workerEnv) addOriginal(data []byte, orientation int) store.Media {
	w.t.Helper()
	var head []byte
	if len(data) > imaging.SniffLen {
		head = data[:imaging.SniffLen]
	} else {
		head = data
	}
	d, err := imaging.Sniff(head)
	if err != nil {
		w.t.Fatalf("test file: %v", err)
	}
	bw, err := w.srv.blobs.Create(w.srv.kek())
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := bw.Write(data); err != nil {
		w.t.Fatal(err)
	}
	ref, err := bw.Commit()
	if err != nil {
		w.t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	m := store.Media{OwnerID: w.owner, AlbumID: w.album, SHA256: hex.EncodeToString(sum[:]), CRC32: crc32.ChecksumIEEE(data),
		Size: int64(len(data)), ContentType: d.ContentType, Kind: string(d.Kind), Filename: "f", Width: 1, Height: 1, Orientation: orientation}
	m, dup, err := w.store.InsertMedia(w.ctx, m, ref, nil)
	if err != nil || dup {
		w.t.Fatalf("insert media: %v dup=%v", err, dup)
	}
	return m
}

// runJobs runs derive jobs in the test goroutine until none is ready.
func (w *workerEnv) runJobs() int {
	n := 0
	for w.srv.runDeriveJob(w.ctx) {
		n++
	}
	return n
}

func (w *workerEnv) media(id string) store.JobMedia {
	w.t.Helper()
	m, err := w.store.MediaForJob(w.ctx, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return m
}

func (w *workerEnv) job(id string) store.JobState {
	w.t.Helper()
	j, err := w.store.JobFor(w.ctx, store.JobDerive, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return j
}

// derivative returns a derivative row and its decrypted bytes.
func (w *workerEnv) derivative(mediaID, variant string) (store.Derivative, []byte) {
	w.t.Helper()
	d, err := w.store.Derivative(w.ctx, mediaID, variant)
	if err != nil {
		w.t.Fatalf("%s of %s: %v", variant, mediaID, err)
	}
	r, err := w.srv.openBlob(w.ctx, d.BlobID)
	if err != nil {
		w.t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		w.t.Fatal(err)
	}
	return d, b
}

// blobFiles lists the committed blob files (path → content).
func (w *workerEnv) blobFiles() map[string][]byte {
	w.t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(w.cfg.BlobRoot(), func(p string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = b
		return err
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

// wkImage is a gradient whose top-left quadrant is red, so orientation can
// be checked on the derivative.
func wkImage(wd, ht int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, wd, ht))
	for y := 0; y < ht; y++ {
		for x := 0; x < wd; x++ {
			c := color.RGBA{uint8(x * 255 / wd), uint8(y * 255 / ht), 128, 255}
			if x < wd/2 && y < ht/2 {
				c = color.RGBA{250, 10, 10, 255}
			}
			img.Set(x, y, c)
		}
	}
	return img
}

func wkJPEG(t testing.TB, wd, ht int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, wkImage(wd, ht), &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func wkPNG(t testing.TB, wd, ht int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, wkImage(wd, ht)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// wkGPSMarker is a string placed in the GPS IFD (GPSMapDatum) so tests can
// see whether the GPS block survived.
const wkGPSMarker = "GPSCANARY-51N"

// wkWithGPS inserts an EXIF APP1 right after SOI carrying a GPS IFD
// (latitude ref, latitude, and a map datum holding wkGPSMarker).
func wkWithGPS(jpg []byte) []byte {
	le := binary.LittleEndian
	var tiff []byte
	tiff = append(tiff, 'I', 'I', 42, 0, 8, 0, 0, 0)
	// IFD0 at 8: one entry, GPSInfo pointer.
	gpsOff := uint32(8 + 2 + 12 + 4)
	tiff = le.AppendUint16(tiff, 1)
	tiff = le.AppendUint16(tiff, 0x8825)
	tiff = le.AppendUint16(tiff, 4)
	tiff = le.AppendUint32(tiff, 1)
	tiff = le.AppendUint32(tiff, gpsOff)
	tiff = le.AppendUint32(tiff, 0)
	// GPS IFD: LatitudeRef "N", Latitude 3 rationals, MapDatum string.
	dataOff := gpsOff + 2 + 3*12 + 4
	datum := append([]byte(wkGPSMarker), 0)
	tiff = le.AppendUint16(tiff, 3)
	tiff = le.AppendUint16(tiff, 0x0001)
	tiff = le.AppendUint16(tiff, 2)
	tiff = le.AppendUint32(tiff, 2)
	tiff = append(tiff, 'N', 0, 0, 0)
	tiff = le.AppendUint16(tiff, 0x0002)
	tiff = le.AppendUint16(tiff, 5)
	tiff = le.AppendUint32(tiff, 3)
	tiff = le.AppendUint32(tiff, dataOff)
	tiff = le.AppendUint16(tiff, 0x0012)
	tiff = le.AppendUint16(tiff, 2)
	tiff = le.AppendUint32(tiff, uint32(len(datum)))
	tiff = le.AppendUint32(tiff, dataOff+24)
	tiff = le.AppendUint32(tiff, 0)
	for _, v := range []uint32{51, 1, 30, 1, 0, 1} {
		tiff = le.AppendUint32(tiff, v)
	}
	tiff = append(tiff, datum...)
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	seg = append(seg, payload...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

func TestDeriveJPEGWithLocation(t *testing.T) {
	w := newWorkerEnv(t, nil)
	orig := wkWithGPS(wkJPEG(t, 2400, 1600))
	if !bytes.Contains(orig, []byte(wkGPSMarker)) {
		t.Fatal("fixture lacks the marker")
	}
	m := w.addOriginal(orig, 6) // rotate 90° clockwise for display
	if n := w.runJobs(); n != 1 {
		t.Fatalf("ran %d jobs", n)
	}
	if got := w.media(m.ID).Status; got != store.MediaStatusReady {
		t.Fatalf("status %s\n%s", got, w.logs)
	}
	if j := w.job(m.ID); j.State != "done" || j.Attempts != 1 {
		t.Fatalf("job %+v", j)
	}
	for _, c := range []struct {
		variant string
		w, h    int
	}{{derivPreview, 1366, 2048}, {derivThumb, 267, 400}} {
		d, b := w.derivative(m.ID, c.variant)
		if d.ContentType != "image/jpeg" || d.Size != int64(len(b)) || d.CRC32 != crc32.ChecksumIEEE(b) {
			t.Fatalf("%s row %+v does not describe its bytes (%d bytes)", c.variant, d, len(b))
		}
		img, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", c.variant, err)
		}
		sz := img.Bounds().Size()
		if sz.X != d.Width || sz.Y != d.Height || abs(sz.X-c.w) > 1 || sz.Y != c.h {
			t.Fatalf("%s is %v, row says %dx%d, want about %dx%d", c.variant, sz, d.Width, d.Height, c.w, c.h)
		}
		// Orientation 6: the red top-left quadrant of the stored image
		// shows at the top right.
		r, g, _, _ := img.At(sz.X*3/4, sz.Y/4).RGBA()
		if r>>8 < 200 || g>>8 > 60 {
			t.Fatalf("%s: orientation not applied (top right is %d,%d)", c.variant, r>>8, g>>8)
		}
		if bytes.Contains(b, []byte(wkGPSMarker)) {
			t.Fatalf("%s carries the GPS block", c.variant)
		}
	}
	// The location-free copy is a splice: its blob is the rewritten header
	// alone, the compressed pixels are the original's.
	d, head := w.derivative(m.ID, derivStripped)
	if d.ContentType != "image/jpeg" || d.Size != int64(len(head)) || d.CRC32 != crc32.ChecksumIEEE(head) {
		t.Fatalf("stripped row %+v does not describe its blob", d)
	}
	if d.Splice == nil || d.Size > 16<<10 || d.Splice.Offset+d.Splice.Length > int64(len(orig)) {
		t.Fatalf("stripped copy of a JPEG stored as %d bytes with splice %+v, want a small head and a range of the %d-byte original",
			d.Size, d.Splice, len(orig))
	}
	b := append(append([]byte{}, head...), orig[d.Splice.Offset:d.Splice.Offset+d.Splice.Length]...)
	if d.FullSize() != int64(len(b)) || d.FullCRC32() != crc32.ChecksumIEEE(b) {
		t.Fatalf("splice %+v does not describe the copy it makes", d.Splice)
	}
	var want bytes.Buffer
	if _, err := imaging.StripLocation(bytes.NewReader(orig), &want, imaging.Detected{Kind: imaging.KindJPEG}); err != nil || !bytes.Equal(b, want.Bytes()) {
		t.Fatalf("head + original range differs from StripLocation's output (%v)", err)
	}
	if bytes.Contains(b, []byte(wkGPSMarker)) {
		t.Fatal("stripped copy still carries the GPS block")
	}
	meta, err := imaging.ReadMeta(bytes.NewReader(b), imaging.Detected{Kind: imaging.KindJPEG})
	if err != nil || meta.HasGPS {
		t.Fatalf("stripped copy: gps=%v err=%v", meta.HasGPS, err)
	}
	if _, err := jpeg.Decode(bytes.NewReader(b)); err != nil {
		t.Fatalf("stripped copy does not decode: %v", err)
	}
	// Nothing under blobs/ is plaintext: no JPEG magic, no marker.
	files := w.blobFiles()
	if len(files) != 4 {
		t.Fatalf("%d blob files, want original + 3 derivatives", len(files))
	}
	for p, c := range files {
		if bytes.HasPrefix(c, []byte{0xFF, 0xD8}) || bytes.Contains(c, []byte(wkGPSMarker)) || bytes.Contains(c, []byte("JFIF")) {
			t.Fatalf("plaintext in %s", p)
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestDerivePNGAndPlaceholders(t *testing.T) {
	w := newWorkerEnv(t, nil)
	pngMedia := w.addOriginal(wkPNG(t, 300, 200), 1)
	// An MP4 head: stored and streamed, no decoder here.
	mp4 := append([]byte{0, 0, 0, 24, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm', 0, 0, 2, 0, 'i', 's', 'o', 'm', 'm', 'p', '4', '1'},
		bytes.Repeat([]byte{0, 0, 0, 8, 'f', 'r', 'e', 'e'}, 100)...)
	video := w.addOriginal(mp4, 1)
	if n := w.runJobs(); n != 2 {
		t.Fatalf("ran %d jobs", n)
	}
	for _, id := range []string{pngMedia.ID, video.ID} {
		if got := w.media(id).Status; got != store.MediaStatusReady {
			t.Fatalf("%s status %s", id, got)
		}
	}
	d, b := w.derivative(pngMedia.ID, derivPreview)
	if d.Width != 300 || d.Height != 200 || len(b) == 0 {
		t.Fatalf("small PNG preview %+v: no upscaling, same size", d)
	}
	// A PNG without metadata has nothing to strip.
	if _, err := w.store.Derivative(w.ctx, pngMedia.ID, derivStripped); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("stripped variant of a clean PNG: %v", err)
	}
	for _, v := range []string{derivPreview, derivThumb, derivStripped} {
		if _, err := w.store.Derivative(w.ctx, video.ID, v); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("video %s: %v", v, err)
		}
	}
	// Aborted strip writers and unsupported kinds leave no temp files.
	if ents, _ := os.ReadDir(w.cfg.TmpDir()); len(ents) != 0 {
		t.Fatalf("temp files left: %v", ents)
	}
}

func TestDeriveFailures(t *testing.T) {
	w := newWorkerEnv(t, nil)
	// A JPEG head over garbage: corrupt, so no retry can help.
	good := wkJPEG(t, 64, 64)
	corrupt := append(append([]byte{}, good[:200]...), bytes.Repeat([]byte{0x5A}, 5000)...)
	bad := w.addOriginal(corrupt, 1)
	w.clock.Advance(time.Second)
	// A missing blob file: maybe a disk hiccup, so it is retried.
	lost := w.addOriginal(wkJPEG(t, 64, 64), 1)
	if err := os.Remove(w.srv.blobs.Path(lost.BlobID)); err != nil {
		t.Fatal(err)
	}
	if n := w.runJobs(); n != 2 {
		t.Fatalf("ran %d jobs", n)
	}
	if got := w.media(bad.ID).Status; got != store.MediaStatusFailed {
		t.Fatalf("corrupt image status %s", got)
	}
	if j := w.job(bad.ID); j.State != "failed" || j.Attempts != 1 || j.LastError == "" {
		t.Fatalf("corrupt image job %+v", j)
	}
	j := w.job(lost.ID)
	if j.State != "queued" || j.Attempts != 1 || !j.RunAfter.Equal(w.clock.Now().Add(2*time.Second).Truncate(time.Millisecond)) {
		t.Fatalf("transient failure job %+v (now %v)", j, w.clock.Now())
	}
	if w.media(lost.ID).Status != store.MediaStatusProcessing {
		t.Fatal("transient failure changed the status")
	}
	// Retries back off 2 s, 8 s, 32 s, 128 s, then the job fails for good.
	for attempt := 2; attempt <= store.MaxJobAttempts; attempt++ {
		if n := w.runJobs(); n != 0 {
			t.Fatalf("retry %d ran before its backoff", attempt)
		}
		w.clock.Advance(store.JobBackoff(attempt - 1))
		if n := w.runJobs(); n != 1 {
			t.Fatalf("retry %d did not run", attempt)
		}
	}
	if got := w.media(lost.ID).Status; got != store.MediaStatusFailed {
		t.Fatalf("after %d attempts status %s", store.MaxJobAttempts, got)
	}
	for _, id := range []string{bad.ID, lost.ID} {
		for _, v := range []string{derivPreview, derivThumb} {
			if _, err := w.store.Derivative(w.ctx, id, v); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("failed media has a %s: %v", v, err)
			}
		}
	}
}

func TestDeriveDeletedMedia(t *testing.T) {
	w := newWorkerEnv(t, nil)
	m := w.addOriginal(wkJPEG(t, 64, 64), 1)
	// Deleted by its owner after the worker claimed the job: the delete
	// drops the job row and the media row.
	j, err := w.store.ClaimJob(w.ctx, store.JobDerive, jobLease)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.DeleteMedia(w.ctx, w.owner, m.ID); err != nil {
		t.Fatal(err)
	}
	res, err := w.srv.deriveSafely(w.ctx, j.Target)
	if err != nil || !res.gone {
		t.Fatalf("derive of deleted media: %+v %v", res, err)
	}
	w.srv.finishJob(w.ctx, j, res, nil, time.Millisecond)
	// A derivative finished just after the delete is not recorded, and its
	// file does not stay behind.
	before := len(w.blobFiles())
	if err := w.srv.storeDerivative(w.ctx, m.ID, derivPreview, "image/jpeg", wkJPEG(t, 32, 32)); err == nil {
		t.Fatal("derivative of deleted media recorded")
	}
	if after := len(w.blobFiles()); after != before {
		t.Fatalf("blob files %d -> %d: unrecorded derivative left on disk", before, after)
	}
	if strings.Contains(w.logs.String(), `"level":"error"`) {
		t.Fatalf("errors logged:\n%s", w.logs)
	}
}

// TestWorkerPool runs the real pool through Start: two workers, woken by
// kicks, derive every queued item and stop when the context ends.
func TestWorkerPool(t *testing.T) {
	w := newWorkerEnv(t, map[string]string{"PHOTOVAULT_WORKERS": "2"})
	var ids []string
	for i := 0; i < 6; i++ {
		ids = append(ids, w.addOriginal(wkJPEG(t, 300+i, 200), 1).ID)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if err := w.srv.Start(ctx, &wg); err != nil {
		t.Fatal(err)
	}
	w.srv.kickJobs()
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range ids {
		for w.media(id).Status == store.MediaStatusProcessing {
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("%s still processing\n%s", id, w.logs)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if st := w.media(id).Status; st != store.MediaStatusReady {
			t.Fatalf("%s: %s", id, st)
		}
	}
	cancel()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("workers did not stop")
	}
	if !strings.Contains(w.logs.String(), `"derive job"`) || strings.Contains(w.logs.String(), `"level":"error"`) {
		t.Fatalf("logs:\n%s", w.logs)
	}
}

// TestDeriveVideoPoster: with ffmpeg installed a video gets a poster
// preview and thumbnail, read through the loopback stream (the test file
// keeps its index at the end, so ffmpeg must seek).
func TestDeriveVideoPoster(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed")
	}
	out := filepath.Join(t.TempDir(), "clip.mp4")
	gen := exec.Command(ffmpeg, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=10",
		"-t", "2", "-c:v", "mpeg4", "-pix_fmt", "yuv420p", out)
	if b, err := gen.CombinedOutput(); err != nil {
		t.Skipf("ffmpeg cannot make a test clip: %v %s", err, b)
	}
	clip, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	w := newWorkerEnv(t, nil)
	m := w.addOriginal(clip, 1)
	if n := w.runJobs(); n != 1 {
		t.Fatalf("ran %d jobs", n)
	}
	if st := w.media(m.ID).Status; st != store.MediaStatusReady {
		t.Fatalf("status %s\n%s", st, w.logs)
	}
	for _, c := range []struct {
		variant string
		w, h    int
	}{{derivPreview, 640, 360}, {derivThumb, 400, 225}} {
		d, b := w.derivative(m.ID, c.variant)
		img, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", c.variant, err)
		}
		if sz := img.Bounds().Size(); sz.X != c.w || sz.Y != c.h || d.Width != c.w {
			t.Fatalf("%s is %v (row %dx%d), want %dx%d", c.variant, sz, d.Width, d.Height, c.w, c.h)
		}
	}
	if _, err := w.store.Derivative(w.ctx, m.ID, derivStripped); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("video has a stripped variant: %v", err)
	}
	// The poster came from the stream: nothing but ciphertext on disk.
	if ents, _ := os.ReadDir(w.cfg.TmpDir()); len(ents) != 0 {
		t.Fatalf("temp files left: %v", ents)
	}
}
