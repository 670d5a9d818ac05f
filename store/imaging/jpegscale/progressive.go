package jpegscale

import (
	"image"
	"math/bits"
)

// Progressive JPEGs (T.81 Annex G) send every block's coefficients in
// several scans: first the DC values, then bands of AC coefficients, each
// possibly in several passes of successive approximation. The coefficients
// must therefore be kept until the last scan. image/jpeg keeps all 64 as
// int32 for every block (256 bytes: 144 MB for 24 MP); here only the n×n
// corner the scaled IDCT reads is kept, as int16, plus a 64-bit mask of
// which coefficients are nonzero — the refinement scans need that for
// every position, kept or not. At 1/2 that is 40 bytes a block.

// maxScans bounds the scans of one progressive image (libjpeg writes 10).
const maxScans = 1000

// coefs is one component's kept coefficients, in its block grid padded to
// whole MCUs.
type coefs struct {
	vals   []int16  // k kept values per block, quantised
	nz     []uint64 // per block: bit z set when the coefficient at zigzag index z is nonzero
	bw, bh int      // blocks across and down
}

// progressive holds the state of a progressive decode.
type progressive struct {
	d      *decoder
	k      int      // kept coefficients per block
	slot   [64]int8 // zigzag index → kept slot, or -1
	coefs  []coefs  // per frame component
	eobrun int      // blocks left in the current end-of-band run
	mcusX  int
	mcusY  int
}

func (d *decoder) decodeProgressive(n int) (image.Image, error) {
	p := &progressive{d: d, k: n * n}
	for z, nat := range zigzag {
		p.slot[z] = -1
		if int(nat%8) < n && int(nat/8) < n {
			p.slot[z] = int8(int(nat/8)*n + int(nat%8))
		}
	}
	p.mcusX = (d.width + 8*d.hmax - 1) / (8 * d.hmax)
	p.mcusY = (d.height + 8*d.vmax - 1) / (8 * d.vmax)
	p.coefs = make([]coefs, len(d.comps))
	for i, c := range d.comps {
		bw, bh := p.mcusX*c.h, p.mcusY*c.v
		p.coefs[i] = coefs{vals: make([]int16, bw*bh*p.k), nz: make([]uint64, bw*bh), bw: bw, bh: bh}
	}
	for scans := 1; ; scans++ {
		if err := p.scan(); err != nil {
			return nil, err
		}
		if scans >= maxScans {
			return nil, unsupported("too many scans")
		}
		if err := d.parse(false); err != nil {
			return nil, err
		}
		if d.eoi {
			break
		}
	}
	return p.reconstruct(n), nil
}

// compIndex is the frame index of a scan component.
func (p *progressive) compIndex(c *component) int {
	for i := range p.d.comps {
		if &p.d.comps[i] == c {
			return i
		}
	}
	return 0
}

