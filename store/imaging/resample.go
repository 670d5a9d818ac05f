package imaging

import "math"

// A separable Catmull-Rom resampler on 8-bit planes with 14-bit fixed-point
// weights. It runs on the decoded YCbCr planes directly (Y at full
// resolution, Cb/Cr at their subsampled size), so a 24 MP JPEG is never
// converted to RGBA: that conversion alone is 96 MB, and x/image/draw's
// generic path measured 756 MB peak here. Only the small result is ever
// converted for encoding.

// plane is one 8-bit channel.
type plane struct {
	w, h, stride int
	pix          []uint8
}

func newPlane(w, h int) plane {
	return plane{w: w, h: h, stride: w, pix: make([]uint8, w*h)}
}

func (p plane) row(y int) []uint8 {
	return p.pix[y*p.stride : y*p.stride+p.w]
}

const (
	weightBits = 14
	weightOne  = 1 << weightBits
)

// weights holds, for each output sample, n taps starting at start[i].
type weights struct {
	n     int
	start []int
	w     []int32 // len(start)*n, each group sums to weightOne
}

// catmullRom is the Keys cubic with a = -0.5.
func catmullRom(x float64) float64 {
	x = math.Abs(x)
	switch {
	case x < 1:
		return (1.5*x-2.5)*x*x + 1
	case x < 2:
		return ((-0.5*x+2.5)*x-4)*x + 2
	}
	return 0
}

// makeWeights computes the filter for resampling src samples to dst samples
// with centres aligned ((i+0.5)·scale − 0.5). When shrinking, the kernel is
// stretched by the scale so it also low-passes (no aliasing).
func makeWeights(src, dst int) weights {
	scale := float64(src) / float64(dst)
	filterScale := math.Max(scale, 1)
	support := 2 * filterScale
	n := int(math.Ceil(2*support)) + 1
	n = min(n, src)
	ws := weights{n: n, start: make([]int, dst), w: make([]int32, dst*n)}
	acc := make([]float64, n)
	for i := range dst {
		center := (float64(i)+0.5)*scale - 0.5
		left := int(math.Floor(center-support)) + 1
		start := min(max(left, 0), src-n)
		ws.start[i] = start
		clear(acc)
		var sum float64
		for j := left; j < left+n+1; j++ {
			wt := catmullRom((float64(j) - center) / filterScale)
			if wt == 0 {
				continue
			}
			idx := min(max(j, 0), src-1) - start
			if idx < 0 || idx >= n {
				continue
			}
			acc[idx] += wt
			sum += wt
		}
		if sum == 0 {
			acc[min(max(int(math.Round(center)), 0), src-1)-start] = 1
			sum = 1
		}
		// Quantise so each group sums to exactly weightOne; the rounding
		// remainder goes to the largest tap.
		g := ws.w[i*n : i*n+n]
		var total int32
		big := 0
		for k := range n {
			g[k] = int32(math.Round(acc[k] / sum * weightOne))
			total += g[k]
			if g[k] > g[big] {
				big = k
			}
		}
		g[big] += weightOne - total
	}
	return ws
}

func clampU8(v int32) uint8 {
	v = (v + weightOne/2) >> weightBits
	if uint32(v) > 255 {
		if v < 0 {
			return 0
		}
		return 255
	}
	return uint8(v)
}

// resampleRow filters one source row into dst (len(dst) outputs).
func resampleRow(src, dst []uint8, ws *weights) {
	n := ws.n
	starts := ws.start[:len(dst)]
	for x, st := range starts {
		s := src[st : st+n]
		w := ws.w[x*n : x*n+n]
		w = w[:len(s)]
		var sum int32
		for k, v := range s {
			sum += int32(v) * w[k]
		}
		dst[x] = clampU8(sum)
	}
}

// resampleColumns filters the rows of src vertically into dst, accumulating
// whole rows so the inner loop walks memory sequentially.
func resampleColumns(src, dst plane, ws *weights) {
	acc := make([]int32, dst.w)
	for y := range dst.h {
		clear(acc)
		sy := ws.start[y]
		for k, wt := range ws.w[y*ws.n : y*ws.n+ws.n] {
			if wt == 0 {
				continue
			}
			row := src.row(sy + k)
			row = row[:len(acc)]
			for x, v := range row {
				acc[x] += int32(v) * wt
			}
		}
		out := dst.row(y)
		out = out[:len(acc)]
		for x, a := range acc {
			out[x] = clampU8(a)
		}
	}
}

// resizer resamples a plane of sw×sh to dw×dh: rows are filtered
// horizontally as they are fed (so a source that produces rows one at a time
// never needs a full-resolution copy), then all columns at once.
type resizer struct {
	hw, vw *weights
	tmp    plane // dw × sh
	dw, dh int
}

func newResizer(sw, sh, dw, dh int) *resizer {
	hw, vw := makeWeights(sw, dw), makeWeights(sh, dh)
	return &resizer{hw: &hw, vw: &vw, tmp: newPlane(dw, sh), dw: dw, dh: dh}
}

// feed filters source row y.
func (r *resizer) feed(y int, src []uint8) {
	resampleRow(src, r.tmp.row(y), r.hw)
}

