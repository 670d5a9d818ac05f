package blob

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const crashEnv = "PHOTOVAULT_BLOB_CRASH_CHILD"

// TestCrashDuringWrite kills (SIGKILL) a process in the middle of an
// upload, after it committed another blob: the committed blob must read
// back intact, the half-written one must not be visible in blobs/, and
// CleanTmp must remove its orphan.
func TestCrashDuringWrite(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDuringWrite$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var ref Ref
	sc := bufio.NewScanner(out)
	deadline := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		line := sc.Text()
		if js, ok := strings.CutPrefix(line, "REF "); ok {
			if err := json.Unmarshal([]byte(js), &ref); err != nil {
				t.Fatal(err)
			}
		}
		if line == "WRITING" {
			break
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred cleanup runs
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if ref.ID == "" {
		t.Fatal("child never reported its committed blob")
	}

	s, err := New(dir, filepath.Join(dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	got := mustRead(t, s, ref, testKEK(50))
	if !bytes.Equal(got, crashPlain()) {
		t.Fatal("committed blob damaged by the crash")
	}
	var ids []string
	if err := s.Walk(func(id string, _ time.Time) error { ids = append(ids, id); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[0] != ref.ID {
		t.Fatalf("blobs after crash = %v, want only %s", ids, ref.ID)
	}
	n, err := s.CleanTmp(0)
	if err != nil || n != 1 {
		t.Fatalf("CleanTmp after crash = %d, %v; want 1 orphan", n, err)
	}
	if c := countFiles(t, s.tmpDir); c != 0 {
		t.Fatalf("%d files left in tmp", c)
	}
}

func crashPlain() []byte { return randBytes(200<<10+3, 50) }

// crashChild commits one blob, then writes another until it is killed.
func crashChild(dir string) {
	s, err := New(dir, filepath.Join(dir, "tmp"))
	if err != nil {
		panic(err)
	}
	kek := testKEK(50)
	w, err := s.Create(kek)
	if err != nil {
		panic(err)
	}
	if _, err := w.Write(crashPlain()); err != nil {
		panic(err)
	}
	ref, err := w.Commit()
	if err != nil {
		panic(err)
	}
	js, _ := json.Marshal(ref)
	os.Stdout.WriteString("REF " + string(js) + "\n")

	w2, err := s.Create(kek)
	if err != nil {
		panic(err)
	}
	chunk := randBytes(64<<10, 51)
	for i := 0; ; i++ {
		if _, err := w2.Write(chunk); err != nil {
			panic(err)
		}
		if i == 8 {
			os.Stdout.WriteString("WRITING\n")
		}
		if i > 8 {
			time.Sleep(10 * time.Millisecond)
		}
	}
}
