// Command pvload is PhotoVault's load harness for Client Delivery Mode. It
// starts the real photovault binary on 127.0.0.1 with PHOTOVAULT_RATE_LIMIT=0,
// creates an owner, uploads a gallery of real JPEGs over the API, waits for
// the derivatives, creates a share, and then attacks the public endpoints
// with vegeta (used as a library): signed thumbnails, /meta and /content.
// It prints throughput and latency percentiles per scenario.
//
//	go build -o bin/photovault . && go run ./cmd/pvload -bin bin/photovault
//
// Everything stays on loopback; every attack is bounded in time.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func main() {
	bin := flag.String("bin", "bin/photovault", "photovault binary to start")
	photos := flag.Int("photos", 300, "photos in the shared gallery")
	conns := flag.Int("connections", 200, "concurrent connections")
	dur := flag.Duration("duration", 20*time.Second, "duration of each attack")
	only := flag.String("only", "", "comma-separated scenarios to run (thumbs,meta,content)")
	flag.Parse()
	if err := run(*bin, *photos, *conns, *dur, *only); err != nil {
		fmt.Fprintln(os.Stderr, "pvload:", err)
		os.Exit(1)
	}
}

type server struct {
	cmd  *exec.Cmd
	base string
	pid  int
}

func start(bin, dir string) (*server, error) {
	c := exec.Command(bin, "serve") // #nosec G204 -- the operator names the binary under test
	c.Env = []string{"PATH=" + os.Getenv("PATH"), "PHOTOVAULT_ADDR=127.0.0.1:0", "PHOTOVAULT_DATA_DIR=" + filepath.Join(dir, "data"),
		"PHOTOVAULT_RATE_LIMIT=0", "PHOTOVAULT_LOG_LEVEL=info"}
	out, err := c.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c.Stderr = io.Discard
	if err := c.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(out)
	addr := make(chan string, 1)
	go func() {
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["message"] == "listening" {
				select {
				case addr <- m["addr"].(string):
				default:
				}
			}
		}
	}()
	select {
	case a := <-addr:
		return &server{cmd: c, base: "http://" + a, pid: c.Process.Pid}, nil
	case <-time.After(30 * time.Second):
		_ = c.Process.Kill()
		return nil, errors.New("server did not start")
	}
}

func jsonReq(method, url, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func photo(i int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 1200, 800))
	for y := 0; y < 800; y += 2 {
		for x := 0; x < 1200; x += 2 {
			c := color.RGBA{uint8(x + i), uint8(y*3 + (i/256)*40), uint8(i * 7), 255} // distinct for every i
			img.Set(x, y, c)
			img.Set(x+1, y, c)
		}
	}
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80})
	return buf.Bytes()
}

func rssKB(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	var rss, hwm string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "VmRSS:" {
			rss = f[1]
		}
		if len(f) >= 2 && f[0] == "VmHWM:" {
			hwm = f[1]
		}
	}
	return fmt.Sprintf("RSS %s kB (peak %s kB)", rss, hwm)
}

