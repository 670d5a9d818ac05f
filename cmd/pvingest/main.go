// Command pvingest measures PhotoVault's whole-process ingest, download
// and derivative throughput and memory, as docs/PERFORMANCE.md reports
// them. It starts the real photovault binary on 127.0.0.1, creates an
// owner and an album, and then:
//
//   - ingest: uploads one file of -size bytes (a valid JPEG head followed by
//     generated filler) as a streamed multipart request and reports GB/s
//     and the server's peak RSS during the upload (VmHWM, reset through
//     /proc/PID/clear_refs just before);
//   - download: fetches that original back (decrypting) and reports GB/s
//     and the peak RSS during the download;
//   - derive: with -derive N, restarts the server with each worker count
//     in -workers, uploads N distinct 24 MP JPEGs and reports how long the
//     pool takes to make their previews and thumbnails, and the peak RSS.
//
// Idle RSS is read two seconds after start.
//
//	go build -o bin/photovault . && go run ./cmd/pvingest -bin bin/photovault
//
// It is a program, not a test, so `go test ./...` never runs it. Linux
// only (it reads /proc).
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/photovault/photovault/store/imaging/imagingtest"
)

const password = "ingest harness passphrase 2026"

func main() {
	bin := flag.String("bin", "bin/photovault", "photovault binary to start")
	size := flag.Int64("size", 1<<30, "bytes in the ingest upload")
	dir := flag.String("dir", "", "parent of the temporary data dir (default: the system temp dir; use a disk, not tmpfs)")
	derive := flag.Int("derive", 0, "24 MP JPEGs to derive per worker setting (0: skip)")
	workers := flag.String("workers", "1,2", "worker counts for the derive run")
	runs := flag.Int("runs", 1, "ingest/download repetitions")
	flag.Parse()
	if err := run(*bin, *dir, *size, *derive, *workers, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "pvingest:", err)
		os.Exit(1)
	}
}

