package imaging

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

const (
	// MaxWatermarkRunes bounds the text drawn by Watermark.
	MaxWatermarkRunes = 64
	watermarkQuality  = 85
	watermarkAngle    = 30.0 // degrees, rising to the right
	watermarkLight    = 0.42 // opacity of the white text
	watermarkShadow   = 0.28 // opacity of the dark offset shadow
)

// Watermark draws text (a studio name, "PROOF") repeated diagonally across a
// JPEG in semi-transparent white with a soft dark shadow, so it reads on
// light and dark photos and cannot be cropped away, and re-encodes it at
// quality 85. It is meant for share-specific proofs made from previews; the
// original is never modified. Text is trimmed, stripped of control
// characters and cut to MaxWatermarkRunes; Go Bold covers Latin, Greek and
// Cyrillic.
func Watermark(jpegBytes []byte, text string) ([]byte, error) {
	text = cleanWatermarkText(text)
	if text == "" {
		return nil, ErrWatermarkText
	}
	src, err := decodeChecked(bytes.NewReader(jpegBytes), "watermark", jpeg.DecodeConfig, jpeg.Decode)
	if err != nil {
		return nil, err
	}
	b := src.Bounds()
	img := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(img, img.Rect, src, b.Min, draw.Src)

	short := min(b.Dx(), b.Dy())
	size := math.Max(10, float64(short)/14)
	mask, err := textMask(text, size)
	if err != nil {
		return nil, err
	}
	stampDiagonal(img, mask, size)

	var out bytes.Buffer
	if err := jpeg.Encode(&out, img, &jpeg.Options{Quality: watermarkQuality}); err != nil {
		return nil, fmt.Errorf("imaging: watermark encode: %w", err)
	}
	return out.Bytes(), nil
}

func cleanWatermarkText(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		if unicode.IsSpace(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > MaxWatermarkRunes {
		s = string([]rune(s)[:MaxWatermarkRunes])
	}
	return s
}

// textMask renders text once, horizontally, as coverage values.
func textMask(text string, size float64) (*image.Alpha, error) {
	f, err := opentype.Parse(gobold.TTF)
	if err != nil {
		return nil, fmt.Errorf("imaging: watermark font: %w", err)
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, fmt.Errorf("imaging: watermark face: %w", err)
	}
	defer face.Close()
	m := face.Metrics()
	adv := font.MeasureString(face, text).Ceil()
	pad := int(size / 4)
	w := adv + 2*pad
	h := (m.Ascent + m.Descent).Ceil() + 2*pad
	mask := image.NewAlpha(image.Rect(0, 0, w, h))
	dr := &font.Drawer{
		Dst:  mask,
		Src:  image.Opaque,
		Face: face,
		Dot:  fixed.P(pad, pad+m.Ascent.Ceil()),
	}
	dr.DrawString(text)
	return mask, nil
}

// stampDiagonal tiles the mask across img along a rising diagonal, rows
// offset by half a tile like bricks.
func stampDiagonal(img *image.RGBA, mask *image.Alpha, size float64) {
	mw, mh := mask.Rect.Dx(), mask.Rect.Dy()
	tileW := float64(mw) + 2*size
	tileH := float64(mh) + 2.5*size
	rad := watermarkAngle * math.Pi / 180
	cos, sin := math.Cos(rad), math.Sin(rad)
	shadow := math.Max(1, size/16)
	cx, cy := float64(img.Rect.Dx())/2, float64(img.Rect.Dy())/2

	sample := func(u, v float64) float64 {
		row := math.Floor(v / tileH)
		u += row * tileW / 2
		tu := u - math.Floor(u/tileW)*tileW
		tv := v - row*tileH
		x, y := int(tu), int(tv)
		if x < 0 || y < 0 || x >= mw || y >= mh {
			return 0
		}
		return float64(mask.Pix[y*mask.Stride+x]) / 255
	}
	for y := range img.Rect.Dy() {
		row := img.Pix[y*img.Stride:]
		for x := range img.Rect.Dx() {
			px, py := float64(x)-cx, float64(y)-cy
			u := px*cos - py*sin
			v := px*sin + py*cos
			a := sample(u, v) * watermarkLight
			s := sample(u-shadow, v-shadow) * watermarkShadow
			if a == 0 && s == 0 {
				continue
			}
			p := row[x*4 : x*4+3]
			for i, c := range p {
				f := float64(c) * (1 - s)          // darken under the shadow
				f = f*(1-a) + 255*a                // lighten with the text
				p[i] = uint8(math.Min(255, f+0.5)) // f ≥ 0 always
			}
		}
	}
}
