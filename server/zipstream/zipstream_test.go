package zipstream

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// opens counts Open calls per entry name and records the offsets asked for.
type opens struct {
	mu      sync.Mutex
	offsets map[string][]int64
}

func (o *opens) record(name string, off int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.offsets == nil {
		o.offsets = map[string][]int64{}
	}
	o.offsets[name] = append(o.offsets[name], off)
}

func (o *opens) reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.offsets = nil
}

func (o *opens) snapshot() map[string][]int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string][]int64{}
	for k, v := range o.offsets {
		out[k] = append([]int64(nil), v...)
	}
	return out
}

// memEntry is an entry backed by data in memory.
func memEntry(name string, data []byte, mod time.Time, o *opens) Entry {
	return Entry{
		Name:     name,
		Size:     int64(len(data)),
		CRC32:    crc32.ChecksumIEEE(data),
		Modified: mod,
		Open: func(off int64) (io.ReadCloser, error) {
			if o != nil {
				o.record(name, off)
			}
			if off < 0 || off > int64(len(data)) {
				return nil, fmt.Errorf("bad offset %d", off)
			}
			return io.NopCloser(bytes.NewReader(data[off:])), nil
		},
	}
}

// zeroReader yields n zero bytes lazily.
type zeroReader struct{ n int64 }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), z.n)
	clear(p[:k])
	z.n -= k
	return int(k), nil
}

func (z *zeroReader) Close() error { return nil }

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func mustNew(t testing.TB, entries []Entry) *Archive {
	t.Helper()
	a, err := New(entries)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

func fullBytes(t testing.TB, a *Archive) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := a.WriteTo(&buf)
	if err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	if n != a.Size() || int64(buf.Len()) != a.Size() {
		t.Fatalf("WriteTo wrote %d (buffer %d), Size() = %d", n, buf.Len(), a.Size())
	}
	return buf.Bytes()
}

// archiveReaderAt reads an archive through WriteRange, so archive/zip can
// parse it without it ever being produced whole.
type archiveReaderAt struct{ a *Archive }

func (r archiveReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.a.Size() {
		return 0, io.EOF
	}
	n := min(int64(len(p)), r.a.Size()-off)
	buf := bytes.NewBuffer(p[:0])
	if err := r.a.WriteRange(buf, off, n); err != nil {
		return 0, err
	}
	if n < int64(len(p)) {
		return int(n), io.EOF
	}
	return int(n), nil
}

type wantFile struct {
	name string
	data []byte
	mod  time.Time
}

