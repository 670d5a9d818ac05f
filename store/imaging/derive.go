package imaging

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"github.com/gen2brain/heic"
	"github.com/photovault/photovault/store/imaging/jpegscale"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// Derivative sizes and qualities.
const (
	PreviewBox     = 2048 // preview fits in PreviewBox×PreviewBox
	ThumbBox       = 400  // thumbnail fits in ThumbBox×ThumbBox
	PreviewQuality = 82
	ThumbQuality   = 78
	// MaxDerivePixels is the largest image Derive and Watermark will decode,
	// whatever the caller probed: the last line against pixel floods, also
	// for previews embedded in RAW files that Probe cannot see.
	MaxDerivePixels = 120_000_000
	// MaxHEICPixels caps HEIC decodes, which run libheif in WASM: a 48 MP
	// iPhone HEIC measured 13 s and 910 MB RSS here (12 MP: 3 s, 345 MB), so
	// callers should also run HEIC derivations one at a time.
	MaxHEICPixels = 50_000_000
	// maxInputBytes bounds what Derive reads into memory for formats whose
	// decoders need random access (TIFF, HEIC, RAW).
	maxInputBytes = 1 << 30
)

// Derive decodes an image once and makes a preview that fits in 2048×2048
// and a thumbnail that fits in 400×400, both JPEG (quality 82 and 78) with
// the EXIF orientation (1–8; 0 or 1 means none) applied. The thumbnail is
// downscaled from the preview, not from the original. Images smaller than a
// box are not upscaled. Transparent areas are composited on white.
//
// RAW and DNG files are previewed from their largest embedded JPEG. HEIC is
// decoded through WASM (seconds per image) and its own irot/imir transforms
// are applied by the decoder, so orientation is ignored for it. AVIF and
// video return ErrUnsupported: the caller stores a placeholder.
func Derive(r io.Reader, d Detected, orientation int) (preview, thumb []byte, err error) {
	img, full, err := decodeForDerive(r, d, PreviewBox)
	if err != nil {
		return nil, nil, err
	}
	if d.Kind == KindHEIC {
		orientation = 1
	}
	return deriveFromImage(img, full, orientation)
}

// deriveFromImage shrinks, orients and encodes both derivatives. img may be
// the image decoded at a reduced scale; full is its size at full scale,
// which fixes the preview's size.
func deriveFromImage(img image.Image, full image.Point, orientation int) (preview, thumb []byte, err error) {
	b := img.Bounds()
	pw, ph := fitBox(full.X, full.Y, PreviewBox)
	pw, ph = min(pw, b.Dx()), min(ph, b.Dy())
	p := shrinkImage(img, pw, ph)
	p = p.orient(orientation)
	preview, err = p.encode(PreviewQuality)
	if err != nil {
		return nil, nil, err
	}
	tw, th := fitBox(p.y.w, p.y.h, ThumbBox)
	t := p.resize(tw, th)
	thumb, err = t.encode(ThumbQuality)
	if err != nil {
		return nil, nil, err
	}
	return preview, thumb, nil
}

// decodeForDerive decodes the image for kind d for derivatives that fit in
// box×box, checking its declared size against MaxDerivePixels before
// decoding. JPEGs may come back decoded at a reduced scale (see decodeJPEG);
// full is the image's size at full scale.
func decodeForDerive(r io.Reader, d Detected, box int) (img image.Image, full image.Point, err error) {
	switch d.Kind {
	case KindJPEG:
		return decodeJPEG(r, "jpeg", box)
	case KindDNG, KindRaw:
		data, err := readLimited(r)
		if err != nil {
			return nil, image.Point{}, err
		}
		jpg, err := rawPreview(data)
		if err != nil {
			return nil, image.Point{}, err
		}
		return decodeJPEG(bytes.NewReader(jpg), "raw preview", box)
	}
	img, err = decodeFull(r, d)
	if err != nil {
		return nil, image.Point{}, err
	}
	return img, img.Bounds().Size(), nil
}

