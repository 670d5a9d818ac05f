package jpegscale

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
)

// ErrUnsupported marks a valid JPEG this package does not decode (see the
// package comment); decode it with image/jpeg instead.
var ErrUnsupported = errors.New("jpegscale: unsupported JPEG")

// ErrCorrupt marks data that is not a well-formed JPEG of the supported kind.
var ErrCorrupt = errors.New("jpegscale: corrupt JPEG")

// ErrTooLarge is returned when the frame holds more pixels than allowed.
var ErrTooLarge = errors.New("jpegscale: image too large")

func errCorrupt(what string) error   { return fmt.Errorf("%w: %s", ErrCorrupt, what) }
func unsupported(what string) error  { return fmt.Errorf("%w: %s", ErrUnsupported, what) }
func truncated(segment string) error { return errCorrupt("truncated " + segment) }

// Config is what the frame header says: the full-size dimensions and the
// number of components.
type Config struct {
	Width, Height, Components int
}

// Scaled returns the dimensions of the image decoded at 1/scale.
func (c Config) Scaled(scale int) (w, h int) {
	return (c.Width + scale - 1) / scale, (c.Height + scale - 1) / scale
}

// PickScale returns the largest of 8, 4 and 2 at which the image is still
// at least minW×minH pixels, or 1.
func PickScale(c Config, minW, minH int) int {
	for _, s := range []int{8, 4, 2} {
		if c.Width/s >= minW && c.Height/s >= minH {
			return s
		}
	}
	return 1
}

type component struct {
	id     uint8
	h, v   int
	tq     uint8
	dc, ac *huffTable
	pred   int32
	pix    []uint8
	stride int
}

type decoder struct {
	data          []byte
	width, height int
	comps         []component
	hmax, vmax    int
	qt            [4][64]int32 // zigzag order
	qtSet         [4]bool
	huff          [2][4]*huffTable // [0] DC, [1] AC
	ri            int
	adobe         bool
	adobeXform    uint8
	frame         bool
	progressive   bool
	scan          []*component // components in scan order
	ss, se        int          // spectral selection of the scan
	ah, al        uint         // successive approximation of the scan
	entropyStart  int
	p             int  // where parse resumes: after the last scan, at its ending marker
	eoi           bool // parse reached EOI after a scan

	// bit reader over the unstuffed entropy-coded data
	buf       []byte
	end       int // len of the real (unpadded) data in buf
	intervals []int
	pos       int
	acc       uint64
	n         uint
}

// DecodeConfig reads the headers up to the frame header.
func DecodeConfig(data []byte) (Config, error) {
	d := &decoder{data: data}
	if err := d.parse(true); err != nil {
		return Config{}, err
	}
	return Config{Width: d.width, Height: d.height, Components: len(d.comps)}, nil
}

// Decode decodes data at 1/scale of its size (scale 1, 2, 4 or 8). It
// returns an *image.YCbCr or *image.Gray whose bounds start at the origin
// and are Config.Scaled(scale). Images of more than maxPixels pixels (at
// full size) are refused with ErrTooLarge before anything is allocated.
func Decode(data []byte, scale, maxPixels int) (image.Image, error) {
	if scale != 1 && scale != 2 && scale != 4 && scale != 8 {
		return nil, fmt.Errorf("jpegscale: scale %d is not 1, 2, 4 or 8", scale)
	}
	d := &decoder{data: data}
	if err := d.parse(false); err != nil {
		return nil, err
	}
	if d.width*d.height > maxPixels {
		return nil, fmt.Errorf("%w: %d×%d", ErrTooLarge, d.width, d.height)
	}
	return d.decode(8 / scale)
}