// scan decodes the entropy-coded data of the current scan into p.coefs.
func (p *progressive) scan() error {
	d := p.d
	d.unstuff()
	p.eobrun = 0
	for _, c := range d.scan {
		c.pred = 0
	}
	interval := 0
	units := 0 // MCUs, or blocks in a single-component scan
	restart := func() error {
		if d.ri > 0 && units > 0 && units%d.ri == 0 {
			interval++
			if interval >= len(d.intervals) {
				return errCorrupt("missing restart marker")
			}
			d.pos, d.acc, d.n = d.intervals[interval], 0, 0
			for _, c := range d.scan {
				c.pred = 0
			}
			p.eobrun = 0
		}
		units++
		return nil
	}
	if len(d.scan) > 1 { // interleaved: DC only
		for my := range p.mcusY {
			for mx := range p.mcusX {
				if err := restart(); err != nil {
					return err
				}
				for _, c := range d.scan {
					st := &p.coefs[p.compIndex(c)]
					for v := range c.v {
						for h := range c.h {
							if err := p.dc(c, st, (my*c.v+v)*st.bw+mx*c.h+h); err != nil {
								return err
							}
						}
					}
				}
				if d.pos > d.end+8 {
					return errCorrupt("entropy-coded data ends early")
				}
			}
		}
		return nil
	}
	// One component: its own block grid, unpadded (T.81 A.2.2).
	c := d.scan[0]
	st := &p.coefs[p.compIndex(c)]
	cw := (d.width*c.h + d.hmax - 1) / d.hmax
	ch := (d.height*c.v + d.vmax - 1) / d.vmax
	bw, bh := (cw+7)/8, (ch+7)/8
	for by := range bh {
		for bx := range bw {
			if err := restart(); err != nil {
				return err
			}
			idx := by*st.bw + bx
			var err error
			switch {
			case d.ss == 0:
				err = p.dc(c, st, idx)
			case d.ah == 0:
				err = p.acFirst(c, st, idx)
			default:
				err = p.acRefine(c, st, idx)
			}
			if err != nil {
				return err
			}
			if d.pos > d.end+8 {
				return errCorrupt("entropy-coded data ends early")
			}
		}
	}
	return nil
}

// fill tops the bit reader up to at least 56 bits.
func (d *decoder) fill() {
	if d.n < 32 {
		d.pos, d.acc, d.n = refill(d.buf, d.pos, d.acc, d.n)
	}
}

// bits reads s (1–16) bits.
func (d *decoder) bits(s uint) int32 {
	d.fill()
	v := int32(d.acc >> (64 - s)) // #nosec G115 -- at most 16 bits
	d.acc <<= s
	d.n -= s
	return v
}

// symbol decodes one Huffman symbol.
func (d *decoder) symbol(t *huffTable) (uint8, error) {
	d.fill()
	sym, l := t.lookup(d.acc)
	if l == 0 {
		if sym, l = t.slow(d.acc); l == 0 {
			return 0, errCorrupt("bad Huffman code")
		}
	}
	d.acc <<= l
	d.n -= l
	return sym, nil
}

// dc decodes a DC first or refinement scan's part of one block.
func (p *progressive) dc(c *component, st *coefs, idx int) error {
	d := p.d
	v := &st.vals[idx*p.k] // the DC value is always kept, in slot 0
	if d.ah > 0 {
		if d.bits(1) != 0 {
			*v |= 1 << d.al
		}
		return nil
	}
	s, err := d.symbol(c.dc)
	if err != nil {
		return err
	}
	if s > 15 {
		return errCorrupt("DC magnitude category")
	}
	if s > 0 {
		c.pred += extend(d.bits(uint(s)), uint(s))
	}
	*v = int16(c.pred << d.al) // #nosec G115 -- a valid stream stays within 12 bits
	return nil
}

// acFirst decodes the first pass over a band of AC coefficients of one
// block (T.81 G.1.2.2).
func (p *progressive) acFirst(c *component, st *coefs, idx int) error {
	d := p.d
	if p.eobrun > 0 {
		p.eobrun--
		return nil
	}
	for k := d.ss; k <= d.se; {
		rs, err := d.symbol(c.ac)
		if err != nil {
			return err
		}
		r, s := int(rs>>4), uint(rs&15)
		if s == 0 {
			if r < 15 { // end of band, for this block and maybe the next ones
				p.eobrun = 1<<r - 1
				if r > 0 {
					p.eobrun += int(d.bits(uint(r)))
				}
				break
			}
			k += 16
			continue
		}
		k += r
		if k > d.se {
			return errCorrupt("AC run past the band")
		}
		st.nz[idx] |= 1 << k
		if sl := p.slot[k]; sl >= 0 {
			st.vals[idx*p.k+int(sl)] = int16(extend(d.bits(s), s) << d.al) // #nosec G115 -- a valid stream stays within 12 bits
		} else {
			d.bits(s)
		}
		k++
	}
	return nil
}