// checkZip parses b with archive/zip and checks names, bytes, CRCs, times and
// header flags against want.
func checkZip(t *testing.T, r io.ReaderAt, size int64, want []wantFile) {
	t.Helper()
	zr, err := zip.NewReader(r, size)
	if err != nil {
		t.Fatalf("archive/zip: %v", err)
	}
	if len(zr.File) != len(want) {
		t.Fatalf("archive has %d files, want %d", len(zr.File), len(want))
	}
	for i, f := range zr.File {
		w := want[i]
		if f.Name != w.name {
			t.Errorf("file %d name %q, want %q", i, f.Name, w.name)
		}
		if f.Method != zip.Store {
			t.Errorf("%q method %d, want Store", f.Name, f.Method)
		}
		if f.Flags&0x800 == 0 || f.NonUTF8 {
			t.Errorf("%q: UTF-8 flag not set (flags %#x)", f.Name, f.Flags)
		}
		if f.Flags&0x8 != 0 {
			t.Errorf("%q: data descriptor flag set", f.Name)
		}
		if f.CRC32 != crc32.ChecksumIEEE(w.data) {
			t.Errorf("%q: CRC %08x, want %08x", f.Name, f.CRC32, crc32.ChecksumIEEE(w.data))
		}
		if !w.mod.IsZero() && !f.Modified.Equal(w.mod.Truncate(time.Second)) {
			t.Errorf("%q: modified %v, want %v", f.Name, f.Modified, w.mod)
		}
		if f.Mode().Perm() != 0o644 || !f.Mode().IsRegular() {
			t.Errorf("%q: mode %v", f.Name, f.Mode())
		}
		rc, err := f.Open() // archive/zip verifies the CRC at EOF
		if err != nil {
			t.Fatalf("open %q: %v", f.Name, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("read %q: %v", f.Name, err)
		}
		if !bytes.Equal(got, w.data) {
			t.Errorf("%q: %d bytes differ from the %d written", f.Name, len(got), len(w.data))
		}
	}
}

var testTime = time.Date(2024, 6, 1, 14, 30, 17, 500, time.FixedZone("CEST", 2*3600))

func sampleEntries(o *opens) ([]Entry, []wantFile) {
	big := randomBytes(1, 300_000)
	specs := []wantFile{
		{"IMG_0001.jpg", randomBytes(2, 12345), testTime},
		{"empty.txt", nil, testTime.Add(time.Hour)},
		{"Hochzeit/Brautpaar – Café Ünïcødé 📷.jpg", randomBytes(3, 777), testTime},
		{"big.raw", big, time.Date(2030, 1, 2, 3, 4, 6, 0, time.UTC)},
		{"another-empty", []byte{}, time.Time{}},
		{"日本語/写真.png", randomBytes(4, 1), testTime},
	}
	entries := make([]Entry, len(specs))
	for i, s := range specs {
		entries[i] = memEntry(s.name, s.data, s.mod, o)
	}
	return entries, specs
}

func TestArchiveReadableByArchiveZip(t *testing.T) {
	many, manyWant := sampleEntries(nil)
	for i := range 40 {
		name := fmt.Sprintf("set/%03d.jpg", i)
		data := randomBytes(uint64(100+i), i*97)
		many = append(many, memEntry(name, data, testTime, nil))
		manyWant = append(manyWant, wantFile{name, data, testTime})
	}
	one := randomBytes(9, 4096)
	cases := []struct {
		name    string
		entries []Entry
		want    []wantFile
	}{
		{"zero entries", nil, nil},
		{"one entry", []Entry{memEntry("only.jpg", one, testTime, nil)}, []wantFile{{"only.jpg", one, testTime}}},
		{"one empty entry", []Entry{memEntry("nothing", nil, testTime, nil)}, []wantFile{{"nothing", nil, testTime}}},
		{"many entries", many, manyWant},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := mustNew(t, tc.entries)
			b := fullBytes(t, a)
			checkZip(t, bytes.NewReader(b), int64(len(b)), tc.want)
		})
	}
}

func TestEmptyArchiveIsEndRecordOnly(t *testing.T) {
	a := mustNew(t, nil)
	b := fullBytes(t, a)
	want := append([]byte{0x50, 0x4b, 0x05, 0x06}, make([]byte, 18)...)
	if !bytes.Equal(b, want) {
		t.Fatalf("empty archive = %x, want %x", b, want)
	}
}

func TestDeterministic(t *testing.T) {
	e1, _ := sampleEntries(nil)
	e2, _ := sampleEntries(nil)
	a1, a2 := mustNew(t, e1), mustNew(t, e2)
	if !bytes.Equal(fullBytes(t, a1), fullBytes(t, a2)) {
		t.Fatal("two builds from the same entries differ")
	}
	if a1.ETag() != a2.ETag() || !strings.HasPrefix(a1.ETag(), `"`) || strings.HasPrefix(a1.ETag(), `W/`) {
		t.Fatalf("ETags %s / %s", a1.ETag(), a2.ETag())
	}
	// The same instant in another zone is the same archive.
	e3, _ := sampleEntries(nil)
	e3[0].Modified = e3[0].Modified.UTC()
	if mustNew(t, e3).ETag() != a1.ETag() {
		t.Error("time zone of Modified changed the archive")
	}

	changes := map[string]func(e []Entry){
		"crc":   func(e []Entry) { e[0].CRC32 ^= 1 },
		"time":  func(e []Entry) { e[0].Modified = e[0].Modified.Add(2 * time.Second) },
		"name":  func(e []Entry) { e[0].Name = "IMG_0002.jpg" },
		"order": func(e []Entry) { e[0], e[2] = e[2], e[0] },
	}
	for what, change := range changes {
		e, _ := sampleEntries(nil)
		change(e)
		if mustNew(t, e).ETag() == a1.ETag() {
			t.Errorf("changing the %s kept the ETag", what)
		}
	}
	e, _ := sampleEntries(nil)
	e = append(e, memEntry("x", []byte("x"), testTime, nil))
	if mustNew(t, e).ETag() == a1.ETag() {
		t.Error("adding an entry kept the ETag")
	}
}

