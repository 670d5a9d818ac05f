package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/photovault/photovault/cmd/config"
	"github.com/photovault/photovault/server/auth"
	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/blob"
	"github.com/photovault/photovault/store/imaging"
	"github.com/photovault/photovault/store/imaging/imagingtest"
	"github.com/photovault/photovault/store/keys"
	"github.com/photovault/photovault/store/kv"
	"github.com/photovault/photovault/store/storetest"
	"github.com/rs/zerolog"
	"github.com/spf13/pflag"
)

// Figures and commands: docs/PERFORMANCE.md.

// bench24MP returns the shared 6000×4000 q92 reference JPEG and the path
// of the file holding it, so vipsthumbnail reads the very same bytes (see
// imagingtest.Photo24MP).
func bench24MP(b *testing.B) ([]byte, string) {
	b.Helper()
	data, p, err := imagingtest.Photo24MP()
	if err != nil {
		b.Fatal(err)
	}
	return data, p
}

// processCPU is user+system CPU time of this process: unlike wall time it
// does not grow when other jobs share the two cores.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var jpegDetected = imaging.Detected{Kind: imaging.KindJPEG, ContentType: "image/jpeg", IsImage: true}

// BenchmarkDerive24MP runs imaging.Derive (preview 2048 + thumb 400 from
// one decode) on the 24 MP JPEG with 1 and 2 concurrent workers. ms/image
// is wall time per image, so the scaling of two workers is
// ms/image(workers=1) / ms/image(workers=2).
func BenchmarkDerive24MP(b *testing.B) {
	data, _ := bench24MP(b)
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			cpu0 := processCPU()
			start := time.Now()
			images := 0
			for b.Loop() {
				var wg sync.WaitGroup
				for range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if _, _, err := imaging.Derive(bytes.NewReader(data), jpegDetected, 1); err != nil {
							b.Error(err)
						}
					}()
				}
				wg.Wait()
				images += workers
			}
			b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(images), "ms/image")
			b.ReportMetric(float64((processCPU()-cpu0).Milliseconds())/float64(images), "cpu-ms/image")
		})
	}
}

// BenchmarkVipsthumbnail24MP is the reference: libvips (C, shrink-on-load)
// making the same sizes from the same file, one process per image as a
// CLI user would run it.
func BenchmarkVipsthumbnail24MP(b *testing.B) {
	vips, err := exec.LookPath("vipsthumbnail")
	if err != nil {
		b.Skip("vipsthumbnail not installed (apt-get install libvips-tools)")
	}
	_, path := bench24MP(b)
	out := b.TempDir()
	for _, size := range []int{2048, 400} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			for b.Loop() {
				c := exec.Command(vips, path, "-s", fmt.Sprint(size), "-o", filepath.Join(out, "t_%s.jpg[Q=82]"))
				if o, err := c.CombinedOutput(); err != nil {
					b.Fatalf("%v: %s", err, o)
				}
			}
		})
	}
}

// benchServer is a Server on a real database and blob dir, for benchmarks
// (newTestEnv wants a *testing.T).
func benchServer(b *testing.B) *Server {
	b.Helper()
	dir := b.TempDir()
	fs := pflag.NewFlagSet("b", pflag.ContinueOnError)
	config.Register(fs)
	cfg, err := config.Load(fs, func(k string) string {
		if k == "PHOTOVAULT_DATA_DIR" {
			return dir
		}
		return ""
	})
	if err != nil {
		b.Fatal(err)
	}
	blobs, err := blob.New(cfg.BlobRoot(), cfg.TmpDir())
	if err != nil {
		b.Fatal(err)
	}
	kvs, err := kv.Open(filepath.Join(dir, "kv"), zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = kvs.Close() })
	master, _ := keys.Generate()
	secret, _ := keys.Generate()
	srv, err := New(Deps{Config: cfg, Log: zerolog.Nop(), Store: storetest.New(b), Blobs: blobs, KV: kvs, Master: master, Secret: secret, Version: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	return srv
}

// BenchmarkDeriveJob24MP is one whole derive job as the worker runs it:
// claim, decrypt the original as a stream, derive, encrypt and commit
// preview, thumbnail and the location-free copy (a full read of the
// original again), record rows, mark ready.
func BenchmarkDeriveJob24MP(b *testing.B) {
	data, _ := bench24MP(b)
	srv := benchServer(b)
	ctx := context.Background()
	u, err := srv.store.CreateUser(ctx, "bench", "x")
	if err != nil {
		b.Fatal(err)
	}
	a, err := srv.store.CreateAlbum(ctx, u.ID, "bench", "")
	if err != nil {
		b.Fatal(err)
	}
	var cpu time.Duration
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		w, err := srv.blobs.Create(srv.kek())
		if err != nil {
			b.Fatal(err)
		}
		_, _ = w.Write(data)
		ref, err := w.Commit()
		if err != nil {
			b.Fatal(err)
		}
		sum := sha256.Sum256(fmt.Append(nil, i))
		m := store.Media{OwnerID: u.ID, AlbumID: a.ID, SHA256: hex.EncodeToString(sum[:]), CRC32: crc32.ChecksumIEEE(data),
			Size: int64(len(data)), ContentType: "image/jpeg", Kind: "jpeg", Filename: "24mp.jpg", Width: 6000, Height: 4000}
		if _, _, err := srv.store.InsertMedia(ctx, m, ref, nil); err != nil {
			b.Fatal(err)
		}
		cpu0 := processCPU()
		b.StartTimer()
		if !srv.runDeriveJob(ctx) {
			b.Fatal("no job ran")
		}
		cpu += processCPU() - cpu0
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(i), "cpu-ms/op")
}