// acRefine decodes a refinement pass over a band of AC coefficients of one
// block (T.81 G.1.2.3): one more bit of every coefficient that is already
// nonzero, and new coefficients of magnitude 1 among the zero ones. These
// passes read a bit per nonzero coefficient, so the bit reader lives in
// locals here as in decodeBlock.
func (p *progressive) acRefine(c *component, st *coefs, idx int) error {
	d := p.d
	buf, pos, acc, n := d.buf, d.pos, d.acc, d.n
	p1, m1 := int16(1)<<d.al, int16(-1)<<d.al
	mask := st.nz[idx]
	vals := st.vals[idx*p.k : idx*p.k+p.k]
	slot := &p.slot
	ac := c.ac
	se := d.se
	// refine reads the correction bit of the nonzero coefficient at k.
	refine := func(k int) {
		if n < 32 {
			pos, acc, n = refill(buf, pos, acc, n)
		}
		bit := acc >> 63
		acc <<= 1
		n--
		if bit == 0 {
			return
		}
		if sl := slot[k]; sl >= 0 && vals[sl]&p1 == 0 {
			if vals[sl] >= 0 {
				vals[sl] += p1
			} else {
				vals[sl] += m1
			}
		}
	}
	k := d.ss
	if p.eobrun == 0 {
		for ; k <= se; k++ {
			if n < 32 {
				pos, acc, n = refill(buf, pos, acc, n)
			}
			rs, l := ac.lookup(acc)
			if l == 0 {
				if rs, l = ac.slow(acc); l == 0 {
					return errCorrupt("bad Huffman code")
				}
			}
			acc <<= l
			n -= l
			r, s := int(rs>>4), rs&15
			var z int16
			switch {
			case s == 1:
				z = m1
				if acc>>63 != 0 {
					z = p1
				}
				acc <<= 1
				n--
			case s != 0:
				return errCorrupt("refinement magnitude other than 1")
			case r != 15: // end of band
				p.eobrun = 1 << r
				if r > 0 {
					p.eobrun += int(acc >> (64 - uint(r)))
					acc <<= uint(r)
					n -= uint(r)
				}
			}
			if s == 0 && r != 15 {
				break
			}
			// Skip r zero coefficients (refining the nonzero ones met on
			// the way) and put z on the zero after them.
			for ; k <= se; k++ {
				if mask&(1<<k) != 0 {
					refine(k)
					continue
				}
				if r == 0 {
					if z != 0 {
						mask |= 1 << k
						if sl := slot[k]; sl >= 0 {
							vals[sl] = z
						}
					}
					break
				}
				r--
			}
		}
	}
	if p.eobrun > 0 {
		// Within an end-of-band run only the nonzero coefficients get
		// their correction bits.
		if k <= se {
			band := mask >> uint(k) << uint(k) // from k on …
			band &= ^uint64(0) >> uint(63-se)  // … up to se
			for ; band != 0; band &= band - 1 {
				refine(bits.TrailingZeros64(band))
			}
		}
		p.eobrun--
	}
	st.nz[idx] = mask
	d.pos, d.acc, d.n = pos, acc, n
	return nil
}

// reconstruct dequantises the kept coefficients and inverse-transforms
// every block to n×n pixels.
func (p *progressive) reconstruct(n int) image.Image {
	d := p.d
	img, _, _ := d.allocate(n)
	idct := idctFor(n)
	var blk block
	for i := range d.comps {
		c, st := &d.comps[i], &p.coefs[i]
		q := &d.qt[c.tq]
		for by := range st.bh {
			row := by * n * c.stride
			for bx := range st.bw {
				vals := st.vals[(by*st.bw+bx)*p.k:]
				for z, sl := range p.slot {
					if sl >= 0 {
						blk[zigzag[z]] = int32(vals[sl]) * q[z]
					}
				}
				idct(&blk, c.pix[row+bx*n:], c.stride)
			}
		}
	}
	return img
}