// TestWriteRangeEqualsSlice is a property test: any range written through
// WriteRange equals the same slice of the WriteTo output.
func TestWriteRangeEqualsSlice(t *testing.T) {
	var o opens
	entries, _ := sampleEntries(&o)
	a := mustNew(t, entries)
	full := fullBytes(t, a)
	size := int64(len(full))

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 7))
	check := func(start, length int64) {
		t.Helper()
		var buf bytes.Buffer
		if err := a.WriteRange(&buf, start, length); err != nil {
			t.Fatalf("WriteRange(%d, %d): %v", start, length, err)
		}
		if !bytes.Equal(buf.Bytes(), full[start:start+length]) {
			t.Fatalf("WriteRange(%d, %d) differs from WriteTo slice (seed %d)", start, length, seed)
		}
	}
	for range 400 {
		start := r.Int64N(size + 1)
		var length int64
		switch r.IntN(3) {
		case 0: // short, often inside a header
			length = r.Int64N(min(size-start, 100) + 1)
		default:
			length = r.Int64N(size - start + 1)
		}
		check(start, length)
	}
	// Every boundary of the layout, one byte either side.
	var edges []int64
	for _, e := range a.entries {
		edges = append(edges, e.localOff, e.dataOff, e.dataOff+e.size, e.cdOff)
	}
	edges = append(edges, a.cdStart, a.cdEnd, size)
	for _, x := range edges {
		for _, s := range []int64{x - 1, x, x + 1} {
			if s >= 0 && s <= size {
				check(s, min(3, size-s))
				check(s, size-s)
			}
		}
	}
}

func TestWriteRangeOpensOnlyOverlappedEntries(t *testing.T) {
	var o opens
	entries, _ := sampleEntries(&o)
	a := mustNew(t, entries)
	big := &a.entries[3]

	o.reset()
	if err := a.WriteRange(io.Discard, big.dataOff+1000, 5000); err != nil {
		t.Fatal(err)
	}
	if got := o.snapshot(); len(got) != 1 || len(got["big.raw"]) != 1 || got["big.raw"][0] != 1000 {
		t.Errorf("range inside big.raw opened %v, want only big.raw at 1000", got)
	}

	o.reset()
	if err := a.WriteRange(io.Discard, a.cdStart, a.Size()-a.cdStart); err != nil {
		t.Fatal(err)
	}
	if got := o.snapshot(); len(got) != 0 {
		t.Errorf("central directory range opened %v", got)
	}

	o.reset()
	if err := a.WriteRange(io.Discard, big.localOff, 10); err != nil { // header only
		t.Fatal(err)
	}
	if got := o.snapshot(); len(got) != 0 {
		t.Errorf("header-only range opened %v", got)
	}

	o.reset()
	if _, err := a.WriteTo(io.Discard); err != nil {
		t.Fatal(err)
	}
	got := o.snapshot()
	if _, ok := got["empty.txt"]; ok {
		t.Error("an empty entry was opened")
	}
	if len(got["big.raw"]) != 1 || got["big.raw"][0] != 0 {
		t.Errorf("WriteTo opened big.raw at %v", got["big.raw"])
	}
}

