package cmd_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/photovault/photovault/store/keys"
	_ "modernc.org/sqlite"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "photovault-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "photovault")
	build := exec.Command("go", "build", "-o", binary, "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(2)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// baseEnv is a clean environment: no PHOTOVAULT_* from the developer's shell.
func baseEnv(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}, extra...)
}

// runCmd runs the binary to completion.
func runCmd(t *testing.T, dir string, env []string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	c := exec.Command(binary, args...)
	c.Dir = dir
	c.Env = env
	c.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// daemon is a running `photovault serve`.
type daemon struct {
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	out  bytes.Buffer
	done chan error
}

func (d *daemon) logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.out.String()
}

// startServe starts serve and waits for its "listening" line.
func startServe(t *testing.T, dir string, env []string, args ...string) *daemon {
	t.Helper()
	d := &daemon{done: make(chan error, 1)}
	d.cmd = exec.Command(binary, append([]string{"serve"}, args...)...)
	d.cmd.Dir = dir
	d.cmd.Env = env
	pr, pw := io.Pipe()
	d.cmd.Stdout = pw
	d.cmd.Stderr = pw
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			d.mu.Lock()
			d.out.WriteString(line + "\n")
			d.mu.Unlock()
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["message"] == "listening" {
				select {
				case addrc <- m["addr"].(string):
				default:
				}
			}
		}
	}()
	go func() { d.done <- d.cmd.Wait(); _ = pw.Close() }()
	select {
	case d.addr = <-addrc:
	case err := <-d.done:
		t.Fatalf("serve exited early: %v\n%s", err, d.logs())
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		t.Fatalf("serve did not start:\n%s", d.logs())
	}
	t.Cleanup(func() { _ = d.cmd.Process.Kill() })
	return d
}

func (d *daemon) stop(t *testing.T) int {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve ignored SIGTERM:\n%s", d.logs())
	}
	return d.cmd.ProcessState.ExitCode()
}

func TestVersion(t *testing.T) {
	code, out, _ := runCmd(t, t.TempDir(), baseEnv(), "", "version")
	if code != 0 || !strings.Contains(out, "photovault") || !strings.Contains(out, "go1.") {
		t.Fatalf("%d %q", code, out)
	}
}

func TestZeroConfigServe(t *testing.T) {
	dir := t.TempDir()
	d := startServe(t, dir, baseEnv("PHOTOVAULT_ADDR=127.0.0.1:0"))
	data := filepath.Join(dir, "photovault-data")
	st, err := os.Stat(data)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("data dir: %v %v", err, st)
	}
	for _, k := range []string{"master", "secret"} {
		st, err := os.Stat(filepath.Join(data, "keys", k+".key"))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s key: %v", k, err)
		}
	}
	resp, err := http.Get("http://" + d.addr + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("health %d", resp.StatusCode)
	}
	if code := d.stop(t); code != 0 {
		t.Fatalf("exit %d\n%s", code, d.logs())
	}
	// Second start: same keys, migrations already applied.
	d = startServe(t, dir, baseEnv("PHOTOVAULT_ADDR=127.0.0.1:0"))
	if code := d.stop(t); code != 0 {
		t.Fatalf("restart exit %d\n%s", code, d.logs())
	}
}

