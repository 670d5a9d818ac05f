package imaging

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Just enough ISO base media file format (ISO/IEC 14496-12) and HEIF
// (ISO/IEC 23008-12) parsing to read the primary image's dimensions and
// rotation from HEIC/AVIF files without decoding them.

const maxBoxes = 4096 // boxes visited per file

type box struct {
	typ          string
	start, body  int64 // offsets of the header and of the payload
	end          int64 // -1: to end of file
	headerLength int64
}

// readBox reads the box header at off. limit is the end of the parent (-1 for
// unknown).
func readBox(r io.ReaderAt, off, limit int64) (box, error) {
	var h [16]byte
	if _, err := r.ReadAt(h[:8], off); err != nil {
		return box{}, fmt.Errorf("imaging: bmff box at %d: %w", off, ErrCorrupt)
	}
	size := int64(binary.BigEndian.Uint32(h[:4]))
	b := box{typ: string(h[4:8]), start: off, body: off + 8}
	switch size {
	case 0:
		b.end = limit
	case 1:
		if _, err := r.ReadAt(h[8:16], off+8); err != nil {
			return box{}, fmt.Errorf("imaging: bmff large box: %w", ErrCorrupt)
		}
		size = int64(binary.BigEndian.Uint64(h[8:16]))
		b.body = off + 16
		if size < 16 {
			return box{}, fmt.Errorf("imaging: bmff box size %d: %w", size, ErrCorrupt)
		}
		b.end = off + size
	default:
		if size < 8 {
			return box{}, fmt.Errorf("imaging: bmff box size %d: %w", size, ErrCorrupt)
		}
		b.end = off + size
	}
	if b.end >= 0 && limit >= 0 && b.end > limit {
		return box{}, fmt.Errorf("imaging: bmff box %q overruns its parent: %w", b.typ, ErrCorrupt)
	}
	b.headerLength = b.body - b.start
	return b, nil
}

// children calls fn for each box inside [off, end). end -1 means to EOF.
func children(r io.ReaderAt, off, end int64, budget *int, fn func(box) (stop bool, err error)) error {
	for end < 0 || off+8 <= end {
		if *budget <= 0 {
			return fmt.Errorf("imaging: bmff too many boxes: %w", ErrCorrupt)
		}
		*budget--
		b, err := readBox(r, off, end)
		if err != nil {
			if end < 0 {
				return nil // end of a stream of unknown length
			}
			return err
		}
		stop, err := fn(b)
		if err != nil || stop {
			return err
		}
		if b.end < 0 {
			return nil
		}
		off = b.end
	}
	return nil
}

func readN(r io.ReaderAt, off int64, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := r.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("imaging: bmff read: %w", ErrCorrupt)
	}
	return b, nil
}

// heifInfo is what the header of a HEIF/AVIF file says about its primary
// image.
type heifInfo struct {
	width, height int // as stored (ispe), before irot
	rotation      int // irot: anticlockwise quarter turns
	mirror        bool
}