// parse walks the marker segments up to the first SOS (or, for config
// only, the frame header).
func (d *decoder) parse(configOnly bool) error {
	data := d.data
	p := d.p
	if p == 0 {
		if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
			return errCorrupt("missing SOI")
		}
		p = 2
	}
	for {
		// A marker is 0xFF, optional 0xFF fill bytes, then the code.
		if p >= len(data) || data[p] != 0xFF {
			return errCorrupt("expected a marker")
		}
		for p < len(data) && data[p] == 0xFF {
			p++
		}
		if p >= len(data) {
			return truncated("marker")
		}
		m := data[p]
		p++
		if m == 0x01 || (m >= 0xD0 && m <= 0xD7) { // TEM, RSTn: no length
			continue
		}
		if m == 0xD9 && d.entropyStart > 0 {
			d.eoi, d.p = true, p
			return nil
		}
		if m == 0xD8 || m == 0xD9 {
			return errCorrupt("SOI or EOI before the scan")
		}
		if p+2 > len(data) {
			return truncated("segment length")
		}
		l := int(binary.BigEndian.Uint16(data[p:]))
		if l < 2 || p+l > len(data) {
			return truncated("segment")
		}
		seg := data[p+2 : p+l]
		p += l
		var err error
		switch {
		case m == 0xC0 || m == 0xC1 || m == 0xC2:
			err = d.parseFrame(seg)
			d.progressive = m == 0xC2
			if err == nil && configOnly {
				return nil
			}
		case m >= 0xC3 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC:
			err = unsupported(fmt.Sprintf("frame type SOF%d", m-0xC0))
		case m == 0xCC:
			err = unsupported("arithmetic coding")
		case m == 0xC4:
			err = d.parseDHT(seg)
		case m == 0xDB:
			err = d.parseDQT(seg)
		case m == 0xDD:
			if len(seg) != 2 {
				err = errCorrupt("DRI length")
			}
			d.ri = int(binary.BigEndian.Uint16(seg))
		case m == 0xEE:
			if len(seg) >= 12 && string(seg[:5]) == "Adobe" {
				d.adobe, d.adobeXform = true, seg[11]
			}
		case m == 0xDA:
			if !d.frame {
				return errCorrupt("SOS before the frame header")
			}
			if err := d.parseSOS(seg); err != nil {
				return err
			}
			d.entropyStart, d.p = p, p
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoder) parseFrame(seg []byte) error {
	if d.frame {
		return errCorrupt("two frame headers")
	}
	if len(seg) < 6 {
		return truncated("SOF")
	}
	if seg[0] != 8 {
		return unsupported(fmt.Sprintf("%d-bit samples", seg[0]))
	}
	d.height = int(binary.BigEndian.Uint16(seg[1:]))
	d.width = int(binary.BigEndian.Uint16(seg[3:]))
	if d.height == 0 {
		return unsupported("height defined by DNL")
	}
	if d.width == 0 {
		return errCorrupt("zero width")
	}
	nf := int(seg[5])
	if len(seg) != 6+3*nf {
		return errCorrupt("SOF length")
	}
	if nf != 1 && nf != 3 {
		return unsupported(fmt.Sprintf("%d components", nf))
	}
	d.comps = make([]component, nf)
	for i := range d.comps {
		c := seg[6+3*i:]
		d.comps[i] = component{id: c[0], h: int(c[1] >> 4), v: int(c[1] & 15), tq: c[2]}
		if d.comps[i].h < 1 || d.comps[i].h > 4 || d.comps[i].v < 1 || d.comps[i].v > 4 || c[2] > 3 {
			return errCorrupt("component sampling or table")
		}
		for j := range i {
			if d.comps[j].id == c[0] {
				return errCorrupt("repeated component id")
			}
		}
	}
	if nf == 1 {
		d.comps[0].h, d.comps[0].v = 1, 1 // a lone component is never subsampled
	}
	for _, c := range d.comps {
		d.hmax, d.vmax = max(d.hmax, c.h), max(d.vmax, c.v)
	}
	d.frame = true
	return nil
}

func (d *decoder) parseDQT(seg []byte) error {
	for len(seg) > 0 {
		pq, tq := seg[0]>>4, seg[0]&15
		if tq > 3 || pq > 1 {
			return errCorrupt("DQT table id or precision")
		}
		seg = seg[1:]
		t := &d.qt[tq]
		if pq == 0 {
			if len(seg) < 64 {
				return truncated("DQT")
			}
			for i := range 64 {
				t[i] = int32(seg[i])
			}
			seg = seg[64:]
		} else {
			if len(seg) < 128 {
				return truncated("DQT")
			}
			for i := range 64 {
				t[i] = int32(binary.BigEndian.Uint16(seg[2*i:]))
			}
			seg = seg[128:]
		}
		d.qtSet[tq] = true
	}
	return nil
}

func (d *decoder) parseDHT(seg []byte) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return truncated("DHT")
		}
		tc, th := seg[0]>>4, seg[0]&15
		if tc > 1 || th > 3 {
			return errCorrupt("DHT class or id")
		}
		var counts [16]uint8
		copy(counts[:], seg[1:17])
		total := 0
		for _, c := range counts {
			total += int(c)
		}
		if total == 0 || total > 256 || len(seg) < 17+total {
			return errCorrupt("DHT symbol count")
		}
		t := d.huff[tc][th]
		if t == nil {
			t = new(huffTable)
			d.huff[tc][th] = t
		}
		if err := t.build(&counts, seg[17:17+total], tc == 1); err != nil {
			return err
		}
		seg = seg[17+total:]
	}
	return nil
}