// TestZip64Forced lowers the format limits so that a small archive needs every
// ZIP64 record: 64-bit sizes, 64-bit header offsets and the ZIP64 end records.
func TestZip64Forced(t *testing.T) {
	entries, want := sampleEntries(nil)
	a, err := build(entries, limits{max16: 3, max32: 20000})
	if err != nil {
		t.Fatal(err)
	}
	if !a.zip64End || !a.entries[3].zip64Size || !a.entries[5].zip64Off || a.entries[0].zip64Size {
		t.Fatalf("layout did not use ZIP64 as expected: %+v", a.entries)
	}
	b := fullBytes(t, a)
	checkZip(t, bytes.NewReader(b), int64(len(b)), want)

	// The end records: ZIP64 record, locator pointing at it, saturated EOCD.
	end := b[len(b)-endLen:]
	if binary.LittleEndian.Uint32(end) != sigEnd ||
		binary.LittleEndian.Uint16(end[10:]) != 0xFFFF ||
		binary.LittleEndian.Uint32(end[16:]) != 0xFFFFFFFF {
		t.Errorf("EOCD not saturated: %x", end)
	}
	loc := b[len(b)-endLen-zip64LocLen:]
	z64Off := binary.LittleEndian.Uint64(loc[8:])
	if binary.LittleEndian.Uint32(loc) != sigZip64Locate || int64(z64Off) != a.cdEnd {
		t.Errorf("locator %x", loc[:zip64LocLen])
	}
	rec := b[z64Off:]
	if binary.LittleEndian.Uint32(rec) != sigZip64End ||
		binary.LittleEndian.Uint64(rec[32:]) != uint64(len(entries)) ||
		int64(binary.LittleEndian.Uint64(rec[48:])) != a.cdStart {
		t.Errorf("ZIP64 end record %x", rec[:zip64EndLen])
	}
	unzipTest(t, b)

	// Ranges still match the whole.
	for _, r := range [][2]int64{{0, 10}, {a.cdStart - 3, 40}, {a.cdEnd - 1, a.Size() - a.cdEnd + 1}} {
		var buf bytes.Buffer
		if err := a.WriteRange(&buf, r[0], r[1]); err != nil || !bytes.Equal(buf.Bytes(), b[r[0]:r[0]+r[1]]) {
			t.Errorf("range %v: %v", r, err)
		}
	}
}

// TestZip64Huge lays out a real archive over 4 GiB: an entry of 4.5 GiB whose
// bytes are produced lazily, and a small entry after it whose header offset
// needs 64 bits. archive/zip parses it through WriteRange, which only ever
// produces the bytes asked for.
func TestZip64Huge(t *testing.T) {
	const hugeSize = 4<<30 + 512<<20
	var hugeOpens []int64
	after := []byte("after the huge one")
	entries := []Entry{
		{
			Name: "huge.bin", Size: hugeSize, CRC32: 0xdeadbeef, Modified: testTime,
			Open: func(off int64) (io.ReadCloser, error) {
				hugeOpens = append(hugeOpens, off)
				return &zeroReader{n: hugeSize - off}, nil
			},
		},
		memEntry("after.txt", after, testTime, nil),
	}
	a := mustNew(t, entries)
	if !a.entries[0].zip64Size || !a.entries[1].zip64Off || a.entries[1].zip64Size {
		t.Fatalf("ZIP64 flags: %+v", a.entries)
	}
	if !a.zip64End { // central directory offset is past 4 GiB
		t.Fatal("ZIP64 end records missing")
	}
	wantSize := int64(localFixedLen+len("huge.bin")+extTimeLen+20) + hugeSize +
		int64(localFixedLen+len("after.txt")+extTimeLen) + int64(len(after)) +
		int64(centralFixedLen+len("huge.bin")+extTimeLen+4+16) +
		int64(centralFixedLen+len("after.txt")+extTimeLen+4+8) +
		zip64EndLen + zip64LocLen + endLen
	if a.Size() != wantSize {
		t.Fatalf("Size() = %d, want %d", a.Size(), wantSize)
	}

	zr, err := zip.NewReader(archiveReaderAt{a}, a.Size())
	if err != nil {
		t.Fatalf("archive/zip: %v", err)
	}
	if len(zr.File) != 2 || zr.File[0].UncompressedSize64 != hugeSize || zr.File[0].CRC32 != 0xdeadbeef {
		t.Fatalf("directory: %+v", zr.File[0].FileHeader)
	}
	if off, _ := zr.File[1].DataOffset(); off != a.entries[1].dataOff || off < 1<<32 {
		t.Fatalf("after.txt data offset %d, want %d", off, a.entries[1].dataOff)
	}
	rc, err := zr.File[1].Open()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, after) {
		t.Fatalf("after.txt = %q, %v", got, err)
	}

	// The last MiB of the huge entry plus the start of the next header.
	hugeOpens = nil
	start := a.entries[0].dataOff + hugeSize - 1<<20
	var buf bytes.Buffer
	if err := a.WriteRange(&buf, start, 1<<20+4); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes()[:1<<20], make([]byte, 1<<20)) ||
		binary.LittleEndian.Uint32(buf.Bytes()[1<<20:]) != sigLocal {
		t.Error("bytes around the end of the huge entry are wrong")
	}
	if len(hugeOpens) != 1 || hugeOpens[0] != hugeSize-1<<20 {
		t.Errorf("huge entry opened at %v", hugeOpens)
	}
}

