package cmd_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	endian "encoding/binary"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/photovault/photovault/cmd"
	"github.com/photovault/photovault/server"
	"github.com/photovault/photovault/store/keys"
)

// fileState is a blob file's content hash and modification time.
type fileState struct {
	sum   [32]byte
	mtime time.Time
}

func blobStates(t *testing.T, dataDir string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	err := filepath.WalkDir(filepath.Join(dataDir, "blobs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out[p] = fileState{sum: sha256.Sum256(b), mtime: info.ModTime()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// gpsCamera is the camera name gpsJPEG's EXIF makes ("Make Model").
const gpsCamera = "Canary Cam 9000"

// gpsJPEG is a real JPEG with EXIF Make/Model and a GPS position
// (51°30'N 7°W), so the upload stores a sealed camera name and an
// encrypted location for rotation to carry over.
func gpsJPEG(t *testing.T) []byte {
	jpg := testJPEG(t, 320, 200, 42)
	le := endian.LittleEndian
	type entry struct {
		tag, typ uint16
		n, val   uint32
	}
	ifd := func(b []byte, es []entry) []byte {
		b = le.AppendUint16(b, uint16(len(es)))
		for _, e := range es {
			b = le.AppendUint16(b, e.tag)
			b = le.AppendUint16(b, e.typ)
			b = le.AppendUint32(b, e.n)
			b = le.AppendUint32(b, e.val)
		}
		return le.AppendUint32(b, 0)
	}
	const ifd0 = 8
	strOff := uint32(ifd0 + 2 + 3*12 + 4)
	mk, model := "Canary\x00", "Cam 9000\x00"
	gpsOff := strOff + uint32(len(mk)+len(model))
	dataOff := gpsOff + 2 + 4*12 + 4
	tiff := []byte{'I', 'I', 42, 0, ifd0, 0, 0, 0}
	tiff = ifd(tiff, []entry{{0x010F, 2, uint32(len(mk)), strOff}, {0x0110, 2, uint32(len(model)), strOff + uint32(len(mk))}, {0x8825, 4, 1, gpsOff}})
	tiff = append(append(tiff, mk...), model...)
	tiff = ifd(tiff, []entry{{1, 2, 2, uint32('N')}, {2, 5, 3, dataOff}, {3, 2, 2, uint32('W')}, {4, 5, 3, dataOff + 24}})
	for _, v := range []uint32{51, 1, 30, 1, 0, 1, 7, 1, 0, 1, 0, 1} {
		tiff = le.AppendUint32(tiff, v)
	}
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}
	out := append(append(append([]byte{}, jpg[:2]...), seg...), payload...)
	return append(out, jpg[2:]...)
}

func writeKeyFile(t *testing.T, dir, name string) (keys.Key, string) {
	t.Helper()
	k, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(k.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return k, p
}

// TestKeysRotateMaster rotates the master key of a vault with photos:
// media files stay byte-for-byte (and mtime) identical, the new key opens
// everything, the old one is refused, and a re-run is harmless.
func TestKeysRotateMaster(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "d")
	etc := filepath.Join(dir, "etc")
	if err := os.MkdirAll(etc, 0o700); err != nil {
		t.Fatal(err)
	}
	oldKey, oldFile := writeKeyFile(t, etc, "old.key")
	newKey, newFile := writeKeyFile(t, etc, "new.key")
	envWith := func(keyFile string) []string {
		return baseEnv("PHOTOVAULT_ADDR=127.0.0.1:0", "PHOTOVAULT_DATA_DIR="+data, "PHOTOVAULT_ENCRYPTION_KEY_FILE="+keyFile)
	}
	oldEnv, newEnv := envWith(oldFile), envWith(newFile)

	createOwnerCLI(t, dir, oldEnv, "ada")
	d := startServe(t, dir, oldEnv)
	api := loginAPI(t, d.addr, "ada")
	album := api.createAlbum("Rotation")
	photo := gpsJPEG(t)
	m := api.upload(album, "gps.jpg", photo)
	api.waitReady(m.ID)
	var meta struct{ Camera string }
	api.json("GET", "/api/media/"+m.ID, nil, 200, &meta)
	if meta.Camera != gpsCamera {
		t.Fatalf("camera %q, want %q: the fixture's EXIF was not read", meta.Camera, gpsCamera)
	}
	thumb := api.get("/api/media/" + m.ID + "/thumb")

	// Refused while serve runs: it would keep wrapping with the old key.
	code, out, stderr := runCmd(t, dir, oldEnv, "", "keys", "rotate", "--new-encryption-key-file", newFile)
	if code == 0 || !strings.Contains(stderr, "stop it") {
		t.Fatalf("rotate while serving: %d %s %s", code, out, stderr)
	}
	if code := d.stop(t); code != 0 {
		t.Fatalf("serve exit %d\n%s", code, d.logs())
	}

	db := openDB(t, data)
	var rec []byte
	if err := db.QueryRow(`SELECT enc_location FROM media WHERE id = ?`, m.ID).Scan(&rec); err != nil || rec == nil {
		t.Fatalf("no encrypted location stored (%v): the fixture should carry GPS", err)
	}
	if _, _, err := server.OpenLocation(oldKey, m.ID, rec); err != nil {
		t.Fatalf("location under the old key: %v", err)
	}
	_ = db.Close()

	// Flag checks.
	if code, _, stderr := runCmd(t, dir, oldEnv, "", "keys", "rotate"); code == 0 || !strings.Contains(stderr, "exactly one") {
		t.Fatalf("no flag: %d %s", code, stderr)
	}
	if code, _, stderr := runCmd(t, dir, oldEnv, "", "keys", "rotate", "--signing", "--new-encryption-key-file", newFile); code == 0 || !strings.Contains(stderr, "exactly one") {
		t.Fatalf("both flags: %d %s", code, stderr)
	}
	if code, _, stderr := runCmd(t, dir, oldEnv, "", "keys", "rotate", "--new-encryption-key-file", oldFile); code == 0 || !strings.Contains(stderr, "current one") {
		t.Fatalf("same key: %d %s", code, stderr)
	}
	stranger, strangerFile := writeKeyFile(t, etc, "stranger.key")
	_ = stranger
	if code, _, stderr := runCmd(t, dir, envWith(strangerFile), "", "keys", "rotate", "--new-encryption-key-file", newFile); code == 0 || !strings.Contains(stderr, "different encryption key") {
		t.Fatalf("wrong current key: %d %s", code, stderr)
	}

	beforeFiles := blobStates(t, data)
	code, out, stderr = runCmd(t, dir, oldEnv, "", "keys", "rotate", "--new-encryption-key-file", newFile)
	if code != 0 {
		t.Fatalf("rotate: %d %s %s", code, out, stderr)
	}
	for _, want := range []string{"4 data keys re-wrapped", "1 locations", "1 metadata fields", "PHOTOVAULT_ENCRYPTION_KEY_FILE=" + newFile, "destroy the old key"} {
		if !strings.Contains(out, want) {
			t.Errorf("rotate output lacks %q:\n%s", want, out)
		}
	}
	for _, k := range []keys.Key{oldKey, newKey} {
		raw := k[:]
		for _, s := range []string{k.String(), base64.StdEncoding.EncodeToString(raw)} {
			if strings.Contains(out+stderr, s) {
				t.Fatal("key material printed")
			}
		}
	}
	afterFiles := blobStates(t, data)
	if len(afterFiles) != len(beforeFiles) || len(beforeFiles) != 4 {
		t.Fatalf("blob files %d -> %d (want 4: original, preview, thumb, stripped)", len(beforeFiles), len(afterFiles))
	}
	for p, st := range beforeFiles {
		if afterFiles[p] != st {
			t.Fatalf("rotation touched %s", p)
		}
	}

	// A re-run (say, after an interruption the operator is unsure about)
	// finds everything done and changes nothing.
	code, out, stderr = runCmd(t, dir, oldEnv, "", "keys", "rotate", "--new-encryption-key-file", newFile)
	if code != 0 || !strings.Contains(out, "0 data keys re-wrapped (4 already under the new key)") {
		t.Fatalf("re-run: %d %s %s", code, out, stderr)
	}

	// The old key no longer opens the vault.
	code, _, stderr = runCmd(t, dir, oldEnv, "", "serve")
	if code == 0 || !strings.Contains(stderr, "different encryption key") {
		t.Fatalf("old key after rotation: %d %s", code, stderr)
	}
	// The new one opens everything.
	d = startServe(t, dir, newEnv)
	api = loginAPI(t, d.addr, "ada")
	if got := api.get("/api/media/" + m.ID + "/original"); !bytes.Equal(got, photo) {
		t.Fatal("original differs under the new key")
	}
	if got := api.get("/api/media/" + m.ID + "/thumb"); !bytes.Equal(got, thumb) {
		t.Fatal("thumb differs under the new key")
	}
	api.json("GET", "/api/media/"+m.ID, nil, 200, &meta)
	if meta.Camera != gpsCamera {
		t.Fatalf("camera after rotation %q, want %q", meta.Camera, gpsCamera)
	}
	m2 := api.upload(album, "after.jpg", testJPEG(t, 100, 80, 1))
	api.waitReady(m2.ID)
	d.stop(t)

	db = openDB(t, data)
	if err := db.QueryRow(`SELECT enc_location FROM media WHERE id = ?`, m.ID).Scan(&rec); err != nil {
		t.Fatal(err)
	}
	if lat, lon, err := server.OpenLocation(newKey, m.ID, rec); err != nil || lat < 51.49 || lat > 51.51 || lon > -6.99 || lon < -7.01 {
		t.Fatalf("location under the new key: %v %v %v", lat, lon, err)
	}
	if _, _, err := server.OpenLocation(oldKey, m.ID, rec); err == nil {
		t.Fatal("old key still opens the location")
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM blobs WHERE key_id != ?`, newKey.ID()).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d blobs not under the new key (%v)", n, err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM audit_logs WHERE event_type = 'key_rotated'`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("key_rotated audit events: %d %v (want 2: the rotation and the re-run)", n, err)
	}
}

// TestKeysRotateSigning rotates the signing key while serve runs: new
// tokens carry the next generation, tokens issued before keep working.
func TestKeysRotateSigning(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "d")
	env := baseEnv("PHOTOVAULT_ADDR=127.0.0.1:0", "PHOTOVAULT_DATA_DIR="+data)
	if code, _, stderr := runCmd(t, dir, env, "", "keys", "rotate", "--signing"); code == 0 || !strings.Contains(stderr, "no vault") {
		t.Fatalf("rotate without a vault: %d %s", code, stderr)
	}
	if _, err := os.Stat(data); err == nil {
		if _, err := os.Stat(filepath.Join(data, "photovault.db")); err == nil {
			t.Fatal("rotate without a vault created one")
		}
	}
	createOwnerCLI(t, dir, env, "ada")
	d := startServe(t, dir, env)
	before := loginAPI(t, d.addr, "ada")
	if kid := tokenKID(t, before.token); kid != "g1" {
		t.Fatalf("first generation kid %q", kid)
	}
	code, out, stderr := runCmd(t, dir, env, "", "keys", "rotate", "--signing")
	if code != 0 || !strings.Contains(out, "generation 2") {
		t.Fatalf("rotate --signing: %d %s %s", code, out, stderr)
	}
	// serve reloads signing keys every few seconds.
	deadline := time.Now().Add(15 * time.Second)
	var after *vaultAPI
	for {
		after = loginAPI(t, d.addr, "ada")
		if tokenKID(t, after.token) == "g2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("serve still signs with generation 1")
		}
		time.Sleep(500 * time.Millisecond)
	}
	var me struct{ Username string }
	before.json("GET", "/api/auth/me", nil, 200, &me)
	after.json("GET", "/api/auth/me", nil, 200, &me)
	if me.Username != "ada" {
		t.Fatalf("me: %+v", me)
	}
	d.stop(t)
	db := openDB(t, data)
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM audit_logs WHERE event_type = 'key_rotated' AND target = 'signing'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("audit: %d %v", n, err)
	}
}