// finish runs the vertical pass and returns the result.
func (r *resizer) finish() plane {
	out := newPlane(r.dw, r.dh)
	resampleColumns(r.tmp, out, r.vw)
	r.tmp = plane{}
	return out
}

// boxResidual is the smallest scale left for the Catmull-Rom pass after a
// box pre-shrink: at least 1.25 keeps its low-pass effective.
const boxResidual = 1.25

// resizePlane resamples a whole plane. Large reductions first average k×k
// blocks (as libvips' shrink does) so the filter pass needs about a third of
// the taps; the residual scale stays ≥ 1.25.
func resizePlane(p plane, dw, dh int) plane {
	if p.w == dw && p.h == dh {
		return p
	}
	if k := int(math.Min(float64(p.w)/float64(dw), float64(p.h)/float64(dh)) / boxResidual); k >= 2 {
		p = boxShrink(p, k)
	}
	r := newResizer(p.w, p.h, dw, dh)
	for y := range p.h {
		r.feed(y, p.row(y))
	}
	return r.finish()
}

// boxShrink averages k×k blocks (partial blocks at the right and bottom
// edges average what they have).
func boxShrink(p plane, k int) plane {
	ow, oh := (p.w+k-1)/k, (p.h+k-1)/k
	full := p.w / k // complete blocks per row
	out := newPlane(ow, oh)
	acc := make([]uint32, ow)
	for oy := range oh {
		y0, y1 := oy*k, min(oy*k+k, p.h)
		if k == 2 && y1-y0 == 2 {
			// The common case (24 MP → 2048 px): two rows straight to
			// one output row.
			r0, r1 := p.row(y0)[:2*full], p.row(y0 + 1)[:2*full]
			o := out.row(oy)[:full]
			for ox := range o {
				i := 2 * ox
				o[ox] = uint8((uint32(r0[i]) + uint32(r0[i+1]) + uint32(r1[i]) + uint32(r1[i+1]) + 2) >> 2)
			}
			if full < ow {
				last := p.w - 1
				o := out.row(oy)
				o[full] = uint8((uint32(p.row(y0)[last]) + uint32(p.row(y0 + 1)[last]) + 1) >> 1)
			}
			continue
		}
		clear(acc)
		for y := y0; y < y1; y++ {
			row := p.row(y)
			if k == 2 {
				a := acc[:full]
				for ox := range a {
					a[ox] += uint32(row[2*ox]) + uint32(row[2*ox+1])
				}
			} else {
				a := acc[:full]
				for ox := range a {
					blk := row[ox*k : ox*k+k]
					var s uint32
					for _, v := range blk {
						s += uint32(v)
					}
					a[ox] += s
				}
			}
			if full < ow {
				var s uint32
				for _, v := range row[full*k:] {
					s += uint32(v)
				}
				acc[full] += s
			}
		}
		o := out.row(oy)
		rows := uint32(y1 - y0)
		n := rows * uint32(k)
		for ox, s := range acc[:full] {
			o[ox] = uint8((s + n/2) / n)
		}
		if full < ow {
			n := rows * uint32(p.w-full*k)
			o[full] = uint8((acc[full] + n/2) / n)
		}
	}
	return out
}

// fitBox returns the size of w×h scaled to fit in box×box, never upscaled.
func fitBox(w, h, box int) (int, int) {
	if w <= box && h <= box {
		return w, h
	}
	if w >= h {
		return box, max(1, int(math.Round(float64(h)*float64(box)/float64(w))))
	}
	return max(1, int(math.Round(float64(w)*float64(box)/float64(h)))), box
}

// orientPlane applies an EXIF orientation (1–8) to a plane.
func orientPlane(p plane, o int) plane {
	if o < 2 || o > 8 {
		return p
	}
	W, H := p.w, p.h
	var out plane
	if o >= 5 {
		out = newPlane(H, W)
	} else {
		out = newPlane(W, H)
	}
	switch o {
	case 2: // mirror horizontally
		for y := range H {
			s, d := p.row(y), out.row(y)
			for x := range W {
				d[W-1-x] = s[x]
			}
		}
	case 3: // rotate 180
		for y := range H {
			s, d := p.row(y), out.row(H-1-y)
			for x := range W {
				d[W-1-x] = s[x]
			}
		}
	case 4: // mirror vertically
		for y := range H {
			copy(out.row(H-1-y), p.row(y))
		}
	case 5: // transpose: dst(x,y) = src(y,x)
		for y := range H {
			s := p.row(y)
			for x := range W {
				out.pix[x*out.stride+y] = s[x]
			}
		}
	case 6: // rotate 90° clockwise: src(x,y) → dst(H-1-y, x)
		for y := range H {
			s := p.row(y)
			for x := range W {
				out.pix[x*out.stride+H-1-y] = s[x]
			}
		}
	case 7: // transverse: src(x,y) → dst(H-1-y, W-1-x)
		for y := range H {
			s := p.row(y)
			for x := range W {
				out.pix[(W-1-x)*out.stride+H-1-y] = s[x]
			}
		}
	case 8: // rotate 90° counter-clockwise: src(x,y) → dst(y, W-1-x)
		for y := range H {
			s := p.row(y)
			for x := range W {
				out.pix[(W-1-x)*out.stride+y] = s[x]
			}
		}
	}
	return out
}