func run(bin, parent string, size int64, derive int, workers string, runs int) error {
	dir, err := os.MkdirTemp(parent, "pvingest-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	fmt.Printf("machine: %s, %d CPUs, %s; data dir %s (%s)\n", cpuModel(), runtime.NumCPU(), kernel(), dir, fsType(dir))

	data := filepath.Join(dir, "data")
	create := exec.Command(bin, "user", "create", "--username", "bench", "--password-stdin") // #nosec G204 -- the operator names the binary
	create.Env = []string{"PATH=" + os.Getenv("PATH"), "PHOTOVAULT_DATA_DIR=" + data}
	create.Stdin = strings.NewReader(password + "\n")
	if out, err := create.CombinedOutput(); err != nil {
		return fmt.Errorf("user create: %v %s", err, out)
	}
	// Log in once in a server process of its own and keep the refresh
	// token (see session).
	srv, err := start(bin, data, 0)
	if err != nil {
		return err
	}
	tok, err := srv.login()
	if err != nil {
		srv.stop()
		return err
	}
	fmt.Printf("a password login (argon2id, 46 MiB) took the server from %d kB to %d kB RSS\n", srvIdle(srv), srv.status("VmHWM"))
	srv.stop()
	refresh := tok.RefreshToken
	if size > 0 {
		if err := ingest(bin, data, &refresh, size, runs); err != nil {
			return err
		}
	}
	if derive > 0 {
		for _, w := range strings.Split(workers, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(w))
			if err != nil || n < 1 {
				return fmt.Errorf("bad -workers %q", workers)
			}
			if err := deriveRun(bin, data, &refresh, derive, n); err != nil {
				return err
			}
		}
		for _, w := range strings.Split(workers, ",") {
			n, _ := strconv.Atoi(strings.TrimSpace(w))
			if err := deriveQueued(bin, dir, data, &refresh, derive, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// deriveQueued measures the workers alone: n distinct 24 MP JPEGs are
// imported with `photovault import --derive=false` (queued, no server
// running), then serve starts with the given worker count and the time
// from its start to all `ready` is taken. No upload shares the cores or
// the clock, so this is the pool's own scaling, process and all.
func deriveQueued(bin, dir, data string, refresh *string, n, workers int) error {
	base, err := photo24MP()
	if err != nil {
		return err
	}
	photos := filepath.Join(dir, fmt.Sprintf("queued-%d", workers))
	if err := os.MkdirAll(photos, 0o700); err != nil {
		return err
	}
	for i := range n {
		com := fmt.Sprintf("queued %d/%d", workers, i)
		b := append(append(append([]byte{}, base[:2]...), 0xFF, 0xFE, 0, byte(len(com)+2)), com...)
		if err := os.WriteFile(filepath.Join(photos, fmt.Sprintf("IMG_%04d.jpg", i)), append(b, base[2:]...), 0o600); err != nil {
			return err
		}
	}
	title := fmt.Sprintf("queued-%d", workers)
	imp := exec.Command(bin, "import", photos, "--album", title, "--owner", "bench", "--derive=false") // #nosec G204 -- the operator names the binary
	imp.Env = []string{"PATH=" + os.Getenv("PATH"), "PHOTOVAULT_DATA_DIR=" + data}
	if out, err := imp.CombinedOutput(); err != nil {
		return fmt.Errorf("import: %v %s", err, out)
	}
	t0 := time.Now()
	srv, err := start(bin, data, workers)
	if err != nil {
		return err
	}
	defer srv.stop()
	var tok tokenPair
	if err := srv.json("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": *refresh}, &tok); err != nil {
		return err
	}
	*refresh = tok.RefreshToken
	var albums struct{ Items []struct{ ID, Title string } }
	if err := srv.json("GET", "/api/albums", tok.AccessToken, nil, &albums); err != nil {
		return err
	}
	var album struct{ Media []media }
	for _, a := range albums.Items {
		if a.Title == title {
			if err := srv.json("GET", "/api/albums/"+a.ID, tok.AccessToken, nil, &album); err != nil {
				return err
			}
		}
	}
	if len(album.Media) != n {
		return fmt.Errorf("queued album holds %d media, want %d", len(album.Media), n)
	}
	ids := make([]string, n)
	for i, m := range album.Media {
		ids[i] = m.ID
	}
	if err := srv.waitReady(tok.AccessToken, ids, 10*time.Minute); err != nil {
		return err
	}
	total := time.Since(t0)
	fmt.Printf("derive from the queue, %d worker(s): %d × 24 MP imported first, serve start to all ready %.2f s: %.0f ms per image; peak RSS %d kB\n",
		workers, n, total.Seconds(), float64(total.Milliseconds())/float64(n), srv.status("VmHWM"))
	return nil
}

// srvIdle is the RSS a server had before its first request (VmHWM is
// not reset yet, so this reads the peak of the start-up).
func srvIdle(s *server) int64 { return s.idle }

func ingest(bin, data string, refresh *string, size int64, runs int) error {
	head := photo(1600, 1200)
	want := expectedSHA(head, size)
	srv, err := start(bin, data, 0)
	if err != nil {
		return err
	}
	defer srv.stop()
	time.Sleep(2 * time.Second)
	fmt.Printf("idle: RSS %d kB (peak since start %d kB)\n", srv.status("VmRSS"), srv.status("VmHWM"))
	tok, album, err := srv.session(refresh, "ingest")
	if err != nil {
		return err
	}
	for i := 0; i < runs; i++ {
		srv.resetPeak()
		t0 := time.Now()
		m, err := srv.uploadStream(tok, album, head, size, byte(i))
		if err != nil {
			return err
		}
		up := time.Since(t0)
		upPeak := srv.status("VmHWM")
		fmt.Printf("  after upload: RSS %d kB = anon %d + file %d + shmem %d\n", srv.status("VmRSS"), srv.status("RssAnon"), srv.status("RssFile"), srv.status("RssShmem"))
		if i == 0 && m.SHA256 != want {
			return fmt.Errorf("server sha256 %s, want %s", m.SHA256, want)
		}
		if m.Size != size {
			return fmt.Errorf("server size %d, want %d", m.Size, size)
		}
		// Let the derive job (which reads the whole original again to
		// strip its trailer) finish before measuring the download.
		if err := srv.waitReady(tok, []string{m.ID}, 10*time.Minute); err != nil {
			return err
		}
		srv.resetPeak()
		t0 = time.Now()
		n, err := srv.download(tok, m.ID)
		if err != nil {
			return err
		}
		down := time.Since(t0)
		if n != size {
			return fmt.Errorf("downloaded %d bytes, want %d", n, size)
		}
		fmt.Printf("run %d: ingest %.2f GB/s (%.2f s for %d MiB, peak RSS %d kB); download %.2f GB/s (%.2f s, peak RSS %d kB)\n",
			i+1, gbps(size, up), up.Seconds(), size>>20, upPeak, gbps(size, down), down.Seconds(), srv.status("VmHWM"))
		if err := srv.json("DELETE", "/api/media/"+m.ID, tok, nil, nil); err != nil {
			return err
		}
	}
	return nil
}

func deriveRun(bin, data string, refresh *string, n, workers int) error {
	base, err := photo24MP()
	if err != nil {
		return err
	}
	srv, err := start(bin, data, workers)
	if err != nil {
		return err
	}
	defer srv.stop()
	time.Sleep(2 * time.Second)
	idle := srv.status("VmRSS")
	tok, album, err := srv.session(refresh, fmt.Sprintf("derive-%d", workers))
	if err != nil {
		return err
	}
	// N distinct files with the same pixels: a COM segment makes each one
	// new content (no duplicate detection), the work per file is equal.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for i := range n {
		w, _ := mw.CreateFormFile("file", fmt.Sprintf("IMG_%04d.jpg", i))
		com := fmt.Sprintf("copy %d", i)
		_, _ = w.Write(base[:2])
		_, _ = w.Write([]byte{0xFF, 0xFE, 0, byte(len(com) + 2)})
		_, _ = w.Write([]byte(com))
		_, _ = w.Write(base[2:])
	}
	_ = mw.Close()
	srv.resetPeak()
	t0 := time.Now()
	req, _ := http.NewRequest("POST", srv.base+"/api/albums/"+album+"/media", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+tok)
	var out struct{ Items []media }
	if err := srv.do(req, &out); err != nil {
		return err
	}
	uploaded := time.Since(t0)
	ids := make([]string, len(out.Items))
	for i, m := range out.Items {
		ids[i] = m.ID
	}
	if err := srv.waitReady(tok, ids, 10*time.Minute); err != nil {
		return err
	}
	total := time.Since(t0)
	// Workers start on the first files while the rest still upload, so
	// "after the upload" is not derive time alone either; both are shown.
	fmt.Printf("derive, %d worker(s): %d × 24 MP (%.1f MB each) uploaded in %.2f s, all ready after %.2f s: %.0f ms per image wall (%.0f ms counting from the end of the upload); idle RSS %d kB, peak RSS %d kB\n",
		workers, n, float64(len(base))/1e6, uploaded.Seconds(), total.Seconds(), float64(total.Milliseconds())/float64(n),
		float64((total-uploaded).Milliseconds())/float64(n), idle, srv.status("VmHWM"))
	return nil
}

func gbps(n int64, d time.Duration) float64 { return float64(n) / d.Seconds() / 1e9 }

// filler is what follows the JPEG head in the ingest upload: incompressible
// bytes, so nothing on the way can shortcut them.
func filler() []byte {
	b := make([]byte, 1<<20)
	s := uint64(0x9E3779B97F4A7C15)
	for i := 0; i+8 <= len(b); i += 8 {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		for j := range 8 {
			b[i+j] = byte(s >> (8 * j))
		}
	}
	return b
}

// fillerReader yields n bytes of the filler block, salted per run so runs
// are distinct content.
type fillerReader struct {
	block []byte
	off   int
	n     int64
}

func (f *fillerReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	k := 0
	for k < len(p) {
		c := copy(p[k:], f.block[f.off:])
		k += c
		f.off = (f.off + c) % len(f.block)
	}
	f.n -= int64(k)
	return k, nil
}

func fileBody(head []byte, size int64, salt byte) io.Reader {
	block := filler()
	block[0] = salt
	return io.MultiReader(bytes.NewReader(head), &fillerReader{block: block, n: size - int64(len(head))})
}

func expectedSHA(head []byte, size int64) string {
	h := sha256.New()
	_, _ = io.Copy(h, fileBody(head, size, 0))
	return hex.EncodeToString(h.Sum(nil))
}

func photo(w, h int) []byte {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for y := range h {
		for x := range w {
			img.Y[y*img.YStride+x] = uint8(x + y)
		}
	}
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	return buf.Bytes()
}

// photo24MP is the shared 6000×4000 q92 reference JPEG the Go benchmarks
// use (imagingtest.Photo24MP), cached in the temp dir.
func photo24MP() ([]byte, error) {
	data, _, err := imagingtest.Photo24MP()
	return data, err
}

type server struct {
	cmd  *exec.Cmd
	base string
	pid  int
	idle int64 // RSS in kB once listening
	done chan struct{}
}

func start(bin, data string, workers int) (*server, error) {
	c := exec.Command(bin, "serve") // #nosec G204 -- the operator names the binary under test
	c.Env = []string{"PATH=" + os.Getenv("PATH"), "PHOTOVAULT_ADDR=127.0.0.1:0", "PHOTOVAULT_DATA_DIR=" + data,
		"PHOTOVAULT_RATE_LIMIT=0", "PHOTOVAULT_MAX_UPLOAD_BYTES=" + strconv.Itoa(8<<30), "PHOTOVAULT_WORKERS=" + strconv.Itoa(workers)}
	out, err := c.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c.Stderr = io.Discard
	if err := c.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: c, pid: c.Process.Pid, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue
			}
			if m["message"] == "listening" {
				select {
				case addr <- m["addr"].(string):
				default:
				}
			}
			if m["level"] == "error" {
				fmt.Fprintf(os.Stderr, "server error: %s\n", sc.Bytes())
			}
		}
	}()
	go func() { _ = c.Wait(); close(s.done) }()
	select {
	case a := <-addr:
		s.base = "http://" + a
		s.idle = s.status("VmRSS")
		return s, nil
	case <-s.done:
		return nil, errors.New("server exited at start")
	case <-time.After(30 * time.Second):
		_ = c.Process.Kill()
		return nil, errors.New("server did not start")
	}
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// status reads a kB figure (VmRSS, VmHWM) from /proc/PID/status.
func (s *server) status(field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == field+":" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return -1
}

