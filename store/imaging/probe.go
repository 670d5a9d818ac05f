package imaging

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"
)

// Probe reads only the header of an image — a config decode for JPEG, PNG,
// GIF and WebP, IFD parsing for TIFF, DNG and TIFF-based RAW, box parsing for
// HEIC and AVIF — and returns its dimensions as stored (before any EXIF or
// irot orientation). With maxPixels > 0 it returns an error wrapping
// ErrPixelFlood when w*h exceeds it, before anything is decoded: a 50 KB PNG
// that declares 30000x30000 would otherwise cost gigabytes to decode.
//
// Video and RAW formats whose size is not in a header this package parses
// return 0, 0, nil. RAW and DNG sizes are reported but not held against
// maxPixels: their sensor data is never decoded (a 102 MP medium-format RAW
// is an ordinary upload), and Derive checks the embedded preview it does
// decode against MaxDerivePixels. r is read from its current position, which must be the
// start of the file. When r is also an io.ReaderAt and io.Seeker (an
// *os.File, a bytes.Reader) Probe uses random access; on a plain stream it
// buffers what it reads, up to 64 MiB, to follow TIFF and box offsets (TIFF
// writers often put IFD0 after the pixel data, so prefer passing a file).
func Probe(r io.Reader, d Detected, maxPixels int64) (w, h int, err error) {
	switch d.Kind {
	case KindJPEG, KindPNG, KindGIF, KindWebP:
		var cfg image.Config
		br := bufio.NewReaderSize(r, 4096)
		switch d.Kind {
		case KindJPEG:
			cfg, err = jpeg.DecodeConfig(br)
		case KindPNG:
			cfg, err = png.DecodeConfig(br)
		case KindGIF:
			cfg, err = gif.DecodeConfig(br)
		case KindWebP:
			cfg, err = webp.DecodeConfig(br)
		}
		if err != nil {
			return 0, 0, decodeError("probe "+string(d.Kind), err)
		}
		w, h = cfg.Width, cfg.Height
	case KindTIFF:
		ra, size := asReaderAt(r)
		w, h, err = tiffDims(ra, size, false)
		if err != nil {
			return 0, 0, err
		}
	case KindDNG, KindRaw:
		ra, size := asReaderAt(r)
		w, h, err = tiffDims(ra, size, true)
		if err != nil {
			// RAF, CR3 and makers' private layouts: size unknown, the
			// preview is checked again when Derive decodes it.
			return 0, 0, nil
		}
	case KindHEIC, KindAVIF:
		ra, _ := asReaderAt(r)
		info, err := heifProbe(ra)
		if err != nil {
			return 0, 0, err
		}
		w, h = info.width, info.height
	case KindMP4, KindMOV:
		return 0, 0, nil
	default:
		return 0, 0, fmt.Errorf("imaging: probe kind %q: %w", d.Kind, ErrUnsupported)
	}
	if w <= 0 || h <= 0 {
		return 0, 0, fmt.Errorf("imaging: probe %s: zero size %dx%d: %w", d.Kind, w, h, ErrCorrupt)
	}
	if d.Kind == KindDNG || d.Kind == KindRaw {
		return w, h, nil
	}
	if err := checkPixels(w, h, maxPixels); err != nil {
		return 0, 0, err
	}
	return w, h, nil
}

// checkPixels enforces a pixel budget (none when max <= 0).
func checkPixels(w, h int, max int64) error {
	if max > 0 && int64(w)*int64(h) > max {
		return fmt.Errorf("%w: %dx%d is more than %d pixels", ErrPixelFlood, w, h, max)
	}
	return nil
}

// decodeError wraps a decoder error as ErrCorrupt or ErrUnsupported, keeping
// the decoder's text (which never contains secrets: it describes bytes).
func decodeError(op string, err error) error {
	switch {
	case errors.Is(err, ErrCorrupt), errors.Is(err, ErrUnsupported), errors.Is(err, ErrPixelFlood):
		return fmt.Errorf("imaging: %s: %w", op, err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("imaging: %s: truncated: %w", op, ErrCorrupt)
	}
	var unsupported jpeg.UnsupportedError
	if errors.As(err, &unsupported) {
		return fmt.Errorf("imaging: %s: %w: %w", op, ErrUnsupported, err)
	}
	return fmt.Errorf("imaging: %s: %w: %w", op, ErrCorrupt, err)
}

// tiffDims returns the size of the main image of a TIFF-structured file. For
// plain TIFF that is IFD0; for DNG and RAW it is the largest full-resolution
// (NewSubfileType 0) directory anywhere in the tree.
func tiffDims(ra io.ReaderAt, size int64, rawTree bool) (int, int, error) {
	t, err := newTIFFAt(ra, size)
	if err != nil {
		return 0, 0, err
	}
	if !rawTree {
		d, err := t.readIFD(t.first)
		if err != nil {
			return 0, 0, err
		}
		w, _ := t.uintTag(d, tagImageWidth)
		h, _ := t.uintTag(d, tagImageLength)
		return int(w), int(h), nil
	}
	var bw, bh uint32
	err = t.walk(func(d tiffIFD) {
		if sub, _ := t.uintTag(d, tagNewSubfileType); sub&1 != 0 {
			return
		}
		w, _ := t.uintTag(d, tagImageWidth)
		h, _ := t.uintTag(d, tagImageLength)
		if uint64(w)*uint64(h) > uint64(bw)*uint64(bh) {
			bw, bh = w, h
		}
	})
	if err != nil {
		return 0, 0, err
	}
	if bw == 0 || bh == 0 {
		return 0, 0, fmt.Errorf("imaging: raw without main image size: %w", ErrCorrupt)
	}
	return int(bw), int(bh), nil
}
