package imaging

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// noiseImage returns an RGBA image of gradients plus deterministic noise, the
// kind of content that stresses both JPEG and resampling.
func noiseImage(w, h int, seed uint32) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	s := seed | 1
	for y := range h {
		for x := range w {
			s ^= s << 13
			s ^= s >> 17
			s ^= s << 5
			n := uint8(s & 31)
			i := img.PixOffset(x, y)
			img.Pix[i+0] = uint8(x*255/max(w-1, 1)) ^ n&7
			img.Pix[i+1] = uint8(y*255/max(h-1, 1)) + n/4
			img.Pix[i+2] = uint8((x+y)*255/max(w+h-2, 1)) - n/4
			img.Pix[i+3] = 255
		}
	}
	return img
}

func encodeJPEG(t testing.TB, img image.Image, q int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func makeJPEG(t testing.TB, w, h int) []byte {
	return encodeJPEG(t, noiseImage(w, h, 7), 90)
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed", name)
	}
	return p
}

func run(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return out
}

// pngChunk encodes one PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	c := crc32.NewIEEE()
	c.Write([]byte(typ))
	c.Write(data)
	binary.Write(&b, binary.BigEndian, c.Sum32())
	return b.Bytes()
}

// pngHeaderOnly is a PNG signature plus an IHDR declaring w×h, and nothing
// else: what a pixel-flood attacker sends.
func pngHeaderOnly(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	return append(append([]byte{}, pngSignature...), pngChunk("IHDR", ihdr)...)
}

// jpegHeaderOnly is SOI, a quantisation table, a SOF0 declaring w×h and an
// SOS header with no scan data.
func jpegHeaderOnly(w, h uint16) []byte {
	b := []byte{0xFF, 0xD8}
	dqt := append([]byte{0xFF, 0xDB, 0x00, 0x43, 0x00}, bytes.Repeat([]byte{1}, 64)...)
	b = append(b, dqt...)
	sof := []byte{0xFF, 0xC0, 0x00, 0x11, 0x08, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 0x03,
		0x01, 0x22, 0x00, 0x02, 0x11, 0x00, 0x03, 0x11, 0x00}
	b = append(b, sof...)
	// The config decoder reads up to SOS when there is no JFIF APP0.
	sos := []byte{0xFF, 0xDA, 0x00, 0x0C, 0x03, 0x01, 0x00, 0x02, 0x11, 0x03, 0x11, 0x00, 0x3F, 0x00}
	return append(b, sos...)
}

// tEnt is one entry for buildTIFF. Values of more than 4 bytes go out of
// line. ref, when set, makes the value the offset of another IFD ("ifd",
// index in refIdx) or of a blob ("blob"), patched at layout time.
type tEnt struct {
	tag, typ uint16
	count    uint32
	val      []byte
	ref      string
	refIdx   []int
}

func u16(v ...uint16) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], x)
	}
	return b
}

func u32(v ...uint32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], x)
	}
	return b
}

func ascii(s string) []byte { return append([]byte(s), 0) }

func short(tag uint16, v uint16) tEnt { return tEnt{tag: tag, typ: 3, count: 1, val: u16(v)} }
func long(tag uint16, v uint32) tEnt  { return tEnt{tag: tag, typ: 4, count: 1, val: u32(v)} }
func str(tag uint16, s string) tEnt {
	return tEnt{tag: tag, typ: 2, count: uint32(len(s) + 1), val: ascii(s)}
}

