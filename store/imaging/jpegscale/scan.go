package jpegscale

import (
	"encoding/binary"
	"image"
)

// zigzag maps the zigzag index of a coefficient to its natural (row-major)
// index in the 8×8 block (T.81 Figure A.6).
var zigzag = [64]uint8{
	0, 1, 8, 16, 9, 2, 3, 10,
	17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34,
	27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36,
	29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46,
	53, 60, 61, 54, 47, 55, 62, 63,
}

// dump is the block slot that coefficients outside the kept n×n corner are
// written to, so that the decoding loop stores without a branch.
const dump = 64

// block holds the dequantised coefficients of one 8×8 block in natural
// order, plus the dump slot.
type block [65]int32

// decode entropy-decodes the scan and inverse-transforms every block to
// n×n pixels (n = 8, 4, 2 or 1).
func (d *decoder) decode(n int) (image.Image, error) {
	if d.progressive {
		return d.decodeProgressive(n)
	}
	d.unstuff()
	// Where each zigzag coefficient goes: its natural index when it is in
	// the top-left n×n corner the scaled IDCT reads, else the dump slot.
	var dst [64]uint8
	for k, z := range zigzag {
		if int(z%8) < n && int(z/8) < n {
			dst[k] = z
		} else {
			dst[k] = dump
		}
	}
	idct := idctFor(n)

	img, mcusX, mcusY := d.allocate(n)
	var blk block
	mcu := 0
	interval := 0
	for my := range mcusY {
		for mx := range mcusX {
			if d.ri > 0 && mcu > 0 && mcu%d.ri == 0 {
				interval++
				if interval >= len(d.intervals) {
					return nil, errCorrupt("missing restart marker")
				}
				d.pos, d.acc, d.n = d.intervals[interval], 0, 0
				for _, c := range d.scan {
					c.pred = 0
				}
			}
			mcu++
			for _, c := range d.scan {
				q := &d.qt[c.tq]
				for v := range c.v {
					row := ((my*c.v + v) * n) * c.stride
					for h := range c.h {
						if err := d.decodeBlock(c, q, &dst, &blk); err != nil {
							return nil, err
						}
						idct(&blk, c.pix[row+(mx*c.h+h)*n:], c.stride)
					}
				}
			}
			if d.pos > d.end+8 {
				return nil, errCorrupt("entropy-coded data ends early")
			}
		}
	}
	return img, nil
}

// idctFor returns the inverse DCT that makes n×n pixels of a block.
func idctFor(n int) func(b *block, out []uint8, stride int) {
	switch n {
	case 8:
		return idct8
	case 4:
		return idct4
	case 2:
		return idct2
	}
	return idct1
}

// allocate makes the output planes, padded to whole MCUs, and returns the
// image that views them at the scaled size plus the MCU grid.
func (d *decoder) allocate(n int) (image.Image, int, int) {
	scale := 8 / n
	w, h := (d.width+scale-1)/scale, (d.height+scale-1)/scale
	mcusX := (d.width + 8*d.hmax - 1) / (8 * d.hmax)
	mcusY := (d.height + 8*d.vmax - 1) / (8 * d.vmax)
	for i := range d.comps {
		c := &d.comps[i]
		c.stride = mcusX * c.h * n
		c.pix = make([]uint8, c.stride*mcusY*c.v*n)
	}
	r := image.Rect(0, 0, w, h)
	if len(d.comps) == 1 {
		return &image.Gray{Pix: d.comps[0].pix, Stride: d.comps[0].stride, Rect: r}, mcusX, mcusY
	}
	sr, _ := ratio(d.comps[0].h, d.comps[0].v)
	return &image.YCbCr{
		Y: d.comps[0].pix, Cb: d.comps[1].pix, Cr: d.comps[2].pix,
		YStride: d.comps[0].stride, CStride: d.comps[1].stride,
		SubsampleRatio: sr, Rect: r,
	}, mcusX, mcusY
}

// refill tops a bit reader (acc holding n valid bits, the next byte at
// buf[pos]) up to at least 56 bits with one unaligned load: buf is padded,
// so the load never runs off its end. Inlined into the decoding loops.
func refill(buf []byte, pos int, acc uint64, n uint) (int, uint64, uint) {
	acc |= binary.BigEndian.Uint64(buf[pos:]) >> n
	return pos + int(63-n)>>3, acc, n | 56
}

// decodeBlock decodes one block's DC difference and AC coefficients
// (T.81 F.2.2), dequantises them into blk at dst's positions. The bit
// reader state lives in locals for the duration: the Go compiler keeps
// them in registers, which it does not do for fields.
func (d *decoder) decodeBlock(c *component, q *[64]int32, dst *[64]uint8, blk *block) error {
	buf, pos, acc, n := d.buf, d.pos, d.acc, d.n
	if n < 32 {
		pos, acc, n = refill(buf, pos, acc, n)
	}
	// DC: a magnitude category, then that many bits of difference.
	sym, l := c.dc.lookup(acc)
	if l == 0 {
		if sym, l = c.dc.slow(acc); l == 0 {
			return errCorrupt("bad Huffman code")
		}
	}
	acc <<= l
	n -= l
	s := uint(sym)
	if s > 15 {
		return errCorrupt("DC magnitude category")
	}
	if s > 0 {
		c.pred += extend(int32(acc>>(64-s)), s)
		acc <<= s
		n -= s
	}
	blk[0] = c.pred * q[0]

	ac := c.ac
	for k := 1; k < 64; {
		if n < 32 {
			pos, acc, n = refill(buf, pos, acc, n)
		}
		if e := ac.fastAC[acc>>(64-fastBits)]; e != 0 {
			k += int(e>>8) & 0xFF
			l := uint(e & 0xFF)
			acc <<= l
			n -= l
			if k > 63 {
				return errCorrupt("AC run past the block")
			}
			blk[dst[k]] = (e >> 16) * q[k]
			k++
			continue
		}
		rs, l := ac.lookup(acc)
		if l == 0 {
			if rs, l = ac.slow(acc); l == 0 {
				return errCorrupt("bad Huffman code")
			}
		}
		acc <<= l
		n -= l
		r, s := int(rs>>4), uint(rs&15)
		if s == 0 {
			if r != 15 {
				break // end of block
			}
			k += 16 // zero run length
			continue
		}
		k += r
		if k > 63 {
			return errCorrupt("AC run past the block")
		}
		blk[dst[k]] = extend(int32(acc>>(64-s)), s) * q[k]
		acc <<= s
		n -= s
		k++
	}
	d.pos, d.acc, d.n = pos, acc, n
	return nil
}