// decodeJPEG decodes a JPEG for derivatives that fit in box×box. Baseline
// and progressive JPEGs are decoded in the DCT domain at the smallest of
// 1/8, 1/4 and 1/2 that still covers the box (jpegscale: a 24 MP baseline
// photo for a 2048 px preview decodes at 1/2 in a third of image/jpeg's
// time and a quarter of its pixel memory; a progressive one in half its
// time and a fifth of its memory), from only the bytes the image needs.
// Everything else — CMYK, arithmetic coding, or anything jpegscale refuses
// — streams through image/jpeg at full size, which also has the last word
// on files jpegscale calls corrupt.
func decodeJPEG(r io.Reader, name string, box int) (image.Image, image.Point, error) {
	data, rest, ok, err := jpegscale.Read(r, MaxDerivePixels)
	if err != nil {
		return nil, image.Point{}, fmt.Errorf("imaging: read input: %w", err)
	}
	if ok {
		if cfg, err := jpegscale.DecodeConfig(data); err == nil {
			bw, bh := fitBox(cfg.Width, cfg.Height, box)
			if img, err := jpegscale.Decode(data, jpegscale.PickScale(cfg, bw, bh), MaxDerivePixels); err == nil {
				return img, image.Pt(cfg.Width, cfg.Height), nil
			}
		}
	}
	img, err := decodeChecked(io.MultiReader(bytes.NewReader(data), rest), name, jpeg.DecodeConfig, jpeg.Decode)
	if err != nil {
		return nil, image.Point{}, err
	}
	return img, img.Bounds().Size(), nil
}

// decodeFull decodes a non-JPEG image at full size.
func decodeFull(r io.Reader, d Detected) (image.Image, error) {
	switch d.Kind {
	case KindPNG:
		return decodeChecked(r, "png", png.DecodeConfig, png.Decode)
	case KindGIF:
		return decodeChecked(r, "gif", gif.DecodeConfig, gif.Decode)
	case KindWebP:
		return decodeChecked(r, "webp", webp.DecodeConfig, webp.Decode)
	case KindTIFF:
		data, err := readLimited(r)
		if err != nil {
			return nil, err
		}
		return decodeChecked(bytes.NewReader(data), "tiff", tiff.DecodeConfig, tiff.Decode)
	case KindHEIC:
		data, err := readLimited(r)
		if err != nil {
			return nil, err
		}
		info, err := heifProbe(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		if err := checkPixels(info.width, info.height, MaxHEICPixels); err != nil {
			return nil, fmt.Errorf("imaging: derive heic: %w", err)
		}
		img, err := heic.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, decodeError("derive heic", err)
		}
		return img, nil
	}
	return nil, fmt.Errorf("imaging: derive %s: no decoder: %w", d.Kind, ErrUnsupported)
}

func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxInputBytes+1))
	if err != nil {
		return nil, fmt.Errorf("imaging: read input: %w", err)
	}
	if len(data) > maxInputBytes {
		return nil, fmt.Errorf("imaging: input larger than %d bytes: %w", maxInputBytes, ErrUnsupported)
	}
	return data, nil
}

// recorder keeps a copy of what is read through it, so a header read by
// DecodeConfig can be replayed to the full decoder without buffering the
// whole file.
type recorder struct {
	r   io.Reader
	buf []byte
}

func (c *recorder) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.buf = append(c.buf, p[:n]...)
	return n, err
}