func TestWrongMasterKeyRefused(t *testing.T) {
	dir := t.TempDir()
	k1, _ := keys.Generate()
	k2, _ := keys.Generate()
	env := func(k keys.Key) []string {
		return baseEnv("PHOTOVAULT_ADDR=127.0.0.1:0", "PHOTOVAULT_DATA_DIR="+filepath.Join(dir, "d"), "PHOTOVAULT_ENCRYPTION_KEY="+k.String())
	}
	d := startServe(t, dir, env(k1))
	d.stop(t)
	code, _, stderr := runCmd(t, dir, env(k2), "", "serve")
	if code == 0 || !strings.Contains(stderr, "different encryption key") {
		t.Fatalf("wrong key: exit %d %q", code, stderr)
	}
	if strings.Contains(stderr, k2.String()) || strings.Contains(stderr, k1.String()) {
		t.Fatal("key printed in error")
	}
	code, _, stderr = runCmd(t, dir, baseEnv("PHOTOVAULT_ENCRYPTION_KEY=your-32-char-encryption-key-here", "PHOTOVAULT_DATA_DIR="+filepath.Join(dir, "e")), "", "serve")
	if code == 0 || !strings.Contains(stderr, "placeholder") {
		t.Fatalf("placeholder: exit %d %q", code, stderr)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	// Bad: plain HTTP on all interfaces, keys in the data dir, a placeholder secret.
	code, out, _ := runCmd(t, dir, baseEnv("PHOTOVAULT_DATA_DIR="+filepath.Join(dir, "bad"), "PHOTOVAULT_SECRET_KEY=your-super-secret-production-key-here"), "", "check")
	if code != 1 {
		t.Fatalf("bad config: exit %d\n%s", code, out)
	}
	for _, want := range []string{"tls.missing", "keys.in_data_dir", "keys.invalid", "fix:"} {
		if !strings.Contains(out, want) {
			t.Errorf("bad config: %q missing from\n%s", want, out)
		}
	}
	// Good: TLS by domain, keys in files outside the data dir, hosts pinned.
	etc := filepath.Join(dir, "etc")
	data := filepath.Join(dir, "good")
	if err := os.MkdirAll(etc, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"master", "secret"} {
		key, _ := keys.Generate()
		if err := os.WriteFile(filepath.Join(etc, k+".key"), []byte(key.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	good := baseEnv("PHOTOVAULT_DATA_DIR="+data, "PHOTOVAULT_DOMAIN=photos.example.com", "PHOTOVAULT_ALLOWED_HOSTS=photos.example.com",
		"PHOTOVAULT_ENCRYPTION_KEY_FILE="+filepath.Join(etc, "master.key"), "PHOTOVAULT_SECRET_KEY_FILE="+filepath.Join(etc, "secret.key"))
	code, out, _ = runCmd(t, dir, good, "", "check")
	if code != 0 {
		t.Fatalf("good config: exit %d\n%s", code, out)
	}
	// Loose permissions are an error.
	if err := os.Chmod(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if code, out, _ = runCmd(t, dir, good, "", "check"); code != 1 || !strings.Contains(out, "perms.data_dir") {
		t.Fatalf("loose perms: exit %d\n%s", code, out)
	}
}

func TestUserCreate(t *testing.T) {
	dir := t.TempDir()
	env := baseEnv("PHOTOVAULT_DATA_DIR=" + filepath.Join(dir, "d"))
	code, _, stderr := runCmd(t, dir, env, "short\n", "user", "create", "--username", "ada", "--password-stdin")
	if code != 1 || !strings.Contains(stderr, "weak password") {
		t.Fatalf("weak: %d %q", code, stderr)
	}
	pw := "lighthouse tangerine velvet 1987"
	code, out, stderr := runCmd(t, dir, env, pw+"\n", "user", "create", "--username", "ada", "--password-stdin")
	if code != 0 || len(strings.TrimSpace(out)) != 26 {
		t.Fatalf("create: %d %q %q", code, out, stderr)
	}
	if strings.Contains(out+stderr, pw) {
		t.Fatal("password echoed")
	}
	code, _, stderr = runCmd(t, dir, env, pw+"\n", "user", "create", "--username", "ADA", "--password-stdin")
	if code == 0 || !strings.Contains(stderr, "already exists") {
		t.Fatalf("duplicate: %d %q", code, stderr)
	}
	code, out, _ = runCmd(t, dir, env, "", "user", "list")
	if code != 0 || !strings.Contains(out, "ada") {
		t.Fatalf("list: %d %q", code, out)
	}
	if code, _, _ = runCmd(t, dir, env, "", "user", "create", "--username", "bob"); code == 0 {
		t.Fatal("create without --password-stdin succeeded")
	}
	_ = context.Background
}

func TestSIGTERMDrainsInFlightRequest(t *testing.T) {
	dir := t.TempDir()
	d := startServe(t, dir, baseEnv("PHOTOVAULT_ADDR=127.0.0.1:0", "PHOTOVAULT_DATA_DIR="+filepath.Join(dir, "d")))
	conn, err := net.Dial("tcp", d.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"username":"nobody","password":"not-the-password"}`
	fmt.Fprintf(conn, "POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	if _, err := conn.Write([]byte(body[:10])); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the handler is now blocked reading the body
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // shutdown has begun and must wait for us
	if _, err := conn.Write([]byte(body[10:])); err != nil {
		t.Fatalf("connection cut during drain: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response to the in-flight request: %v\n%s", err, d.logs())
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("in-flight request answered %d", resp.StatusCode)
	}
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit after draining")
	}
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d\n%s", code, d.logs())
	}
	if !strings.Contains(d.logs(), `"stopped"`) {
		t.Fatalf("no clean stop logged:\n%s", d.logs())
	}
	// New connections are refused once draining has finished.
	if _, err := net.DialTimeout("tcp", d.addr, time.Second); err == nil {
		t.Fatal("still accepting after shutdown")
	}
}

func TestSetupTokenPrinted(t *testing.T) {
	dir := t.TempDir()
	d := startServe(t, dir, baseEnv("PHOTOVAULT_ADDR=127.0.0.1:0", "PHOTOVAULT_DATA_DIR="+filepath.Join(dir, "d")))
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(d.logs(), "setup_token") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(d.logs(), "one-time setup token") {
		t.Fatalf("no setup banner:\n%s", d.logs())
	}
	d.stop(t)
}

func TestAuditVerify(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "d")
	env := baseEnv("PHOTOVAULT_DATA_DIR="+data, "PHOTOVAULT_ADDR=127.0.0.1:0")
	if code, _, stderr := runCmd(t, dir, env, "lighthouse tangerine velvet 1987\n", "user", "create", "--username", "ada", "--password-stdin"); code != 0 {
		t.Fatal(stderr)
	}
	d := startServe(t, dir, env)
	for _, pw := range []string{"wrong one", "lighthouse tangerine velvet 1987"} {
		resp, err := http.Post("http://"+d.addr+"/api/auth/login", "application/json", strings.NewReader(`{"username":"ada","password":"`+pw+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	d.stop(t)
	code, out, _ := runCmd(t, dir, env, "", "audit", "verify")
	if code != 0 || !strings.Contains(out, "intact: 2 rows") {
		t.Fatalf("verify: %d %q", code, out)
	}
	db, err := sql.Open("sqlite", filepath.Join(data, "photovault.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit_logs SET event_type = 'login' WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, out, _ = runCmd(t, dir, env, "", "audit", "verify")
	if code != 1 || !strings.Contains(out, "BROKEN at row 1") {
		t.Fatalf("tampered verify: %d %q", code, out)
	}
}