// benchBody is n bytes: a small real JPEG, then incompressible filler
// cycled from a 1 MiB block.
type benchBody struct {
	head  []byte
	block []byte
	off   int
	n     int64
}

func newBenchBody(b *testing.B, n int64) *benchBody {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 64, 48)), nil); err != nil {
		b.Fatal(err)
	}
	block := make([]byte, 1<<20)
	s := uint64(0x9E3779B97F4A7C15)
	for i := range block {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		block[i] = byte(s)
	}
	return &benchBody{head: buf.Bytes(), block: block, n: n}
}

func (r *benchBody) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	k := 0
	if len(r.head) > 0 {
		k = copy(p, r.head)
		r.head = r.head[k:]
	}
	for k < len(p) {
		c := copy(p[k:], r.block[r.off:])
		k += c
		r.off = (r.off + c) % len(r.block)
	}
	r.n -= int64(k)
	return k, nil
}

// BenchmarkIngest256MiB is Ingest alone (no HTTP): sniff, probe, SHA-256 +
// CRC-32 + encrypt + fsync, metadata read-back, rows.
func BenchmarkIngest256MiB(b *testing.B) {
	const size = 256 << 20
	srv := benchServer(b)
	ctx := context.Background()
	u, err := srv.store.CreateUser(ctx, "bench", "x")
	if err != nil {
		b.Fatal(err)
	}
	a, err := srv.store.CreateAlbum(ctx, u.ID, "bench", "")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	i := 0
	for b.Loop() {
		i++
		body := newBenchBody(b, size)
		body.block[0] = byte(i)
		if _, _, err := srv.Ingest(ctx, u.ID, a.ID, "big.jpg", body); err != nil {
			b.Fatal(err)
		}
	}
}

// benchHTTP is a benchServer behind a real loopback listener with a
// logged-in owner and an album.
type benchHTTP struct {
	url, token, album string
}