// tokenKID reads the kid from a JWT header.
func tokenKID(t *testing.T, tok string) string {
	t.Helper()
	h, _, ok := strings.Cut(tok, ".")
	if !ok {
		t.Fatalf("not a JWT: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct{ Kid string }
	if err := json.Unmarshal(raw, &hdr); err != nil {
		t.Fatal(err)
	}
	return hdr.Kid
}

func TestKeysRotateExcludesOtherCommands(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "d")
	etc := filepath.Join(dir, "etc")
	if err := os.MkdirAll(etc, 0o700); err != nil {
		t.Fatal(err)
	}
	_, oldFile := writeKeyFile(t, etc, "old.key")
	_, newFile := writeKeyFile(t, etc, "new.key")
	env := baseEnv("PHOTOVAULT_DATA_DIR="+data, "PHOTOVAULT_ENCRYPTION_KEY_FILE="+oldFile)
	createOwnerCLI(t, dir, env, "ada")

	// Another command (an import, a backup) holds the data dir: the
	// rotation is refused and changes nothing.
	shared, err := cmd.LockDataDir(data, false)
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCmd(t, dir, env, "", "keys", "rotate", "--new-encryption-key-file", newFile)
	if code == 0 || !strings.Contains(stderr, "another photovault command") {
		t.Fatalf("rotate next to another command: %d %s %s", code, out, stderr)
	}
	if code, _, stderr := runCmd(t, dir, env, "", "user", "list"); code != 0 {
		t.Fatalf("the old key stopped working after a refused rotation: %s", stderr)
	}
	_ = shared.Close()

	// A rotation in progress (the exclusive lock) keeps other commands out.
	excl, err := cmd.LockDataDir(data, true)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCmd(t, dir, env, "", "user", "list"); code == 0 || !strings.Contains(stderr, "rotation") {
		t.Fatalf("a command ran during a rotation: %d %s", code, stderr)
	}
	_ = excl.Close()

	// Alone, it rotates.
	if code, out, stderr := runCmd(t, dir, env, "", "keys", "rotate", "--new-encryption-key-file", newFile); code != 0 {
		t.Fatalf("rotate alone: %d %s %s", code, out, stderr)
	}
}