// resetPeak resets VmHWM to the current RSS (Linux: clear_refs 5).
func (s *server) resetPeak() {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.pid), []byte("5"), 0o600)
}

func (s *server) do(req *http.Request, out any) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (s *server) json(method, path, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return s.do(req, out)
}

type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// login logs in with the password (argon2id: 46 MiB that the Go runtime
// keeps for minutes afterwards).
func (s *server) login() (tokenPair, error) {
	var tok tokenPair
	err := s.json("POST", "/api/auth/login", "", map[string]string{"username": "bench", "password": password}, &tok)
	return tok, err
}

// session turns a refresh token (from a login in an earlier server
// process) into an access token and creates an album: no password hash
// runs in the measured process, so its peak RSS is the work's own.
func (s *server) session(refresh *string, title string) (token, album string, err error) {
	var tok tokenPair
	if err := s.json("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": *refresh}, &tok); err != nil {
		return "", "", err
	}
	*refresh = tok.RefreshToken
	var a struct{ ID string }
	if err := s.json("POST", "/api/albums", tok.AccessToken, map[string]string{"title": title}, &a); err != nil {
		return "", "", err
	}
	return tok.AccessToken, a.ID, nil
}

type media struct {
	ID     string `json:"id"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Status string `json:"status"`
}

// uploadStream sends one file of size bytes without ever holding it: the
// multipart body is generated as the client reads it.
func (s *server) uploadStream(token, album string, head []byte, size int64, salt byte) (media, error) {
	const boundary = "pvingest-boundary-7d1c0e"
	pre := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
	post := "\r\n--" + boundary + "--\r\n"
	body := io.MultiReader(strings.NewReader(pre), fileBody(head, size, salt), strings.NewReader(post))
	req, _ := http.NewRequest("POST", s.base+"/api/albums/"+album+"/media", body)
	req.ContentLength = int64(len(pre)) + size + int64(len(post))
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
	req.Header.Set("Authorization", "Bearer "+token)
	var out struct{ Items []media }
	if err := s.do(req, &out); err != nil {
		return media{}, err
	}
	if len(out.Items) != 1 {
		return media{}, fmt.Errorf("upload answered %d items", len(out.Items))
	}
	return out.Items[0], nil
}

func (s *server) download(token, id string) (int64, error) {
	req, _ := http.NewRequest("GET", s.base+"/api/media/"+id+"/original", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("download: %d", resp.StatusCode)
	}
	return io.CopyBuffer(io.Discard, resp.Body, make([]byte, 1<<20))
}

func (s *server) waitReady(token string, ids []string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for _, id := range ids {
		for {
			var m media
			if err := s.json("GET", "/api/media/"+id, token, nil, &m); err != nil {
				return err
			}
			if m.Status == "ready" {
				break
			}
			if m.Status == "failed" {
				return fmt.Errorf("media %s failed", id)
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("media %s not ready after %v", id, limit)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func kernel() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return "Linux " + strings.TrimSpace(string(b))
}

// fsType names the filesystem holding dir (tmpfs makes fsync free and
// inflates ingest figures).
func fsType(dir string) string {
	b, _ := os.ReadFile("/proc/self/mounts")
	best, typ := "", "?"
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && strings.HasPrefix(dir, f[1]) && len(f[1]) > len(best) {
			best, typ = f[1], f[2]
		}
	}
	return typ
}
