package imaging

import (
	"bytes"
	"errors"
	"image"
	"testing"
)

func TestWatermark(t *testing.T) {
	for _, bg := range []struct {
		name string
		img  image.Image
	}{
		{"photo", noiseImage(600, 400, 4)},
		{"white", flatRGBA(400, 640, 250)},
		{"black", flatRGBA(500, 300, 5)},
	} {
		t.Run(bg.name, func(t *testing.T) {
			src := encodeJPEG(t, bg.img, 90)
			out, err := Watermark(src, "PROOF · Studio Lumière")
			if err != nil {
				t.Fatal(err)
			}
			a, b := decodeJPEGBytes(t, src), decodeJPEGBytes(t, out)
			if a.Bounds() != b.Bounds() {
				t.Fatalf("size changed: %v → %v", a.Bounds(), b.Bounds())
			}
			// The mark covers a real share of the picture, spread over
			// all four quadrants, but leaves most of it visible.
			r := a.Bounds()
			var changed, total int
			quad := [4]int{}
			for y := 0; y < r.Dy(); y += 3 {
				for x := 0; x < r.Dx(); x += 3 {
					ar, ag, ab := rgbAt(a, x, y)
					br, bg, bb := rgbAt(b, x, y)
					total++
					if absDiff(ar, br)+absDiff(ag, bg)+absDiff(ab, bb) > 45 {
						changed++
						quad[(2*y/r.Dy())*2+2*x/r.Dx()]++
					}
				}
			}
			frac := float64(changed) / float64(total)
			if frac < 0.04 || frac > 0.6 {
				t.Fatalf("watermark changed %.1f%% of pixels", 100*frac)
			}
			for i, q := range quad {
				if q == 0 {
					t.Fatalf("quadrant %d has no watermark", i)
				}
			}
			again, err := Watermark(src, "PROOF · Studio Lumière")
			if err != nil || !bytes.Equal(again, out) {
				t.Fatalf("not deterministic: %v", err)
			}
		})
	}
}

func TestWatermarkRefuses(t *testing.T) {
	src := makeJPEG(t, 100, 80)
	for _, text := range []string{"", "   ", "\x00\x1b\u200b\n"} {
		if _, err := Watermark(src, text); !errors.Is(err, ErrWatermarkText) {
			t.Errorf("text %q: %v, want ErrWatermarkText", text, err)
		}
	}
	if _, err := Watermark(src[:40], "PROOF"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("truncated jpeg: %v", err)
	}
	if _, err := Watermark(encodePNG(t, noiseImage(10, 10, 1)), "PROOF"); err == nil {
		t.Errorf("png accepted as jpeg")
	}
	if _, err := Watermark(jpegHeaderOnly(30000, 30000), "PROOF"); !errors.Is(err, ErrPixelFlood) {
		t.Errorf("pixel flood: %v", err)
	}
	// Over-long text is cut, not refused.
	long := bytes.Repeat([]byte("W"), 500)
	if _, err := Watermark(src, string(long)); err != nil {
		t.Errorf("long text: %v", err)
	}
}

func flatRGBA(w, h int, v uint8) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = v
	}
	return m
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}
