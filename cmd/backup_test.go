package cmd_test

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/photovault/photovault/store/keys"
)

// backupEnv is the environment of a vault whose keys are given by setting
// (kept outside the data dir, as in a real install).
func backupEnv(data string, master, secret keys.Key) []string {
	return baseEnv("PHOTOVAULT_ADDR=127.0.0.1:0", "PHOTOVAULT_DATA_DIR="+data, "PHOTOVAULT_RATE_LIMIT=0",
		"PHOTOVAULT_ENCRYPTION_KEY="+master.String(), "PHOTOVAULT_SECRET_KEY="+secret.String())
}

// treeState lists every file and directory under dir with mode, size,
// modification time and, for files, content hash.
func treeState(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v %d %d", p, info.Mode(), info.Size(), info.ModTime().UnixNano())
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// copyTree copies a backup directory to a fresh place to damage it there.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// blobFile finds the file of blob id under a backup or data dir.
func blobFile(t *testing.T, dir, id string) string {
	t.Helper()
	var found string
	_ = filepath.WalkDir(filepath.Join(dir, "blobs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == id {
			found = p
		}
		return nil
	})
	if found == "" {
		t.Fatalf("no file for blob %s under %s", id, dir)
	}
	return found
}

// snapshotDB opens a backup's database read-only without touching it.
func snapshotDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&immutable=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func queryInt(t *testing.T, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// backgroundWriter keeps creating albums and uploading small JPEGs over
// HTTP, like a photographer busy while the backup runs.
type backgroundWriter struct {
	base, token   string
	albums, media atomic.Int64
	stop          chan struct{}
	done          chan error
}

func startWriter(t *testing.T, api *vaultAPI) *backgroundWriter {
	t.Helper()
	imgs := make([][]byte, 8)
	for i := range imgs {
		imgs[i] = testJPEG(t, 40+i, 30, uint8(i*29))
	}
	w := &backgroundWriter{base: api.base, token: api.token, stop: make(chan struct{}), done: make(chan error, 1)}
	go func() { w.done <- w.run(imgs) }()
	return w
}

func (w *backgroundWriter) run(imgs [][]byte) error {
	client := &http.Client{Timeout: 30 * time.Second}
	for i := 0; ; i++ {
		select {
		case <-w.stop:
			return nil
		default:
		}
		body, _ := json.Marshal(map[string]string{"title": fmt.Sprintf("busy %d", i)})
		req, _ := http.NewRequest("POST", w.base+"/api/albums", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		var al struct{ ID string }
		if err := w.do(client, req, 201, &al); err != nil {
			return err
		}
		w.albums.Add(1)
		for j := 0; j < 2; j++ {
			img := imgs[(i*2+j)%len(imgs)] // each album is new, so never a duplicate
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			fw, _ := mw.CreateFormFile("file", fmt.Sprintf("busy-%d-%d.jpg", i, j))
			_, _ = fw.Write(img)
			_ = mw.Close()
			req, _ := http.NewRequest("POST", w.base+"/api/albums/"+al.ID+"/media", &buf)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			if err := w.do(client, req, 201, nil); err != nil {
				return err
			}
			w.media.Add(1)
		}
		time.Sleep(5 * time.Millisecond) // leave the shared cores some air
	}
}

func (w *backgroundWriter) do(client *http.Client, req *http.Request, want int, out any) error {
	req.Header.Set("Authorization", "Bearer "+w.token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (w *backgroundWriter) waitFor(t *testing.T, albums int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for w.albums.Load() < albums {
		select {
		case err := <-w.done:
			t.Fatalf("writer stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("writer made only %d albums", w.albums.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (w *backgroundWriter) finish(t *testing.T) {
	t.Helper()
	close(w.stop)
	if err := <-w.done; err != nil {
		t.Fatalf("writer: %v", err)
	}
}

// TestBackupRestore backs a vault up while serve runs and a client keeps
// writing, restores it, serves the restored copy, and then damages copies
// of the backup in every way restore must catch.
func TestBackupRestore(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	bk := filepath.Join(dir, "backup")
	master, _ := keys.Generate()
	secret, _ := keys.Generate()
	env := backupEnv(data, master, secret)
	createOwnerCLI(t, dir, env, "ada")
	d := startServe(t, dir, env)
	api := loginAPI(t, d.addr, "ada")
	albumID := api.createAlbum("Wedding")
	original := testJPEG(t, 320, 240, 7)
	m := api.upload(albumID, "first-dance.jpg", original)
	api.waitReady(m.ID) // its thumbnail and preview exist: derivative blobs too

	w := startWriter(t, api)
	w.waitFor(t, 3)
	during := w.albums.Load()
	code, out, stderr := runCmd(t, dir, env, "", "backup", bk)
	during = w.albums.Load() - during
	if code != 0 {
		t.Fatalf("backup while serving: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{"Backup complete", "already present", "decrypted with master key " + master.ID(), "took"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr, "Copying") || !strings.Contains(stderr, "files") {
		t.Errorf("no progress on stderr:\n%s", stderr)
	}
	// Again, while the writer goes on: incremental.
	w.waitFor(t, w.albums.Load()+3)
	n := w.albums.Load()
	code, out, stderr = runCmd(t, dir, env, "", "backup", bk)
	during += w.albums.Load() - n
	if code != 0 {
		t.Fatalf("second backup: exit %d\n%s\n%s", code, out, stderr)
	}
	counts := regexp.MustCompile(`(\d+) copied \(.*\), (\d+) already present`).FindStringSubmatch(out)
	if counts == nil {
		t.Fatalf("no blob counts in the summary:\n%s", out)
	}
	copied, present := counts[1], counts[2]
	if present == "0" || copied == "0" {
		t.Fatalf("second backup: %s copied, %s already present; want both > 0:\n%s", copied, present, out)
	}
	w.finish(t)
	t.Logf("writer made %d albums and %d uploads, %d albums while a backup ran", w.albums.Load(), w.media.Load(), during)
	if during == 0 {
		t.Fatal("no write happened while a backup ran")
	}
	if code := d.stop(t); code != 0 {
		t.Fatalf("serve exit %d\n%s", code, d.logs())
	}
	live := openDB(t, data)
	if n := queryInt(t, live, `SELECT COUNT(*) FROM audit_logs WHERE event_type = 'backup' AND target = ? AND detail LIKE 'ok:%'`, bk); n != 2 {
		t.Fatalf("%d backup audit events", n)
	}
	// Keys are never in a backup.
	keyStrings := []string{master.String(), secret.String()}
	filepath.WalkDir(bk, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		if strings.HasSuffix(p, ".key") {
			t.Errorf("key file in backup: %s", p)
		}
		b, _ := os.ReadFile(p)
		for _, k := range keyStrings {
			if bytes.Contains(b, []byte(k)) {
				t.Errorf("key material in %s", p)
			}
		}
		return nil
	})
	snap := snapshotDB(t, filepath.Join(bk, "photovault.db"))
	wantAlbums := queryInt(t, snap, `SELECT COUNT(*) FROM albums`)
	wantMedia := queryInt(t, snap, `SELECT COUNT(*) FROM media`)
	if wantAlbums < 4 || wantAlbums > 1+int(w.albums.Load()) {
		t.Fatalf("backup holds %d albums; the writer made %d", wantAlbums, w.albums.Load())
	}
	var firstBlob string
	if err := snap.QueryRow(`SELECT blob_id FROM media WHERE id = ?`, m.ID).Scan(&firstBlob); err != nil {
		t.Fatal(err)
	}
	var thumbBlob string
	if err := snap.QueryRow(`SELECT blob_id FROM derivatives WHERE media_id = ? AND variant = 'thumb'`, m.ID).Scan(&thumbBlob); err != nil {
		t.Fatalf("the backup lacks the thumbnail: %v", err)
	}

	t.Run("restore and serve", func(t *testing.T) {
		restored := filepath.Join(dir, "restored")
		renv := backupEnv(restored, master, secret)
		code, out, stderr := runCmd(t, dir, renv, "", "restore", bk, "--data-dir", restored)
		if code != 0 {
			t.Fatalf("restore: exit %d\n%s\n%s", code, out, stderr)
		}
		if !strings.Contains(out, "Restored") {
			t.Errorf("restore summary:\n%s", out)
		}
		db := openDB(t, restored)
		integrityOK(t, db)
		if n := queryInt(t, db, `SELECT COUNT(*) FROM audit_logs WHERE event_type = 'restore' AND target = ?`, bk); n != 1 {
			t.Fatalf("%d restore audit events", n)
		}
		db.Close()
		d := startServe(t, dir, renv)
		api := loginAPI(t, d.addr, "ada")
		var list struct {
			Items []struct {
				ID         string `json:"id"`
				Title      string `json:"title"`
				MediaCount int    `json:"media_count"`
			} `json:"items"`
		}
		api.json("GET", "/api/albums", nil, 200, &list)
		media := 0
		titles := map[string]bool{}
		for _, a := range list.Items {
			media += a.MediaCount
			titles[a.Title] = true
		}
		if len(list.Items) != wantAlbums || media != wantMedia || !titles["Wedding"] {
			t.Fatalf("restored vault lists %d albums / %d media, backup has %d / %d", len(list.Items), media, wantAlbums, wantMedia)
		}
		if got := api.get("/api/media/" + m.ID + "/original"); !bytes.Equal(got, original) {
			t.Fatalf("restored original differs: %d bytes, want %d", len(got), len(original))
		}
		if thumb := api.get("/api/media/" + m.ID + "/thumb"); len(thumb) < 100 {
			t.Fatalf("restored thumbnail: %d bytes", len(thumb))
		}
		if code := d.stop(t); code != 0 {
			t.Fatalf("serve on the restored vault: exit %d\n%s", code, d.logs())
		}

		// A second restore into the now non-empty dir is refused...
		before := treeState(t, restored)
		code, _, stderr = runCmd(t, dir, renv, "", "restore", bk, "--data-dir", restored)
		if code != 1 || !strings.Contains(stderr, "not empty") || !strings.Contains(stderr, "--force") {
			t.Fatalf("non-empty target: exit %d %s", code, stderr)
		}
		if treeState(t, restored) != before {
			t.Fatal("refused restore changed the target")
		}
		// ...and goes through with --force, replacing the database.
		code, out, stderr = runCmd(t, dir, renv, "", "restore", bk, "--data-dir", restored, "--force")
		if code != 0 || !strings.Contains(out, "already there") {
			t.Fatalf("--force: exit %d\n%s\n%s", code, out, stderr)
		}
		db = openDB(t, restored)
		integrityOK(t, db)
		// The forced restore replaced the database: the first restore's
		// audit event (and serve's login events) are gone, a new one is there.
		if n := queryInt(t, db, `SELECT COUNT(*) FROM audit_logs WHERE event_type = 'restore'`); n != 1 {
			t.Fatalf("%d restore events after --force", n)
		}
	})

	t.Run("verify-only writes nothing", func(t *testing.T) {
		target := filepath.Join(dir, "never")
		before := treeState(t, bk)
		code, out, stderr := runCmd(t, dir, backupEnv(target, master, secret), "", "restore", bk, "--data-dir", target, "--verify-only")
		if code != 0 || !strings.Contains(out, "complete and intact") || !strings.Contains(out, "Nothing was written") {
			t.Fatalf("verify-only: exit %d\n%s\n%s", code, out, stderr)
		}
		if after := treeState(t, bk); after != before {
			t.Fatalf("verify-only changed the backup:\n%s\n---\n%s", before, after)
		}
		if _, err := os.Stat(target); !os.IsNotExist(err) {
			t.Fatalf("verify-only created the target: %v", err)
		}
	})

	t.Run("wrong key", func(t *testing.T) {
		other, _ := keys.Generate()
		target := filepath.Join(dir, "wrongkey")
		code, out, stderr := runCmd(t, dir, backupEnv(target, other, secret), "", "restore", bk, "--data-dir", target)
		want := "was made with a different master key (id " + master.ID()
		if code != 1 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "PHOTOVAULT_ENCRYPTION_KEY[_FILE] of that vault") {
			t.Fatalf("wrong key: exit %d\n%s\n%s", code, out, stderr)
		}
		for _, k := range []string{other.String(), master.String()} {
			if strings.Contains(out+stderr, k) {
				t.Fatal("key printed")
			}
		}
		if _, err := os.Stat(target); !os.IsNotExist(err) {
			t.Fatal("a failed restore created the target")
		}
	})

	t.Run("no key", func(t *testing.T) {
		target := filepath.Join(dir, "nokey")
		code, _, stderr := runCmd(t, dir, baseEnv("PHOTOVAULT_DATA_DIR="+target), "", "restore", bk)
		if code != 1 || !strings.Contains(stderr, "restore needs the master key") || !strings.Contains(stderr, master.ID()) {
			t.Fatalf("no key: exit %d %s", code, stderr)
		}
		if _, err := os.Stat(target); !os.IsNotExist(err) {
			t.Fatal("created the target (or generated a key in it)")
		}
	})

	t.Run("corrupt blob", func(t *testing.T) {
		bad := filepath.Join(dir, "corrupt")
		copyTree(t, bk, bad)
		p := blobFile(t, bad, firstBlob)
		b, _ := os.ReadFile(p)
		b[len(b)/2] ^= 0x01
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, "fromcorrupt")
		for _, args := range [][]string{{"--verify-only"}, {}} {
			code, _, stderr := runCmd(t, dir, backupEnv(target, master, secret), "", append([]string{"restore", bad, "--data-dir", target}, args...)...)
			if code != 1 || !strings.Contains(stderr, "blob "+firstBlob) || !strings.Contains(stderr, "damaged") {
				t.Fatalf("restore %v of a corrupt blob: exit %d\n%s", args, code, stderr)
			}
		}
		if _, err := os.Stat(target); !os.IsNotExist(err) {
			t.Fatal("a failed restore created the target")
		}
		// An attacker who also fixes the manifest's hash is caught by
		// decryption.
		mb, _ := os.ReadFile(filepath.Join(bad, "MANIFEST.json"))
		var man map[string]any
		if err := json.Unmarshal(mb, &man); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		for _, e := range man["blobs"].([]any) {
			if e.(map[string]any)["id"] == firstBlob {
				e.(map[string]any)["sha256"] = hex.EncodeToString(sum[:])
			}
		}
		mb, _ = json.Marshal(man)
		if err := os.WriteFile(filepath.Join(bad, "MANIFEST.json"), mb, 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runCmd(t, dir, backupEnv(target, master, secret), "", "restore", bad, "--data-dir", target, "--verify-only")
		if code != 1 || !strings.Contains(stderr, "blob "+firstBlob) || !strings.Contains(stderr, "does not decrypt") {
			t.Fatalf("re-hashed corrupt blob: exit %d\n%s", code, stderr)
		}
	})

	t.Run("missing blob", func(t *testing.T) {
		bad := filepath.Join(dir, "missing")
		copyTree(t, bk, bad)
		if err := os.Remove(blobFile(t, bad, thumbBlob)); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runCmd(t, dir, backupEnv(filepath.Join(dir, "x"), master, secret), "", "restore", bad, "--verify-only")
		if code != 1 || !strings.Contains(stderr, "blob "+thumbBlob+" (thumb of media "+m.ID+"): no such file") {
			t.Fatalf("missing blob: exit %d\n%s", code, stderr)
		}
	})

	t.Run("truncated database", func(t *testing.T) {
		bad := filepath.Join(dir, "truncated")
		copyTree(t, bk, bad)
		p := filepath.Join(bad, "photovault.db")
		info, _ := os.Stat(p)
		if err := os.Truncate(p, info.Size()/2); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, "fromtruncated")
		code, _, stderr := runCmd(t, dir, backupEnv(target, master, secret), "", "restore", bad, "--data-dir", target)
		if code != 1 || !strings.Contains(stderr, "photovault.db") || !strings.Contains(stderr, "truncated") {
			t.Fatalf("truncated db: exit %d\n%s", code, stderr)
		}
		if _, err := os.Stat(target); !os.IsNotExist(err) {
			t.Fatal("a failed restore created the target")
		}
	})

	t.Run("no manifest", func(t *testing.T) {
		code, _, stderr := runCmd(t, dir, backupEnv(filepath.Join(dir, "y"), master, secret), "", "restore", data, "--verify-only")
		if code != 1 || !strings.Contains(stderr, "not a PhotoVault backup") {
			t.Fatalf("data dir as SRC: exit %d\n%s", code, stderr)
		}
	})
}

// TestBackupKeysInDataDir: a vault whose keys were generated inside the
// data dir is backed up without them, with a warning, and restores once
// the key is supplied.
func TestBackupKeysInDataDir(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	env := baseEnv("PHOTOVAULT_DATA_DIR=" + data)
	createOwnerCLI(t, dir, env, "ada")
	photos := filepath.Join(dir, "shoot")
	for i := range 3 {
		importWrite(t, filepath.Join(photos, fmt.Sprintf("IMG_%d.jpg", i)), importJPEG(t, i+1))
	}
	if code, out, stderr := runCmd(t, dir, env, "", "import", photos, "--album", "A", "--owner", "ada", "--derive=false"); code != 0 {
		t.Fatalf("import: %d %s %s", code, out, stderr)
	}
	bk := filepath.Join(dir, "bk")
	code, out, stderr := runCmd(t, dir, env, "", "backup", bk)
	if code != 0 {
		t.Fatalf("backup: %d\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(stderr, "WARNING") || !strings.Contains(stderr, filepath.Join(data, "keys")) || !strings.Contains(stderr, "master.key") {
		t.Fatalf("no warning about keys inside the data dir:\n%s", stderr)
	}
	keyFile, err := os.ReadFile(filepath.Join(data, "keys", "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(keyFile))
	filepath.WalkDir(bk, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(key)) || strings.Contains(p, "keys") {
			t.Errorf("key material copied: %s", p)
		}
		return nil
	})
	info, err := os.Stat(bk)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("DEST mode %v %v", info.Mode(), err)
	}

	// Backups replace files by rename and never write one in place, so a
	// hard-linked copy of DEST (cp -al) is a cheap, stable snapshot.
	day1 := filepath.Join(dir, "bk-day1")
	filepath.WalkDir(bk, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(bk, p)
		if de.IsDir() {
			return os.MkdirAll(filepath.Join(day1, rel), 0o700)
		}
		return os.Link(p, filepath.Join(day1, rel))
	})
	importWrite(t, filepath.Join(photos, "IMG_9.jpg"), importJPEG(t, 9))
	if code, out, stderr := runCmd(t, dir, env, "", "import", photos, "--album", "A", "--owner", "ada", "--derive=false"); code != 0 {
		t.Fatalf("import: %d %s %s", code, out, stderr)
	}
	code, out, stderr = runCmd(t, dir, env, "", "backup", bk)
	if code != 0 || !strings.Contains(out, "1 copied") || !strings.Contains(out, "3 already present") {
		t.Fatalf("backup after one more import: %d\n%s\n%s", code, out, stderr)
	}
	withKey := baseEnv("PHOTOVAULT_ENCRYPTION_KEY=" + key)
	code, out, stderr = runCmd(t, dir, withKey, "", "restore", day1, "--data-dir", filepath.Join(dir, "unused"), "--verify-only")
	if code != 0 || !strings.Contains(out, "3 originals") {
		t.Fatalf("hard-linked snapshot of the first backup: %d\n%s\n%s", code, out, stderr)
	}

	// Incremental runs repair a damaged copy and drop what the vault no
	// longer has, along with leftovers of an interrupted run.
	var someBlob string
	filepath.WalkDir(filepath.Join(bk, "blobs"), func(p string, de fs.DirEntry, err error) error {
		if err == nil && !de.IsDir() {
			someBlob = p
		}
		return nil
	})
	b, _ := os.ReadFile(someBlob)
	b[40] ^= 0xff
	importWrite(t, someBlob, b)
	stale := filepath.Join(filepath.Dir(someBlob), "..", "..", "00", "11", "0011"+strings.Repeat("ab", 14))
	importWrite(t, stale, []byte("a blob the vault has since deleted"))
	leftover := filepath.Join(bk, ".photovault.db.next.snapshot-123.tmp")
	importWrite(t, leftover, []byte("interrupted"))
	code, out, stderr = runCmd(t, dir, env, "", "backup", bk)
	if code != 0 || !strings.Contains(out, "1 copied") || !strings.Contains(out, "3 already present") || !strings.Contains(out, "1 no longer in the vault removed") {
		t.Fatalf("incremental backup: %d\n%s\n%s", code, out, stderr)
	}
	for _, p := range []string{stale, leftover} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("%s not pruned", p)
		}
	}

	// Restore needs the key; a keys/ folder alone still counts as empty.
	target := filepath.Join(dir, "restored")
	code, _, stderr = runCmd(t, dir, baseEnv("PHOTOVAULT_DATA_DIR="+target), "", "restore", bk)
	if code != 1 || !strings.Contains(stderr, "restore needs the master key") {
		t.Fatalf("restore without key: %d %s", code, stderr)
	}
	importWrite(t, filepath.Join(target, "keys", "master.key"), keyFile)
	code, out, stderr = runCmd(t, dir, baseEnv("PHOTOVAULT_DATA_DIR="+target), "", "restore", bk)
	if code != 0 || !strings.Contains(out, "4 originals") {
		t.Fatalf("restore with data-dir key: %d\n%s\n%s", code, out, stderr)
	}
	if media := importMedia(t, target, "ada", "A"); len(media) != 4 {
		t.Fatalf("%d media restored", len(media))
	}
}

// TestBackupEmptyVault: a vault with an owner and nothing else backs up
// and verifies.
func TestBackupEmptyVault(t *testing.T) {
	dir := t.TempDir()
	master, _ := keys.Generate()
	secret, _ := keys.Generate()
	env := backupEnv(filepath.Join(dir, "data"), master, secret)
	createOwnerCLI(t, dir, env, "ada")
	bk := filepath.Join(dir, "bk")
	for range 2 {
		if code, out, stderr := runCmd(t, dir, env, "", "backup", bk); code != 0 || !strings.Contains(out, "0 files") {
			t.Fatalf("backup: %d\n%s\n%s", code, out, stderr)
		}
	}
	target := filepath.Join(dir, "restored")
	if code, out, stderr := runCmd(t, dir, backupEnv(target, master, secret), "", "restore", bk); code != 0 {
		t.Fatalf("restore: %d\n%s\n%s", code, out, stderr)
	}
	db := openDB(t, target)
	integrityOK(t, db)
	if n := queryInt(t, db, `SELECT COUNT(*) FROM users`); n != 1 {
		t.Fatalf("%d users restored", n)
	}
}

// TestBackupRefuses: backups that would be wrong or unsafe fail with exit
// 1 and a clear message, and never leave a manifest behind.
func TestBackupRefuses(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	master, _ := keys.Generate()
	secret, _ := keys.Generate()
	env := backupEnv(data, master, secret)
	createOwnerCLI(t, dir, env, "ada")
	photos := filepath.Join(dir, "shoot")
	importWrite(t, filepath.Join(photos, "a.jpg"), importJPEG(t, 5))
	if code, _, stderr := runCmd(t, dir, env, "", "import", photos, "--album", "A", "--owner", "ada", "--derive=false"); code != 0 {
		t.Fatal(stderr)
	}
	cases := []struct {
		name, dest, want string
		setup            func(t *testing.T) func()
		env              []string
	}{
		{name: "inside the data dir", dest: filepath.Join(data, "backup"), want: "inside the data dir"},
		{name: "the data dir", dest: data, want: "inside the data dir"},
		{name: "foreign directory", dest: filepath.Join(dir, "home"), want: `holds "notes.txt"`, setup: func(t *testing.T) func() {
			importWrite(t, filepath.Join(dir, "home", "notes.txt"), []byte("mine"))
			return func() {}
		}},
		{name: "wrong key", dest: filepath.Join(dir, "wk"), want: "different encryption key", env: backupEnv(data, secret, secret)},
		{name: "no vault", dest: filepath.Join(dir, "nv"), want: "no vault", env: backupEnv(filepath.Join(dir, "empty"), master, secret)},
		{name: "blob missing from the vault", dest: filepath.Join(dir, "mb"), want: "missing from " + data, setup: func(t *testing.T) func() {
			var p string
			filepath.WalkDir(filepath.Join(data, "blobs"), func(q string, de fs.DirEntry, err error) error {
				if err == nil && !de.IsDir() {
					p = q
				}
				return nil
			})
			if err := os.Rename(p, p+".away"); err != nil {
				t.Fatal(err)
			}
			return func() { _ = os.Rename(p+".away", p) }
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.setup != nil {
				defer c.setup(t)()
			}
			e := env
			if c.env != nil {
				e = c.env
			}
			code, out, stderr := runCmd(t, dir, e, "", "backup", c.dest)
			if code != 1 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, want 1 with %q\n%s\n%s", code, c.want, out, stderr)
			}
			if _, err := os.Stat(filepath.Join(c.dest, "MANIFEST.json")); err == nil {
				t.Fatal("a failed backup wrote a manifest")
			}
		})
	}
	// After all that, a good backup still works, and records the failures.
	code, out, stderr := runCmd(t, dir, env, "", "backup", filepath.Join(dir, "good"))
	if code != 0 {
		t.Fatalf("%d\n%s\n%s", code, out, stderr)
	}
	db := openDB(t, data)
	rows, err := db.Query(`SELECT detail FROM audit_logs WHERE event_type = 'backup' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var details []string
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		details = append(details, s[:min(len(s), 7)])
	}
	sort.Strings(details)
	if strings.Join(details, ",") != "failed:,ok: 1 b" {
		t.Fatalf("backup audit events: %q", details)
	}
}
