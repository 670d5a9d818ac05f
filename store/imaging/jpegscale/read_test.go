package jpegscale

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/photovault/photovault/store/imaging/imagingtest"
)

func TestReadStopsAtTheEndOfTheScan(t *testing.T) {
	for _, name := range supported {
		src := readFixture(t, name)
		eoi := bytes.LastIndex(src, []byte{0xFF, 0xD9})
		tail := &imagingtest.Filler{N: 1 << 30}
		data, rest, ok, err := Read(io.MultiReader(bytes.NewReader(src), tail), 1<<30)
		if err != nil || !ok {
			t.Fatalf("%s: ok %v, err %v", name, ok, err)
		}
		progressive := bytes.Contains(src, []byte{0xFF, 0xC2})
		keep := eoi // a sequential JPEG: up to the end of the scan
		if progressive {
			keep = eoi + 2 // a progressive one: through EOI
		}
		if !bytes.Equal(data, src[:keep]) {
			t.Fatalf("%s: Read kept %d bytes, want %d", name, len(data), keep)
		}
		if tail.Count > 1<<17 {
			t.Errorf("%s: read %d bytes of what follows the image", name, tail.Count)
		}
		// What Read kept plus rest is the stream, unchanged.
		next := make([]byte, 2)
		if _, err := io.ReadFull(rest, next); err != nil || !bytes.Equal(next, append(src, 1, 2)[keep:keep+2]) {
			t.Errorf("%s: rest starts with %x (%v), want what follows the kept bytes", name, next, err)
		}
		if _, err := Decode(data, 2, 1<<30); err != nil {
			t.Errorf("%s: Decode of what Read kept: %v", name, err)
		}
	}
}

func TestReadReplaysWhatItRefuses(t *testing.T) {
	big := readFixture(t, "420.jpg")
	flood := bytes.Clone(big)
	sof := bytes.Index(flood, []byte{0xFF, 0xC0})
	binary.BigEndian.PutUint16(flood[sof+5:], 60000) // height
	binary.BigEndian.PutUint16(flood[sof+7:], 60000) // width
	for _, tc := range []struct {
		name string
		src  []byte
	}{
		{"arithmetic coding", arithmetic(readFixture(t, "420.jpg"))},
		{"cmyk", readFixture(t, "cmyk.jpg")}, // ok: Decode refuses it, Read does not know
		{"pixel flood", flood},
		{"png", []byte("\x89PNG\r\n\x1a\nrest of it")},
		{"short", []byte{0xFF}},
	} {
		data, rest, ok, err := Read(bytes.NewReader(tc.src), 1<<30)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		all, err := io.ReadAll(io.MultiReader(bytes.NewReader(data), rest))
		if err != nil || !bytes.Equal(all, tc.src) {
			t.Errorf("%s: replay differs from the input (%v)", tc.name, err)
		}
		if tc.name != "cmyk" && ok {
			t.Errorf("%s: ok, want a refusal", tc.name)
		}
	}
}

// arithmetic relabels a JPEG's SOF0 as SOF9 (arithmetic coding).
func arithmetic(src []byte) []byte {
	out := bytes.Clone(src)
	out[bytes.Index(out, []byte{0xFF, 0xC0})+1] = 0xC9
	return out
}

func TestReadBoundsTheScan(t *testing.T) {
	// A 16×16 gray frame (4 blocks) whose scan never ends.
	src := readFixture(t, "gray.jpg")
	sof := bytes.Index(src, []byte{0xFF, 0xC0})
	hdr := bytes.Clone(src[:bytes.Index(src, []byte{0xFF, 0xDA})])
	binary.BigEndian.PutUint16(hdr[sof+5:], 16)
	binary.BigEndian.PutUint16(hdr[sof+7:], 16)
	sos := []byte{0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 63, 0}
	tail := &imagingtest.Filler{N: 1 << 30}
	data, _, ok, err := Read(io.MultiReader(bytes.NewReader(hdr), bytes.NewReader(sos), tail), 1<<30)
	if err != nil || ok {
		t.Fatalf("ok %v, err %v: want a refusal", ok, err)
	}
	if len(data) > len(hdr)+len(sos)+4*256+1<<16+1<<16 {
		t.Errorf("kept %d bytes of an endless scan", len(data))
	}
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestReadReturnsReaderErrors(t *testing.T) {
	src := readFixture(t, "420.jpg")
	_, _, _, err := Read(io.MultiReader(bytes.NewReader(src[:5000]), failing{}), 1<<30)
	if err == nil || err.Error() != "disk on fire" {
		t.Fatalf("err %v, want the reader's", err)
	}
}

func FuzzRead(f *testing.F) {
	for _, name := range append(supported, "progressive.jpg", "cmyk.jpg") {
		f.Add(readFixture(f, name))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		data, rest, ok, err := Read(bytes.NewReader(src), 1<<22)
		if err != nil {
			t.Fatalf("error from an in-memory reader: %v", err)
		}
		all, err := io.ReadAll(io.MultiReader(bytes.NewReader(data), rest))
		if err != nil || !bytes.Equal(all, src) {
			t.Fatalf("replay differs from the input (%v)", err)
		}
		if ok && !bytes.HasPrefix(src, data) {
			t.Fatal("kept bytes are not a prefix of the input")
		}
	})
}