// TestZip64ByEntryCount uses the real limit: 70,000 entries need the ZIP64
// end records even though the archive is small.
func TestZip64ByEntryCount(t *testing.T) {
	const n = 70_000
	entries := make([]Entry, n)
	for i := range entries {
		entries[i] = Entry{Name: "f.txt", Modified: testTime} // all the same name: de-duplication at scale
	}
	a := mustNew(t, entries)
	if !a.zip64End {
		t.Fatal("no ZIP64 end records for 70,000 entries")
	}
	b := fullBytes(t, a)
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != n || zr.File[n-1].Name != fmt.Sprintf("f (%d).txt", n) {
		t.Fatalf("%d files, last %q", len(zr.File), zr.File[len(zr.File)-1].Name)
	}
	unzipTest(t, b)
}

// unzipTest runs Info-ZIP's `unzip -t` on the archive when the tool exists.
func unzipTest(t *testing.T, archive []byte) {
	t.Helper()
	bin, err := exec.LookPath("unzip")
	if err != nil {
		t.Log("unzip not installed; skipping unzip -t")
		return
	}
	path := filepath.Join(t.TempDir(), "test.zip")
	if err := os.WriteFile(path, archive, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-t", path).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("No errors detected")) {
		t.Fatalf("unzip -t: %v\n%s", err, out)
	}
}

func TestUnzip(t *testing.T) {
	bin, err := exec.LookPath("unzip")
	if err != nil {
		t.Skip("unzip not installed")
	}
	entries, want := sampleEntries(nil)
	// Hostile names: after sanitising, every one must land inside the target.
	hostile := map[string]string{
		"../../escape.txt":           "escape.txt",
		"/etc/cron.d/evil":           "etc/cron.d/evil",
		`..\..\win.txt`:              "win.txt",
		"a/../../b.txt":              "a/b.txt",
		"C:\\Windows\\x.dll":         "C_/Windows/x.dll",
		"line\nbreak\x1b[31m.txt":    "line_break_[31m.txt",
		"dots/.../.. /x.txt":         "dots/x.txt",
		"rlo-\u202egpj.exe":          "rlo-_gpj.exe",
		"con.jpg":                    "_con.jpg",
		"stream.jpg:Zone.Identifier": "stream.jpg_Zone.Identifier",
	}
	for in, out := range hostile {
		data := []byte(in)
		entries = append(entries, memEntry(in, data, testTime, nil))
		want = append(want, wantFile{out, data, testTime})
	}
	a := mustNew(t, entries)
	b := fullBytes(t, a)
	unzipTest(t, b)

	dir := t.TempDir()
	zipPath := filepath.Join(dir, "a.zip")
	if err := os.WriteFile(zipPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "out")
	if out, err := exec.Command(bin, "-q", zipPath, "-d", target).CombinedOutput(); err != nil {
		t.Fatalf("unzip: %v\n%s", err, out)
	}
	for _, w := range want {
		got, err := os.ReadFile(filepath.Join(target, filepath.FromSlash(w.name)))
		if err != nil {
			t.Errorf("extracted %q: %v", w.name, err)
			continue
		}
		if !bytes.Equal(got, w.data) {
			t.Errorf("extracted %q differs", w.name)
		}
		if w.name == "IMG_0001.jpg" {
			st, _ := os.Stat(filepath.Join(target, w.name))
			if !st.ModTime().Equal(testTime.Truncate(time.Second)) {
				t.Errorf("mtime %v, want %v", st.ModTime(), testTime)
			}
		}
	}
	// Nothing may appear outside the target directory.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("extraction wrote outside its directory: %v", ents)
	}
}

