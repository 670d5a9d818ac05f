package imaging

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// JPEG markers.
const (
	markerSOI   = 0xD8
	markerEOI   = 0xD9
	markerSOS   = 0xDA
	markerAPP1  = 0xE1
	markerAPP2  = 0xE2
	markerAPP13 = 0xED
)

// APP segment signatures.
const (
	exifPrefix   = "Exif\x00\x00"
	xmpPrefix    = "http://ns.adobe.com/xap/1.0/\x00"
	xmpExtPrefix = "http://ns.adobe.com/xmp/extension/\x00"
	mpfPrefix    = "MPF\x00"
)

// errEndOfImage stops a segment walk early; it never leaves the package.
var errEndOfImage = errors.New("imaging: end of image")

// hasPrefix is bytes.HasPrefix for a constant string prefix.
func hasPrefix(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix
}

// jpegSegment is one marker segment; data excludes the marker and length.
type jpegSegment struct {
	marker byte
	data   []byte
}

// hasLength reports whether a marker is followed by a length field.
func hasLength(m byte) bool {
	return !(m == markerSOI || m == markerEOI || (m >= 0xD0 && m <= 0xD7) || m == 0x01)
}

// readMarker reads the next marker from r, skipping fill bytes and, like
// libjpeg and Go's decoder, stray bytes between segments (up to 64 KiB).
func readMarker(r *bufio.Reader) (byte, error) {
	for junk := 0; ; junk++ {
		c, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		if c == 0xFF {
			break
		}
		if junk > 1<<16 {
			return 0, fmt.Errorf("imaging: jpeg: no marker: %w", ErrCorrupt)
		}
	}
	for {
		m, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		if m != 0xFF {
			return m, nil
		}
	}
}

// readSegmentBody reads the length-prefixed body of a marker segment.
func readSegmentBody(r *bufio.Reader, m byte) (jpegSegment, error) {
	var lb [2]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		return jpegSegment{}, fmt.Errorf("imaging: jpeg segment length: %w", ErrCorrupt)
	}
	n := int(lb[0])<<8 | int(lb[1])
	if n < 2 {
		return jpegSegment{}, fmt.Errorf("imaging: jpeg segment length %d: %w", n, ErrCorrupt)
	}
	data := make([]byte, n-2)
	if _, err := io.ReadFull(r, data); err != nil {
		return jpegSegment{}, fmt.Errorf("imaging: jpeg segment body: %w", ErrCorrupt)
	}
	return jpegSegment{marker: m, data: data}, nil
}

func writeSegment(w io.Writer, s jpegSegment) error {
	if len(s.data)+2 > 0xFFFF {
		return fmt.Errorf("imaging: jpeg segment too large: %w", ErrCorrupt)
	}
	n := len(s.data) + 2
	if _, err := w.Write([]byte{0xFF, s.marker, byte(n >> 8), byte(n)}); err != nil {
		return err
	}
	_, err := w.Write(s.data)
	return err
}

// jpegHeaderSegments reads the marker segments from SOI up to (not
// including) the first SOS, calling fn for each.
func jpegHeaderSegments(r *bufio.Reader, fn func(jpegSegment) error) error {
	m, err := readMarker(r)
	if err != nil || m != markerSOI {
		return fmt.Errorf("imaging: jpeg: missing SOI: %w", ErrCorrupt)
	}
	for range 4096 {
		m, err := readMarker(r)
		if err != nil {
			return fmt.Errorf("imaging: jpeg header: %w", ErrCorrupt)
		}
		if m == markerSOS || m == markerEOI {
			return nil
		}
		if !hasLength(m) {
			continue
		}
		s, err := readSegmentBody(r, m)
		if err != nil {
			return err
		}
		if err := fn(s); err != nil {
			return err
		}
	}
	return fmt.Errorf("imaging: jpeg: too many header segments: %w", ErrCorrupt)
}

// exifFromJPEG returns the TIFF payload of the first EXIF APP1 segment, or
// nil when there is none.
func exifFromJPEG(r io.Reader) ([]byte, error) {
	var exif []byte
	err := jpegHeaderSegments(bufio.NewReader(r), func(s jpegSegment) error {
		if s.marker == markerAPP1 && hasPrefix(s.data, exifPrefix) && exif == nil {
			exif = s.data[len(exifPrefix):]
			return errEndOfImage
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEndOfImage) {
		return nil, err
	}
	return exif, nil
}