func run(bin string, nPhotos, conns int, dur time.Duration, only string) error {
	dir, err := os.MkdirTemp("", "pvload-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	create := exec.Command(bin, "user", "create", "--username", "loadtest", "--password-stdin") // #nosec G204
	create.Env = []string{"PATH=" + os.Getenv("PATH"), "PHOTOVAULT_DATA_DIR=" + filepath.Join(dir, "data")}
	create.Stdin = strings.NewReader("load harness passphrase 2026\n")
	if out, err := create.CombinedOutput(); err != nil {
		return fmt.Errorf("user create: %v %s", err, out)
	}
	srv, err := start(bin, dir)
	if err != nil {
		return err
	}
	defer func() { _ = srv.cmd.Process.Kill(); _ = srv.cmd.Wait() }()
	fmt.Printf("server %s pid %d, idle %s\n", srv.base, srv.pid, rssKB(srv.pid))

	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := jsonReq("POST", srv.base+"/api/auth/login", "", map[string]string{"username": "loadtest", "password": "load harness passphrase 2026"}, &tok); err != nil {
		return err
	}
	var album struct {
		ID string `json:"id"`
	}
	if err := jsonReq("POST", srv.base+"/api/albums", tok.AccessToken, map[string]string{"title": "Load test gallery"}, &album); err != nil {
		return err
	}
	t0 := time.Now()
	for i := 0; i < nPhotos; i += 20 {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for j := i; j < i+20 && j < nPhotos; j++ {
			w, _ := mw.CreateFormFile("file", fmt.Sprintf("IMG_%04d.jpg", j))
			_, _ = w.Write(photo(j))
		}
		_ = mw.Close()
		req, _ := http.NewRequest("POST", srv.base+"/api/albums/"+album.ID+"/media", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			return fmt.Errorf("upload: %d", resp.StatusCode)
		}
	}
	for {
		var a struct {
			Media []struct {
				Status string `json:"status"`
			} `json:"media"`
		}
		if err := jsonReq("GET", srv.base+"/api/albums/"+album.ID, tok.AccessToken, nil, &a); err != nil {
			return err
		}
		ready := 0
		for _, m := range a.Media {
			if m.Status == "ready" {
				ready++
			}
		}
		if ready == len(a.Media) && len(a.Media) > 0 {
			break
		}
		if time.Since(t0) > 10*time.Minute {
			return fmt.Errorf("only %d/%d ready", ready, nPhotos)
		}
		time.Sleep(500 * time.Millisecond)
	}
	fmt.Printf("uploaded and derived %d photos in %s\n", nPhotos, time.Since(t0).Round(time.Millisecond))

	var share struct {
		Token string `json:"token"`
	}
	if err := jsonReq("POST", srv.base+"/api/shares", tok.AccessToken, map[string]any{"album_id": album.ID, "download": "original", "never_expires": true}, &share); err != nil {
		return err
	}
	var content struct {
		Items []struct {
			ThumbURL string `json:"thumb_url"`
		} `json:"items"`
	}
	if err := jsonReq("GET", srv.base+"/api/public/shares/"+share.Token+"/content", "", nil, &content); err != nil {
		return err
	}
	var thumbs []vegeta.Target
	for _, it := range content.Items {
		thumbs = append(thumbs, vegeta.Target{Method: "GET", URL: srv.base + it.ThumbURL})
	}
	scenarios := []struct {
		name    string
		targets []vegeta.Target
	}{
		{"thumbs", thumbs},
		{"meta", []vegeta.Target{{Method: "GET", URL: srv.base + "/api/public/shares/" + share.Token + "/meta"}}},
		{"content", []vegeta.Target{{Method: "GET", URL: srv.base + "/api/public/shares/" + share.Token + "/content"}}},
	}
	fmt.Printf("\n%-8s %10s %10s %9s %9s %9s %9s %8s  %s\n", "scenario", "requests", "req/s", "p50", "p95", "p99", "max", "errors", "server memory")
	for _, sc := range scenarios {
		if only != "" && !strings.Contains(","+only+",", ","+sc.name+",") {
			continue
		}
		m := attack(sc.targets, conns, dur)
		fmt.Printf("%-8s %10d %10.0f %9s %9s %9s %9s %8d  %s\n", sc.name, m.Requests, m.Throughput,
			m.Latencies.P50.Round(10*time.Microsecond), m.Latencies.P95.Round(10*time.Microsecond),
			m.Latencies.P99.Round(10*time.Microsecond), m.Latencies.Max.Round(10*time.Microsecond),
			m.Requests-uint64(float64(m.Requests)*m.Success), rssKB(srv.pid))
		if len(m.Errors) > 0 {
			fmt.Printf("         first errors: %v\n", m.Errors[:min(3, len(m.Errors))])
		}
	}
	return nil
}

// attack runs an open-ended (max rate) attack with a fixed pool of conns
// workers and connections for dur.
func attack(targets []vegeta.Target, conns int, dur time.Duration) vegeta.Metrics {
	tr := vegeta.NewStaticTargeter(targets...)
	a := vegeta.NewAttacker(vegeta.Workers(uint64(conns)), vegeta.MaxWorkers(uint64(conns)), vegeta.Connections(conns),
		vegeta.MaxConnections(conns), vegeta.KeepAlive(true), vegeta.Timeout(10*time.Second),
		// Every response body is still read to the end and discarded; the
		// generator just does not keep 130 KB galleries in memory per result.
		vegeta.MaxBody(0))
	var m vegeta.Metrics
	for res := range a.Attack(tr, vegeta.Rate{Freq: 0}, dur, "load") {
		m.Add(res)
	}
	m.Close()
	return m
}