// buildTIFF lays out a little-endian TIFF: header, IFDs in order (IFD 0 is
// the first; chains are not linked), out-of-line values, then blobs.
func buildTIFF(ifds [][]tEnt, blobs [][]byte) []byte {
	off := uint32(8)
	ifdOff := make([]uint32, len(ifds))
	for i, d := range ifds {
		ifdOff[i] = off
		off += 2 + 12*uint32(len(d)) + 4
	}
	extOff := map[[2]int]uint32{}
	for i, d := range ifds {
		for j, e := range d {
			if e.ref == "" && len(e.val) > 4 {
				extOff[[2]int{i, j}] = off
				off += uint32(len(e.val) + len(e.val)&1)
			}
		}
	}
	blobOff := make([]uint32, len(blobs))
	for i, b := range blobs {
		blobOff[i] = off
		off += uint32(len(b) + len(b)&1)
	}
	out := make([]byte, off)
	copy(out, []byte("II*\x00"))
	binary.LittleEndian.PutUint32(out[4:], 8)
	for i, d := range ifds {
		p := ifdOff[i]
		binary.LittleEndian.PutUint16(out[p:], uint16(len(d)))
		p += 2
		for j, e := range d {
			binary.LittleEndian.PutUint16(out[p:], e.tag)
			binary.LittleEndian.PutUint16(out[p+2:], e.typ)
			binary.LittleEndian.PutUint32(out[p+4:], e.count)
			switch {
			case e.ref == "ifd":
				var v []uint32
				for _, k := range e.refIdx {
					v = append(v, ifdOff[k])
				}
				if len(v) == 1 {
					binary.LittleEndian.PutUint32(out[p+8:], v[0])
				} else {
					// Arrays of offsets go after the blobs.
					o := uint32(len(out))
					out = append(out, u32(v...)...)
					binary.LittleEndian.PutUint32(out[p+8:], o)
				}
			case e.ref == "blob":
				binary.LittleEndian.PutUint32(out[p+8:], blobOff[e.refIdx[0]])
			case len(e.val) > 4:
				o := extOff[[2]int{i, j}]
				copy(out[o:], e.val)
				binary.LittleEndian.PutUint32(out[p+8:], o)
			default:
				copy(out[p+8:p+12], e.val)
			}
			p += 12
		}
	}
	for i, b := range blobs {
		copy(out[blobOff[i]:], b)
	}
	return out
}

// bmffBox encodes one ISO BMFF box.
func bmffBox(typ string, payload ...[]byte) []byte {
	var body []byte
	for _, p := range payload {
		body = append(body, p...)
	}
	b := make([]byte, 8, 8+len(body))
	binary.BigEndian.PutUint32(b, uint32(8+len(body)))
	copy(b[4:], typ)
	return append(b, body...)
}

func be32(v uint32) []byte { b := make([]byte, 4); binary.BigEndian.PutUint32(b, v); return b }
func be16(v uint16) []byte { b := make([]byte, 2); binary.BigEndian.PutUint16(b, v); return b }

// heifHeaderOnly is ftyp + meta with a primary item whose ispe is w×h.
func heifHeaderOnly(brand string, w, h uint32, rot byte) []byte {
	ftyp := bmffBox("ftyp", []byte(brand), be32(0), []byte("mif1"), []byte(brand))
	hdlr := bmffBox("hdlr", be32(0), be32(0), []byte("pict"), make([]byte, 13))
	pitm := bmffBox("pitm", be32(0), be16(1))
	ispe := bmffBox("ispe", be32(0), be32(w), be32(h))
	irot := bmffBox("irot", []byte{rot})
	ipco := bmffBox("ipco", ispe, irot)
	ipma := bmffBox("ipma", be32(0), be32(1), be16(1), []byte{2, 0x81, 0x02})
	meta := bmffBox("meta", be32(0), hdlr, pitm, bmffBox("iprp", ipco, ipma))
	return append(ftyp, meta...)
}

// streamOnly hides io.ReaderAt and io.Seeker, like an upload body.
type streamOnly struct{ r *bytes.Reader }

func (s streamOnly) Read(p []byte) (int, error) { return s.r.Read(p) }

func decodeJPEGBytes(t testing.TB, b []byte) image.Image {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode jpeg: %v", err)
	}
	return img
}

func rgbAt(img image.Image, x, y int) (uint8, uint8, uint8) {
	r, g, b, _ := img.At(x, y).RGBA()
	return uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)
}