// heifProbe reads the meta box of a HEIF/AVIF file.
func heifProbe(r io.ReaderAt) (heifInfo, error) {
	budget := maxBoxes
	var meta box
	found := false
	err := children(r, 0, -1, &budget, func(b box) (bool, error) {
		if b.typ == "meta" {
			meta, found = b, true
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return heifInfo{}, err
	}
	if !found || meta.end < 0 {
		return heifInfo{}, fmt.Errorf("imaging: heif without meta box: %w", ErrCorrupt)
	}
	var (
		primary  uint32
		props    []box // ipco children, index 0 = property 1
		assoc    = map[uint32][]int{}
		havePitm bool
	)
	err = children(r, meta.body+4, meta.end, &budget, func(b box) (bool, error) {
		switch b.typ {
		case "pitm":
			h, err := readN(r, b.body, 4)
			if err != nil {
				return false, err
			}
			if h[0] == 0 {
				v, err := readN(r, b.body+4, 2)
				if err != nil {
					return false, err
				}
				primary = uint32(binary.BigEndian.Uint16(v))
			} else {
				v, err := readN(r, b.body+4, 4)
				if err != nil {
					return false, err
				}
				primary = binary.BigEndian.Uint32(v)
			}
			havePitm = true
		case "iprp":
			return false, children(r, b.body, b.end, &budget, func(c box) (bool, error) {
				switch c.typ {
				case "ipco":
					return false, children(r, c.body, c.end, &budget, func(p box) (bool, error) {
						props = append(props, p)
						return false, nil
					})
				case "ipma":
					return false, parseIPMA(r, c, assoc)
				}
				return false, nil
			})
		}
		return false, nil
	})
	if err != nil {
		return heifInfo{}, err
	}
	var info heifInfo
	apply := func(p box) error {
		switch p.typ {
		case "ispe":
			v, err := readN(r, p.body, 12)
			if err != nil {
				return err
			}
			w, h := binary.BigEndian.Uint32(v[4:8]), binary.BigEndian.Uint32(v[8:12])
			if w > 1<<30 || h > 1<<30 {
				return fmt.Errorf("imaging: heif ispe %dx%d: %w", w, h, ErrCorrupt)
			}
			info.width, info.height = int(w), int(h)
		case "irot":
			v, err := readN(r, p.body, 1)
			if err != nil {
				return err
			}
			info.rotation = int(v[0] & 3)
		case "imir":
			info.mirror = true
		}
		return nil
	}
	if idx, ok := assoc[primary]; havePitm && ok {
		for _, i := range idx {
			if i >= 1 && i <= len(props) {
				if err := apply(props[i-1]); err != nil {
					return heifInfo{}, err
				}
			}
		}
	}
	if info.width == 0 || info.height == 0 {
		// No usable association: take the largest ispe (the full image,
		// not a thumbnail or a grid tile).
		best := heifInfo{}
		for _, p := range props {
			if p.typ != "ispe" {
				continue
			}
			info = heifInfo{}
			if err := apply(p); err != nil {
				return heifInfo{}, err
			}
			if int64(info.width)*int64(info.height) > int64(best.width)*int64(best.height) {
				best = info
			}
		}
		info = best
	}
	if info.width == 0 || info.height == 0 {
		return heifInfo{}, fmt.Errorf("imaging: heif without image size: %w", ErrCorrupt)
	}
	return info, nil
}

// parseIPMA reads item→property associations.
func parseIPMA(r io.ReaderAt, b box, assoc map[uint32][]int) error {
	h, err := readN(r, b.body, 8)
	if err != nil {
		return err
	}
	version, flags := h[0], h[3]
	count := binary.BigEndian.Uint32(h[4:8])
	off := b.body + 8
	if count > maxBoxes {
		return fmt.Errorf("imaging: heif ipma with %d entries: %w", count, ErrCorrupt)
	}
	for range count {
		var item uint32
		if version < 1 {
			v, err := readN(r, off, 2)
			if err != nil {
				return err
			}
			item, off = uint32(binary.BigEndian.Uint16(v)), off+2
		} else {
			v, err := readN(r, off, 4)
			if err != nil {
				return err
			}
			item, off = binary.BigEndian.Uint32(v), off+4
		}
		n, err := readN(r, off, 1)
		if err != nil {
			return err
		}
		off++
		for range int(n[0]) {
			var idx int
			if flags&1 != 0 {
				v, err := readN(r, off, 2)
				if err != nil {
					return err
				}
				idx, off = int(binary.BigEndian.Uint16(v)&0x7FFF), off+2
			} else {
				v, err := readN(r, off, 1)
				if err != nil {
					return err
				}
				idx, off = int(v[0]&0x7F), off+1
			}
			if len(assoc[item]) < 64 {
				assoc[item] = append(assoc[item], idx)
			}
		}
		if b.end >= 0 && off > b.end {
			return fmt.Errorf("imaging: heif ipma overruns its box: %w", ErrCorrupt)
		}
	}
	return nil
}