// decodeChecked runs the config decoder first, refuses pixel floods, then
// decodes the full image from the replayed header plus the rest of r.
func decodeChecked(r io.Reader, name string,
	config func(io.Reader) (image.Config, error),
	decode func(io.Reader) (image.Image, error)) (image.Image, error) {
	rec := &recorder{r: r}
	cfg, err := config(bufio.NewReaderSize(rec, 4096))
	if err != nil {
		return nil, decodeError("derive "+name, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("imaging: derive %s: zero size: %w", name, ErrCorrupt)
	}
	if err := checkPixels(cfg.Width, cfg.Height, MaxDerivePixels); err != nil {
		return nil, fmt.Errorf("imaging: derive %s: %w", name, err)
	}
	img, err := decode(io.MultiReader(bytes.NewReader(rec.buf), r))
	if err != nil {
		return nil, decodeError("derive "+name, err)
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, fmt.Errorf("imaging: derive %s: decoded size differs from header: %w", name, ErrCorrupt)
	}
	return img, nil
}

// planar is a small working image: Y plus Cb/Cr at half resolution in both
// directions (4:2:0, what the JPEG encoder writes), or Y alone for gray.
type planar struct {
	y, cb, cr plane
	gray      bool
}

func chromaSize(w, h int) (int, int) { return (w + 1) / 2, (h + 1) / 2 }

func (p planar) resize(w, h int) planar {
	out := planar{gray: p.gray, y: resizePlane(p.y, w, h)}
	if !p.gray {
		cw, ch := chromaSize(w, h)
		out.cb = resizePlane(p.cb, cw, ch)
		out.cr = resizePlane(p.cr, cw, ch)
	}
	return out
}

func (p planar) orient(o int) planar {
	out := planar{gray: p.gray, y: orientPlane(p.y, o)}
	if !p.gray {
		out.cb, out.cr = orientPlane(p.cb, o), orientPlane(p.cr, o)
	}
	return out
}

func (p planar) image() image.Image {
	r := image.Rect(0, 0, p.y.w, p.y.h)
	if p.gray {
		return &image.Gray{Pix: p.y.pix, Stride: p.y.stride, Rect: r}
	}
	return &image.YCbCr{
		Y: p.y.pix, Cb: p.cb.pix, Cr: p.cr.pix,
		YStride: p.y.stride, CStride: p.cb.stride,
		SubsampleRatio: image.YCbCrSubsampleRatio420,
		Rect:           r,
	}
}

func (p planar) encode(quality int) ([]byte, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, p.image(), &jpeg.Options{Quality: quality}); err != nil {
		return nil, fmt.Errorf("imaging: encode jpeg: %w", err)
	}
	return buf.Bytes(), nil
}

// ycbcrPlanes returns views of the planes of a YCbCr image whose bounds
// start at the origin.
func ycbcrPlanes(m *image.YCbCr) (y, cb, cr plane, ok bool) {
	b := m.Rect
	if b.Min != (image.Point{}) {
		return plane{}, plane{}, plane{}, false
	}
	w, h := b.Dx(), b.Dy()
	cw, ch, known := jpegscale.ChromaSize(m.SubsampleRatio, w, h)
	if !known {
		return plane{}, plane{}, plane{}, false
	}
	if len(m.Y) < (h-1)*m.YStride+w || len(m.Cb) < (ch-1)*m.CStride+cw || len(m.Cr) < (ch-1)*m.CStride+cw {
		return plane{}, plane{}, plane{}, false
	}
	y = plane{w: w, h: h, stride: m.YStride, pix: m.Y}
	cb = plane{w: cw, h: ch, stride: m.CStride, pix: m.Cb}
	cr = plane{w: cw, h: ch, stride: m.CStride, pix: m.Cr}
	return y, cb, cr, true
}

// shrinkImage resamples img to dw×dh planes without converting the source
// to RGBA: YCbCr and Gray planes are filtered in place; other models are
// converted one row at a time as rows are fed to the resampler.
func shrinkImage(img image.Image, dw, dh int) planar {
	cw, ch := chromaSize(dw, dh)
	switch m := img.(type) {
	case *image.YCbCr:
		if y, cb, cr, ok := ycbcrPlanes(m); ok {
			return planar{
				y:  resizePlane(y, dw, dh),
				cb: resizePlane(cb, cw, ch),
				cr: resizePlane(cr, cw, ch),
			}
		}
	case *image.Gray:
		if m.Rect.Min == (image.Point{}) {
			p := plane{w: m.Rect.Dx(), h: m.Rect.Dy(), stride: m.Stride, pix: m.Pix}
			return planar{gray: true, y: resizePlane(p, dw, dh)}
		}
	}
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	ry, rcb, rcr := newResizer(sw, sh, dw, dh), newResizer(sw, sh, cw, ch), newResizer(sw, sh, cw, ch)
	yr, cbr, crr := make([]uint8, sw), make([]uint8, sw), make([]uint8, sw)
	conv := rowConverter(img)
	for y := range sh {
		conv(b.Min.Y+y, yr, cbr, crr)
		ry.feed(y, yr)
		rcb.feed(y, cbr)
		rcr.feed(y, crr)
	}
	return planar{y: ry.finish(), cb: rcb.finish(), cr: rcr.finish()}
}

