package jpegscale

// fastBits is the look-ahead of the table-driven Huffman decoder: codes of
// up to fastBits bits (nearly all of them in photos) decode with one table
// read; longer ones walk the canonical code lengths.
const fastBits = 9

// huffTable is one DC or AC Huffman table (T.81 Annex C, F.2.2.3).
type huffTable struct {
	// fast is indexed by the next fastBits bits: length<<8 | symbol, or 0
	// when the code is longer than fastBits.
	fast [1 << fastBits]uint16
	// fastAC, for AC tables, decodes code, run and value in one read when
	// the code and its extra bits fit in fastBits: value<<16 | run<<8 |
	// total length, or 0 when they do not (or the symbol is EOB/ZRL).
	fastAC [1 << fastBits]int32
	// maxcode[l] is the largest code of length l, or -1; valoff[l] maps a
	// code of length l to its index in vals.
	maxcode [17]int32
	valoff  [17]int32
	vals    [256]uint8
}

// build fills t from the 16 code-length counts and the symbols of a DHT
// segment, refusing tables whose codes overflow their lengths.
func (t *huffTable) build(counts *[16]uint8, vals []uint8, ac bool) error {
	*t = huffTable{}
	copy(t.vals[:], vals)
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		t.valoff[l] = k - code
		if code+n > 1<<l {
			return errCorrupt("huffman table overflows its code lengths")
		}
		if n == 0 {
			t.maxcode[l] = -1
		} else {
			for i := range n {
				c := code + i
				if l <= fastBits {
					t.setFast(c, l, vals[k+i], ac)
				}
			}
			code += n
			k += n
			t.maxcode[l] = code - 1
		}
		code <<= 1
	}
	return nil
}

// setFast writes the look-ahead entries of code c of length l.
func (t *huffTable) setFast(c int32, l int, sym uint8, ac bool) {
	shift := fastBits - l
	first := int(c) << shift
	for j := range 1 << shift {
		t.fast[first+j] = uint16(l)<<8 | uint16(sym)
	}
	if !ac {
		return
	}
	run, size := int(sym>>4), int(sym&15)
	if size == 0 || l+size > fastBits {
		return
	}
	for j := range 1 << shift {
		idx := first + j
		extra := int32(idx>>(shift-size)) & (1<<size - 1)
		v := extend(extra, uint(size))
		t.fastAC[idx] = v<<16 | int32(run)<<8 | int32(l+size)
	}
}

// extend turns the s-bit magnitude category value v into its signed
// coefficient (T.81 F.2.2.1, EXTEND).
func extend(v int32, s uint) int32 {
	if v < 1<<(s-1) {
		return v - (1<<s - 1)
	}
	return v
}

// lookup decodes the symbol whose code is at the top of acc when the code
// is at most fastBits long, returning it with the code's length; length 0
// means: call slow. Small enough to be inlined into the decoding loops,
// which keep their bit reader in registers.
func (t *huffTable) lookup(acc uint64) (sym uint8, l uint) {
	e := t.fast[acc>>(64-fastBits)]
	return uint8(e), uint(e >> 8)
}

// slow decodes a code longer than fastBits from the top of acc, which must
// hold at least 16 valid bits. It returns the symbol and the code length,
// or length 0 for a code that is not in the table.
func (t *huffTable) slow(acc uint64) (uint8, uint) {
	for l := fastBits + 1; l <= 16; l++ {
		c := int32(acc >> (64 - l))
		if c <= t.maxcode[l] {
			i := c + t.valoff[l]
			if i < 0 || i > 255 {
				return 0, 0
			}
			return t.vals[i], uint(l)
		}
	}
	return 0, 0
}
