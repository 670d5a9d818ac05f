package jpegscale

import "math"

// The inverse DCT of JPEG (T.81 A.3.3) is
//
//	f(x,y) = 1/4 Σu Σv C(u) C(v) F(u,v) cos((2x+1)uπ/16) cos((2y+1)vπ/16)
//
// with C(0) = 1/√2 and C(k) = 1 otherwise. Evaluating the same sum with only
// the n×n lowest frequencies on an n-point grid, cos((2x+1)uπ/2n), gives
// the block shrunk by 8/n — the factor 1/4 stays the same for every n (at
// n = 1 it is the block's mean, F(0,0)/8). Each 2-D transform is n 1-D
// transforms over rows then n over columns, written below with the usual
// even/odd split so an n-point transform costs a handful of multiplies.

const (
	r2 = 0.70710678118654752 // cos(π/4) = 1/√2 = C(0)
	c1 = 0.92387953251128676 // cos(π/8)
	c3 = 0.38268343236508977 // cos(3π/8)
)

// odd8[i][m] = cos((2i+1)(2m+1)π/16): the odd half of the 8-point IDCT.
var odd8 = func() (t [4][4]float32) {
	for i := range 4 {
		for m := range 4 {
			t[i][m] = float32(math.Cos(float64((2*i+1)*(2*m+1)) * math.Pi / 16))
		}
	}
	return t
}()

// pixel converts a transform output (before the 1/4) to a sample.
func pixel(x float32) uint8 {
	v := x*0.25 + 128.5
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v)
}

// idct4pt is the 4-point IDCT Σu C(u) f(u) cos((2i+1)uπ/8).
func idct4pt(f0, f1, f2, f3 float32) (x0, x1, x2, x3 float32) {
	e0, e1 := r2*(f0+f2), r2*(f0-f2)
	o0, o1 := c1*f1+c3*f3, c3*f1-c1*f3
	return e0 + o0, e1 + o1, e1 - o1, e0 - o0
}

// idct1 keeps the DC coefficient: the block's mean.
func idct1(b *block, out []uint8, _ int) {
	out[0] = pixel(float32(b[0]) * 0.5)
	b[0] = 0
}

// idct2 shrinks a block to 2×2 from its four lowest frequencies.
func idct2(b *block, out []uint8, stride int) {
	f00, f01, f10, f11 := float32(b[0]), float32(b[1]), float32(b[8]), float32(b[9])
	b[0], b[1], b[8], b[9] = 0, 0, 0, 0
	// rows (over u), then columns (over v); each 2-point IDCT is
	// x0 = √½(f0+f1), x1 = √½(f0−f1), so the product of both is ½(...).
	t00, t01 := f00+f01, f00-f01
	t10, t11 := f10+f11, f10-f11
	out[0] = pixel(0.5 * (t00 + t10))
	out[1] = pixel(0.5 * (t01 + t11))
	out[stride] = pixel(0.5 * (t00 - t10))
	out[stride+1] = pixel(0.5 * (t01 - t11))
}

// idct4 shrinks a block to 4×4 from its 16 lowest frequencies.
func idct4(b *block, out []uint8, stride int) {
	var t [4][4]float32 // t[v][x]
	for v := range 4 {
		r := b[v*8 : v*8+4 : v*8+4]
		if r[1]|r[2]|r[3] == 0 {
			dc := r2 * float32(r[0])
			t[v] = [4]float32{dc, dc, dc, dc}
		} else {
			t[v][0], t[v][1], t[v][2], t[v][3] = idct4pt(float32(r[0]), float32(r[1]), float32(r[2]), float32(r[3]))
		}
		r[0], r[1], r[2], r[3] = 0, 0, 0, 0
	}
	_ = out[3*stride+3]
	for x := range 4 {
		y0, y1, y2, y3 := idct4pt(t[0][x], t[1][x], t[2][x], t[3][x])
		out[x] = pixel(y0)
		out[stride+x] = pixel(y1)
		out[2*stride+x] = pixel(y2)
		out[3*stride+x] = pixel(y3)
	}
}

// idct8pt is the 8-point IDCT Σu C(u) f(u) cos((2i+1)uπ/16): the even
// coefficients form a 4-point IDCT, the odd ones a 4×4 product.
func idct8pt(f *[8]float32, x *[8]float32) {
	e0, e1, e2, e3 := idct4pt(f[0], f[2], f[4], f[6])
	e := [4]float32{e0, e1, e2, e3}
	for i := range 4 {
		o := odd8[i][0]*f[1] + odd8[i][1]*f[3] + odd8[i][2]*f[5] + odd8[i][3]*f[7]
		x[i], x[7-i] = e[i]+o, e[i]-o
	}
}

// idct8 is the full-size IDCT.
func idct8(b *block, out []uint8, stride int) {
	var t [8][8]float32 // t[v][x]
	var f [8]float32
	for v := range 8 {
		r := b[v*8 : v*8+8 : v*8+8]
		if r[1]|r[2]|r[3]|r[4]|r[5]|r[6]|r[7] == 0 {
			dc := r2 * float32(r[0])
			t[v] = [8]float32{dc, dc, dc, dc, dc, dc, dc, dc}
		} else {
			for u := range 8 {
				f[u] = float32(r[u])
			}
			idct8pt(&f, &t[v])
		}
		clear(r)
	}
	var x [8]float32
	_ = out[7*stride+7]
	for col := range 8 {
		for v := range 8 {
			f[v] = t[v][col]
		}
		idct8pt(&f, &x)
		for y := range 8 {
			out[y*stride+col] = pixel(x[y])
		}
	}
}