func TestSanitizeName(t *testing.T) {
	long := strings.Repeat("é", 300) + ".jpeg"
	cases := map[string]string{
		"IMG_1.jpg":                 "IMG_1.jpg",
		"/abs/path.jpg":             "abs/path.jpg",
		"../../x.jpg":               "x.jpg",
		"a/./b//c.jpg":              "a/b/c.jpg",
		`a\..\b.jpg`:                "a/b.jpg",
		"a\x00b\r\nc\x7f\u0085.jpg": "a_b__c__.jpg",
		"\xff\xfe.jpg":              "_.jpg",
		"trailing. ":                "trailing",
		"..":                        fallbackName,
		"":                          fallbackName,
		"///":                       fallbackName,
		"NUL":                       "_NUL",
		"lpt1.txt":                  "_lpt1.txt",
		"com10.txt":                 "com10.txt",
		"q?<>|*\".jpg":              "q______.jpg",
		"\u2066x\u2069.jpg":         "_x_.jpg",
		"Brautpaar 📷.jpg":           "Brautpaar 📷.jpg",
		".hidden":                   ".hidden",
	}
	for in, want := range cases {
		if got := sanitizeName(in); got != want {
			t.Errorf("sanitizeName(%q) = %q, want %q", in, got, want)
		}
	}
	got := sanitizeName(long)
	if len(got) > maxSegmentBytes || !strings.HasSuffix(got, ".jpeg") || !strings.HasPrefix(got, "éé") ||
		!strings.Contains(got, "é.jpeg") {
		t.Errorf("long name sanitised to %q (%d bytes)", got, len(got))
	}
}

func TestUniqueNames(t *testing.T) {
	in := []string{
		"a.jpg", "a.jpg", "A.JPG", "a (2).jpg", "dir/a.jpg", "DIR/A.jpg",
		"noext", "noext", ".hidden", ".hidden", "caf\u00e9.jpg", "cafe\u0301.jpg", "../a.jpg",
	}
	want := []string{
		"a.jpg", "a (2).jpg", "A (3).JPG", "a (2) (2).jpg", "dir/a.jpg", "DIR/A (2).jpg",
		"noext", "noext (2)", ".hidden", ".hidden (2)", "caf\u00e9.jpg", "cafe\u0301 (2).jpg", "a (4).jpg",
	}
	entries := make([]Entry, len(in))
	for i, n := range in {
		entries[i] = Entry{Name: n}
	}
	a := mustNew(t, entries)
	got := a.Names()
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d %q → %q, want %q", i, in[i], got[i], want[i])
		}
	}
}

func TestInvalidEntriesAndRanges(t *testing.T) {
	if _, err := New([]Entry{{Name: "x", Size: -1}}); !errors.Is(err, ErrInvalidEntry) {
		t.Errorf("negative size: %v", err)
	}
	if _, err := New([]Entry{{Name: "x", Size: 1}}); !errors.Is(err, ErrInvalidEntry) {
		t.Errorf("nil Open: %v", err)
	}
	deep := strings.Repeat("abcdefgh/", 8000)
	if _, err := New([]Entry{{Name: deep}}); !errors.Is(err, ErrInvalidEntry) {
		t.Errorf("72 kB name: %v", err)
	}
	if _, err := New([]Entry{{Name: "x", Size: 1 << 62, Open: func(int64) (io.ReadCloser, error) { return nil, nil }}, {Name: "y", Size: 1 << 62, Open: func(int64) (io.ReadCloser, error) { return nil, nil }}}); !errors.Is(err, ErrInvalidEntry) {
		t.Errorf("archive over 2^63 bytes: %v", err)
	}

	a := mustNew(t, []Entry{memEntry("x", []byte("hello"), testTime, nil)})
	for _, r := range [][2]int64{{-1, 1}, {0, -1}, {0, a.Size() + 1}, {a.Size(), 1}, {1 << 62, 1 << 62}} {
		if err := a.WriteRange(io.Discard, r[0], r[1]); !errors.Is(err, ErrRange) {
			t.Errorf("WriteRange(%d, %d) = %v, want ErrRange", r[0], r[1], err)
		}
	}
	if err := a.WriteRange(io.Discard, a.Size(), 0); err != nil {
		t.Errorf("empty range at the end: %v", err)
	}
}