// overWhite composites a non-premultiplied 8-bit value with alpha a on white.
func overWhite(v, a uint8) uint8 {
	return uint8((uint32(v)*uint32(a) + 255*(255-uint32(a)) + 127) / 255)
}

// rowConverter returns a function that writes row y of img as Y, Cb, Cr
// (alpha composited on white), with fast paths for the decoders' models.
func rowConverter(img image.Image) func(y int, yr, cbr, crr []uint8) {
	b := img.Bounds()
	put := func(i int, r, g, bl uint8, yr, cbr, crr []uint8) {
		yr[i], cbr[i], crr[i] = color.RGBToYCbCr(r, g, bl)
	}
	switch m := img.(type) {
	case *image.NRGBA:
		return func(y int, yr, cbr, crr []uint8) {
			row := m.Pix[m.PixOffset(b.Min.X, y):]
			for i := range yr {
				p := row[i*4 : i*4+4]
				a := p[3]
				if a == 255 {
					put(i, p[0], p[1], p[2], yr, cbr, crr)
				} else {
					put(i, overWhite(p[0], a), overWhite(p[1], a), overWhite(p[2], a), yr, cbr, crr)
				}
			}
		}
	case *image.RGBA:
		return func(y int, yr, cbr, crr []uint8) {
			row := m.Pix[m.PixOffset(b.Min.X, y):]
			for i := range yr {
				p := row[i*4 : i*4+4]
				na := 255 - p[3] // premultiplied: add white × (1 − a)
				put(i, p[0]+na, p[1]+na, p[2]+na, yr, cbr, crr)
			}
		}
	case *image.Paletted:
		var lut [256][3]uint8
		for i, c := range m.Palette {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			lut[i][0], lut[i][1], lut[i][2] = color.RGBToYCbCr(overWhite(n.R, n.A), overWhite(n.G, n.A), overWhite(n.B, n.A))
		}
		for i := len(m.Palette); i < 256; i++ {
			lut[i] = [3]uint8{255, 128, 128}
		}
		return func(y int, yr, cbr, crr []uint8) {
			row := m.Pix[m.PixOffset(b.Min.X, y):]
			for i := range yr {
				e := lut[row[i]]
				yr[i], cbr[i], crr[i] = e[0], e[1], e[2]
			}
		}
	case *image.NYCbCrA:
		return func(y int, yr, cbr, crr []uint8) {
			for i := range yr {
				x := b.Min.X + i
				yi, ci, ai := m.YOffset(x, y), m.COffset(x, y), m.AOffset(x, y)
				a := m.A[ai]
				if a == 255 {
					yr[i], cbr[i], crr[i] = m.Y[yi], m.Cb[ci], m.Cr[ci]
					continue
				}
				r, g, bl := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				put(i, overWhite(r, a), overWhite(g, a), overWhite(bl, a), yr, cbr, crr)
			}
		}
	case *image.CMYK:
		return func(y int, yr, cbr, crr []uint8) {
			row := m.Pix[m.PixOffset(b.Min.X, y):]
			for i := range yr {
				p := row[i*4 : i*4+4]
				r, g, bl := color.CMYKToRGB(p[0], p[1], p[2], p[3])
				put(i, r, g, bl, yr, cbr, crr)
			}
		}
	case *image.Gray:
		return func(y int, yr, cbr, crr []uint8) {
			copy(yr, m.Pix[m.PixOffset(b.Min.X, y):])
			for i := range cbr {
				cbr[i], crr[i] = 128, 128
			}
		}
	}
	return func(y int, yr, cbr, crr []uint8) {
		for i := range yr {
			n := color.NRGBAModel.Convert(img.At(b.Min.X+i, y)).(color.NRGBA)
			put(i, overWhite(n.R, n.A), overWhite(n.G, n.A), overWhite(n.B, n.A), yr, cbr, crr)
		}
	}
}
