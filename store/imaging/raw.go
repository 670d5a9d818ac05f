package imaging

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image/jpeg"
)

// Camera RAW and DNG files carry a camera-rendered JPEG preview, usually at
// or near full resolution. Developing the sensor data is out of scope, so
// previews are derived from the largest embedded JPEG that the standard
// decoder accepts (lossless-JPEG raw data, SOF3, is rejected by
// DecodeConfig and so never chosen).

const (
	minEmbeddedJPEG = 1024 // smaller candidates are EXIF thumbnails or noise
	maxScanHits     = 256  // SOI markers tried by the fallback scan
)

// rawPreview returns the bytes of the largest decodable JPEG embedded in a
// RAW or DNG file.
func rawPreview(data []byte) ([]byte, error) {
	var best []byte
	var bestPixels int64
	consider := func(b []byte) {
		if len(b) < minEmbeddedJPEG || b[0] != 0xFF || b[1] != 0xD8 {
			return
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
		if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
			return
		}
		if px := int64(cfg.Width) * int64(cfg.Height); px > bestPixels {
			best, bestPixels = b, px
		}
	}
	slice := func(off, n uint64) []byte {
		if off >= uint64(len(data)) || n == 0 {
			return nil
		}
		end := min(off+n, uint64(len(data)))
		return data[off:end]
	}

	// TIFF-structured files (DNG, CR2, NEF, ARW, PEF, ORF, RW2): JPEG
	// streams referenced from any IFD.
	if t, err := newTIFF(data); err == nil {
		_ = t.walk(func(d tiffIFD) {
			if off, ok := t.uintTag(d, tagJPEGOffset); ok {
				if n, ok := t.uintTag(d, tagJPEGLength); ok {
					consider(slice(uint64(off), uint64(n)))
				}
			}
			if c, _ := t.uintTag(d, tagCompression); c == 6 || c == 7 {
				so, ok1 := d.find(tagStripOffsets)
				sc, ok2 := d.find(tagStripByteCounts)
				if ok1 && ok2 && so.Count == 1 && sc.Count == 1 {
					o, _ := t.uintTag(d, tagStripOffsets)
					n, _ := t.uintTag(d, tagStripByteCounts)
					consider(slice(uint64(o), uint64(n)))
				}
			}
			// JPEG blobs stored as UNDEFINED tag values (RW2 JpgFromRaw).
			for _, e := range d.Entries {
				if e.Type == 7 && e.Count >= minEmbeddedJPEG {
					off := uint64(t.bo.Uint32(e.Raw[:]))
					consider(slice(off, uint64(e.Count)))
				}
			}
		})
	}
	// Fujifilm RAF: the JPEG offset and length are in the header.
	if bytes.HasPrefix(data, []byte("FUJIFILMCCD-RAW")) && len(data) >= 92 {
		off := binary.BigEndian.Uint32(data[84:88])
		n := binary.BigEndian.Uint32(data[88:92])
		consider(slice(uint64(off), uint64(n)))
	}
	// Anything else (CR3, unusual makers): scan for JPEG start markers; the
	// decoder stops at the stream's own EOI.
	if best == nil {
		off, hits := 0, 0
		for hits < maxScanHits {
			i := bytes.Index(data[off:], []byte{0xFF, 0xD8, 0xFF})
			if i < 0 {
				break
			}
			hits++
			consider(data[off+i:])
			off += i + 3
		}
	}
	if best == nil {
		return nil, fmt.Errorf("imaging: raw file has no decodable embedded jpeg: %w", ErrUnsupported)
	}
	return best, nil
}