func TestEntryFailures(t *testing.T) {
	data := []byte("the real bytes")
	errDisk := errors.New("disk on fire")
	cases := []struct {
		name string
		e    Entry
		want error
	}{
		{"short reader", Entry{Name: "s", Size: 100, CRC32: 1, Open: func(int64) (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader("only a few")), nil
		}}, ErrShortEntry},
		{"wrong CRC", Entry{Name: "c", Size: int64(len(data)), CRC32: crc32.ChecksumIEEE(data) + 1, Open: func(int64) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		}}, ErrCRCMismatch},
		{"open fails", Entry{Name: "o", Size: 5, Open: func(int64) (io.ReadCloser, error) { return nil, errDisk }}, errDisk},
		{"read fails", Entry{Name: "r", Size: 5, Open: func(int64) (io.ReadCloser, error) {
			return io.NopCloser(io.MultiReader(strings.NewReader("ab"), iotestErr{errDisk})), nil
		}}, errDisk},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := mustNew(t, []Entry{tc.e})
			n, err := a.WriteTo(io.Discard)
			if !errors.Is(err, tc.want) {
				t.Fatalf("WriteTo error %v, want %v", err, tc.want)
			}
			if n >= a.Size() {
				t.Errorf("WriteTo reported %d of %d bytes despite the failure", n, a.Size())
			}
		})
	}
	// A partial range cannot check the CRC and must not claim a mismatch.
	a := mustNew(t, []Entry{cases[1].e})
	if err := a.WriteRange(io.Discard, a.entries[0].dataOff+1, 3); err != nil {
		t.Errorf("partial range of an entry with a wrong CRC: %v", err)
	}
}

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }

func BenchmarkWriteTo(b *testing.B) {
	const n, size = 32, 1 << 20
	entries := make([]Entry, n)
	for i := range entries {
		entries[i] = memEntry(fmt.Sprintf("IMG_%04d.jpg", i), randomBytes(uint64(i), size), testTime, nil)
	}
	a := mustNew(b, entries)
	b.SetBytes(a.Size())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// TestZip64HugeUnzip writes a real 4.5 GiB archive as a sparse file (its big
// entry is all zeros, so the data region is a hole) and lets Info-ZIP test it.
// It reads 4.5 GiB, so it runs only with ZIPSTREAM_HUGE=1.
func TestZip64HugeUnzip(t *testing.T) {
	if os.Getenv("ZIPSTREAM_HUGE") != "1" {
		t.Skip("set ZIPSTREAM_HUGE=1 to run (reads 4.5 GiB)")
	}
	bin, err := exec.LookPath("unzip")
	if err != nil {
		t.Skip("unzip not installed")
	}
	const hugeSize = 4<<30 + 512<<20
	zeros := make([]byte, 1<<20)
	var crc uint32
	for range hugeSize / len(zeros) {
		crc = crc32.Update(crc, crc32.IEEETable, zeros)
	}
	a := mustNew(t, []Entry{
		{Name: "huge.bin", Size: hugeSize, CRC32: crc, Modified: testTime, Open: func(off int64) (io.ReadCloser, error) {
			return &zeroReader{n: hugeSize - off}, nil
		}},
		memEntry("after.txt", []byte("after"), testTime, nil),
	})
	path := filepath.Join(t.TempDir(), "huge.zip")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	hole := a.entries[0].dataOff
	if err := a.WriteRange(f, 0, hole); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(hole+hugeSize, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if err := a.WriteRange(f, hole+hugeSize, a.Size()-hole-hugeSize); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-t", path).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("No errors detected")) {
		t.Fatalf("unzip -t: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