func (d *decoder) parseSOS(seg []byte) error {
	if len(seg) < 1 {
		return truncated("SOS")
	}
	ns := int(seg[0])
	if ns < 1 || ns > len(d.comps) || len(seg) != 4+2*ns {
		return errCorrupt("SOS length or component count")
	}
	if !d.progressive && ns != len(d.comps) {
		return unsupported("non-interleaved sequential scans")
	}
	if len(d.comps) == 3 {
		if d.adobe && d.adobeXform == 0 {
			return unsupported("Adobe RGB")
		}
		if d.comps[0].id == 'R' && d.comps[1].id == 'G' && d.comps[2].id == 'B' {
			return unsupported("RGB components")
		}
		if d.comps[1].h != 1 || d.comps[1].v != 1 || d.comps[2].h != 1 || d.comps[2].v != 1 {
			return unsupported("subsampled luma or unusual chroma sampling")
		}
		if _, ok := ratio(d.comps[0].h, d.comps[0].v); !ok {
			return unsupported("luma sampling")
		}
	}
	ss, se, a := int(seg[1+2*ns]), int(seg[2+2*ns]), seg[3+2*ns]
	d.ss, d.se, d.ah, d.al = ss, se, uint(a>>4), uint(a&15)
	if d.progressive {
		switch {
		case ss == 0 && se != 0, ss > se, se > 63, d.ah > 13, d.al > 13:
			return errCorrupt("progressive scan parameters")
		case ss > 0 && ns != 1:
			return errCorrupt("AC scan of several components")
		}
	} else if ss != 0 || se != 63 || a != 0 {
		return errCorrupt("spectral selection in a sequential scan")
	}
	needDC := ss == 0 && (!d.progressive || d.ah == 0)
	needAC := !d.progressive || ss > 0
	d.scan = d.scan[:0]
	for i := range ns {
		id, tables := seg[1+2*i], seg[2+2*i]
		var c *component
		for j := range d.comps {
			if d.comps[j].id == id {
				c = &d.comps[j]
			}
		}
		if c == nil {
			return errCorrupt("scan component not in the frame")
		}
		for _, s := range d.scan {
			if s == c {
				return errCorrupt("component twice in a scan")
			}
		}
		td, ta := tables>>4, tables&15
		if td > 3 || ta > 3 || (needDC && d.huff[0][td] == nil) || (needAC && d.huff[1][ta] == nil) {
			return errCorrupt("scan references a missing Huffman table")
		}
		if !d.qtSet[c.tq] {
			return errCorrupt("component references a missing quantization table")
		}
		c.dc, c.ac = d.huff[0][td], d.huff[1][ta]
		d.scan = append(d.scan, c)
	}
	return nil
}

// ChromaSize returns the size of the Cb and Cr planes of a w×h image.YCbCr
// with subsample ratio r, as image.YCbCr lays them out.
func ChromaSize(r image.YCbCrSubsampleRatio, w, h int) (cw, ch int, ok bool) {
	switch r {
	case image.YCbCrSubsampleRatio444:
		return w, h, true
	case image.YCbCrSubsampleRatio422:
		return (w + 1) / 2, h, true
	case image.YCbCrSubsampleRatio420:
		return (w + 1) / 2, (h + 1) / 2, true
	case image.YCbCrSubsampleRatio440:
		return w, (h + 1) / 2, true
	case image.YCbCrSubsampleRatio411:
		return (w + 3) / 4, h, true
	case image.YCbCrSubsampleRatio410:
		return (w + 3) / 4, (h + 1) / 2, true
	}
	return 0, 0, false
}

func ratio(h, v int) (image.YCbCrSubsampleRatio, bool) {
	switch {
	case h == 1 && v == 1:
		return image.YCbCrSubsampleRatio444, true
	case h == 2 && v == 1:
		return image.YCbCrSubsampleRatio422, true
	case h == 2 && v == 2:
		return image.YCbCrSubsampleRatio420, true
	case h == 1 && v == 2:
		return image.YCbCrSubsampleRatio440, true
	case h == 4 && v == 1:
		return image.YCbCrSubsampleRatio411, true
	case h == 4 && v == 2:
		return image.YCbCrSubsampleRatio410, true
	}
	return 0, false
}

// padding follows the unstuffed entropy data, so that the bit reader may
// load 8 bytes anywhere up to it and a corrupt stream that runs past its
// end is caught at the next MCU boundary rather than by a bounds panic. One
// MCU reads at most 10 blocks × 64 codes × 31 bits ≈ 2.5 KiB.
const padding = 4096

// unstuff copies the entropy-coded segment that starts at d.entropyStart
// into d.buf without its 0xFF00 stuffing, recording where each restart
// interval begins.
func (d *decoder) unstuff() {
	src := d.data[d.entropyStart:]
	out := d.buf[:0] // a progressive file's later scans reuse the first one's buffer
	if cap(out) < len(src)+padding {
		out = make([]byte, 0, len(src)+padding)
	}
	d.intervals = append(d.intervals[:0], 0)
scan:
	for len(src) > 0 {
		i := bytes.IndexByte(src, 0xFF)
		if i < 0 {
			out = append(out, src...)
			break
		}
		out = append(out, src[:i]...)
		src = src[i:]
		if len(src) < 2 {
			break
		}
		switch m := src[1]; {
		case m == 0x00:
			out = append(out, 0xFF)
			src = src[2:]
			continue
		case m == 0xFF: // fill byte before a marker
			src = src[1:]
			continue
		case m >= 0xD0 && m <= 0xD7:
			d.intervals = append(d.intervals, len(out))
			src = src[2:]
			continue
		}
		break scan // any other marker ends the scan
	}
	d.end = len(out)
	d.buf = out[:len(out)+padding]
	clear(d.buf[d.end:])
	d.p = len(d.data) - len(src) // the marker that ended the scan
	d.pos, d.acc, d.n = 0, 0, 0
}