func newBenchHTTP(b *testing.B) benchHTTP {
	b.Helper()
	srv := benchServer(b)
	ctx := context.Background()
	hash, err := auth.HashPassword("bench passphrase for uploads")
	if err != nil {
		b.Fatal(err)
	}
	u, err := srv.store.CreateUser(ctx, "bench", hash)
	if err != nil {
		b.Fatal(err)
	}
	a, err := srv.store.CreateAlbum(ctx, u.ID, "bench", "")
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	b.Cleanup(hs.Close)
	resp, err := http.Post(hs.URL+"/api/auth/login", "application/json", strings.NewReader(`{"username":"bench","password":"bench passphrase for uploads"}`))
	if err != nil {
		b.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	return benchHTTP{url: hs.URL, token: tok.AccessToken, album: a.ID}
}

// upload streams a generated file of size bytes and returns its media id.
func (h benchHTTP) upload(b *testing.B, size int64, salt byte) string {
	b.Helper()
	const boundary = "bench-boundary-0b7e"
	pre := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.jpg\"\r\n\r\n"
	post := "\r\n--" + boundary + "--\r\n"
	body := newBenchBody(b, size)
	body.block[0] = salt
	req, _ := http.NewRequest("POST", h.url+"/api/albums/"+h.album+"/media", io.MultiReader(strings.NewReader(pre), body, strings.NewReader(post)))
	req.ContentLength = int64(len(pre)+len(post)) + size
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
	req.Header.Set("Authorization", "Bearer "+h.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Items []struct{ ID string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 201 || len(out.Items) != 1 {
		b.Fatalf("upload: %d %v", resp.StatusCode, err)
	}
	return out.Items[0].ID
}

// BenchmarkUploadHTTP256MiB is the upload over real HTTP on loopback
// (client in the same process): multipart parsing on top of Ingest.
func BenchmarkUploadHTTP256MiB(b *testing.B) {
	const size = 256 << 20
	h := newBenchHTTP(b)
	b.SetBytes(size)
	i := 0
	for b.Loop() {
		i++
		h.upload(b, size, byte(i))
	}
}

// BenchmarkDownloadHTTP256MiB is GET /api/media/{id}/original over
// loopback: decrypting stream through http.ServeContent.
func BenchmarkDownloadHTTP256MiB(b *testing.B) {
	const size = 256 << 20
	h := newBenchHTTP(b)
	id := h.upload(b, size, 1)
	buf := make([]byte, 1<<20)
	b.SetBytes(size)
	for b.Loop() {
		req, _ := http.NewRequest("GET", h.url+"/api/media/"+id+"/original", nil)
		req.Header.Set("Authorization", "Bearer "+h.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, resp.Body, buf)
		resp.Body.Close()
		if err != nil || n != size {
			b.Fatalf("download: %d bytes, %v", n, err)
		}
	}
}

// BenchmarkServeOriginal256MiB compares ways of sending one 256 MiB
// original over loopback HTTP: the plaintext file through http.ServeFile
// (sendfile: what a plaintext server such as filebrowser does), the
// decrypting blob reader through http.ServeContent (what GET .../original
// does), and the same behind benchReadAhead, a reader that decrypts the
// next MiBs on another goroutine while the current one is being sent.
func BenchmarkServeOriginal256MiB(b *testing.B) {
	const size = 256 << 20
	dir := b.TempDir()
	bs, err := blob.New(dir, filepath.Join(dir, "tmp"))
	if err != nil {
		b.Fatal(err)
	}
	k, _ := keys.Generate()
	kek := blob.KEK{ID: blob.KeyID(k), Key: k}
	w, err := bs.Create(kek)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(w, newBenchBody(b, size)); err != nil {
		b.Fatal(err)
	}
	ref, err := w.Commit()
	if err != nil {
		b.Fatal(err)
	}
	plain := filepath.Join(dir, "plain")
	f, err := os.Create(plain)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(f, newBenchBody(b, size)); err != nil {
		b.Fatal(err)
	}
	_ = f.Close()
	for _, mode := range []string{"plaintext-sendfile", "decrypt-servecontent", "decrypt-readahead"} {
		b.Run(mode, func(b *testing.B) {
			hs := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				if mode == "plaintext-sendfile" {
					http.ServeFile(rw, r, plain)
					return
				}
				rd, err := bs.Open(ref, kek)
				if err != nil {
					http.Error(rw, err.Error(), 500)
					return
				}
				defer rd.Close()
				if mode == "decrypt-readahead" {
					ra := &benchReadAhead{r: rd, size: rd.Size()}
					defer ra.Close()
					http.ServeContent(rw, r, "", time.Time{}, ra)
					return
				}
				http.ServeContent(rw, r, "", time.Time{}, rd)
			}))
			defer hs.Close()
			buf := make([]byte, 1<<20)
			b.SetBytes(size)
			for b.Loop() {
				resp, err := http.Get(hs.URL)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.CopyBuffer(io.Discard, resp.Body, buf)
				resp.Body.Close()
				if err != nil || n != size {
					b.Fatalf("%d bytes, %v", n, err)
				}
			}
		})
	}
}

// benchReadAhead is an io.ReadSeeker over an io.ReaderAt that reads (here:
// decrypts) up to four 1 MiB blocks ahead on its own goroutine. A seek
// anywhere but the current position restarts it there. It is the
// prototype measured in docs/PERFORMANCE.md, not production code.
type benchReadAhead struct {
	r    io.ReaderAt
	size int64
	pos  int64
	cur  []byte // unread part of blk
	blk  []byte
	full chan benchBlock
	free chan []byte
	stop chan struct{}
}

type benchBlock struct {
	b   []byte
	n   int
	err error
}

func (a *benchReadAhead) start() {
	const blockSize, blocks = 1 << 20, 4
	a.free = make(chan []byte, blocks)
	for range blocks {
		a.free <- make([]byte, blockSize)
	}
	a.full = make(chan benchBlock, blocks)
	a.stop = make(chan struct{})
	full, free, stop, off := a.full, a.free, a.stop, a.pos
	go func() {
		defer close(full)
		for off < a.size {
			var blk []byte
			select {
			case blk = <-free:
			case <-stop:
				return
			}
			n, err := a.r.ReadAt(blk, off)
			off += int64(n)
			select {
			case full <- benchBlock{blk, n, err}:
			case <-stop:
				return
			}
			if err != nil && err != io.EOF {
				return
			}
		}
	}()
}

func (a *benchReadAhead) Read(p []byte) (int, error) {
	if a.pos >= a.size {
		return 0, io.EOF
	}
	if a.full == nil {
		a.start()
	}
	if len(a.cur) == 0 {
		if a.blk != nil {
			a.free <- a.blk
			a.blk = nil
		}
		k, ok := <-a.full
		if !ok {
			return 0, io.ErrUnexpectedEOF
		}
		if k.n == 0 {
			return 0, k.err
		}
		a.blk, a.cur = k.b, k.b[:k.n]
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	a.pos += int64(n)
	return n, nil
}

func (a *benchReadAhead) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += a.pos
	case io.SeekEnd:
		off += a.size
	}
	if off != a.pos {
		a.Close()
		a.full, a.cur, a.blk = nil, nil, nil
	}
	a.pos = off
	return off, nil
}

func (a *benchReadAhead) Close() {
	if a.stop != nil {
		close(a.stop)
		a.stop = nil
	}
}
