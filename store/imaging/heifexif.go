package imaging

import (
	"encoding/binary"
	"fmt"
	"io"
)

// heifExif returns the TIFF payload of the Exif item of a HEIF/AVIF file, or
// nil when there is none. It follows iinf (to find the item of type "Exif")
// and iloc (to find its bytes); only file-offset construction is supported,
// which is what cameras and phones write.
func heifExif(r io.ReaderAt) ([]byte, error) {
	budget := maxBoxes
	var meta box
	found := false
	if err := children(r, 0, -1, &budget, func(b box) (bool, error) {
		if b.typ == "meta" {
			meta, found = b, true
			return true, nil
		}
		return false, nil
	}); err != nil {
		return nil, err
	}
	if !found || meta.end < 0 {
		return nil, nil
	}
	var exifItem uint32
	haveItem := false
	var iloc box
	haveIloc := false
	err := children(r, meta.body+4, meta.end, &budget, func(b box) (bool, error) {
		switch b.typ {
		case "iinf":
			h, err := readN(r, b.body, 4)
			if err != nil {
				return false, err
			}
			first := b.body + 6
			if h[0] != 0 {
				first = b.body + 8
			}
			return false, children(r, first, b.end, &budget, func(e box) (bool, error) {
				if e.typ != "infe" {
					return false, nil
				}
				v, err := readN(r, e.body, 4)
				if err != nil || v[0] < 2 {
					return false, nil
				}
				var id uint32
				var typOff int64
				if v[0] == 2 {
					idb, err := readN(r, e.body+4, 2)
					if err != nil {
						return false, err
					}
					id, typOff = uint32(binary.BigEndian.Uint16(idb)), e.body+8
				} else {
					idb, err := readN(r, e.body+4, 4)
					if err != nil {
						return false, err
					}
					id, typOff = binary.BigEndian.Uint32(idb), e.body+10
				}
				typ, err := readN(r, typOff, 4)
				if err != nil {
					return false, err
				}
				if string(typ) == "Exif" && !haveItem {
					exifItem, haveItem = id, true
				}
				return false, nil
			})
		case "iloc":
			iloc, haveIloc = b, true
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	if !haveItem || !haveIloc {
		return nil, nil
	}
	off, n, err := ilocExtent(r, iloc, exifItem)
	if err != nil || n == 0 {
		return nil, err
	}
	if n < 8 || n > maxTagBytes*4 {
		return nil, fmt.Errorf("imaging: heif exif item of %d bytes: %w", n, ErrCorrupt)
	}
	// Best effort: a file cut short inside the Exif item still yields the
	// directories that are complete (the TIFF parser bounds-checks).
	data := make([]byte, n)
	got, _ := r.ReadAt(data, off) // a short read is used as far as it goes
	if got < 8 {
		return nil, fmt.Errorf("imaging: heif exif item unreadable: %w", ErrCorrupt)
	}
	data = data[:got]
	skip := int64(binary.BigEndian.Uint32(data[:4]))
	if skip < 0 || 4+skip >= int64(len(data)) {
		return nil, fmt.Errorf("imaging: heif exif header offset: %w", ErrCorrupt)
	}
	return data[4+skip:], nil
}

// ilocExtent returns the file offset and length of the first extent of item.
func ilocExtent(r io.ReaderAt, b box, item uint32) (int64, int64, error) {
	h, err := readN(r, b.body, 6)
	if err != nil {
		return 0, 0, err
	}
	version := h[0]
	offSize, lenSize := int(h[4]>>4), int(h[4]&15)
	baseSize, idxSize := int(h[5]>>4), int(h[5]&15)
	if version == 0 {
		idxSize = 0
	}
	pos := b.body + 6
	readUint := func(size int) (uint64, error) {
		if size == 0 {
			return 0, nil
		}
		if size != 4 && size != 8 {
			return 0, fmt.Errorf("imaging: heif iloc field size %d: %w", size, ErrCorrupt)
		}
		v, err := readN(r, pos, size)
		if err != nil {
			return 0, err
		}
		pos += int64(size)
		if size == 4 {
			return uint64(binary.BigEndian.Uint32(v)), nil
		}
		return binary.BigEndian.Uint64(v), nil
	}
	read16 := func() (uint16, error) {
		v, err := readN(r, pos, 2)
		if err != nil {
			return 0, err
		}
		pos += 2
		return binary.BigEndian.Uint16(v), nil
	}
	var count uint32
	if version < 2 {
		c, err := read16()
		if err != nil {
			return 0, 0, err
		}
		count = uint32(c)
	} else {
		c, err := readN(r, pos, 4)
		if err != nil {
			return 0, 0, err
		}
		pos += 4
		count = binary.BigEndian.Uint32(c)
	}
	if count > maxBoxes {
		return 0, 0, fmt.Errorf("imaging: heif iloc with %d items: %w", count, ErrCorrupt)
	}
	for range count {
		var id uint32
		if version < 2 {
			v, err := read16()
			if err != nil {
				return 0, 0, err
			}
			id = uint32(v)
		} else {
			v, err := readN(r, pos, 4)
			if err != nil {
				return 0, 0, err
			}
			pos += 4
			id = binary.BigEndian.Uint32(v)
		}
		method := uint16(0)
		if version == 1 || version == 2 {
			v, err := read16()
			if err != nil {
				return 0, 0, err
			}
			method = v & 15
		}
		if _, err := read16(); err != nil { // data_reference_index
			return 0, 0, err
		}
		base, err := readUint(baseSize)
		if err != nil {
			return 0, 0, err
		}
		extents, err := read16()
		if err != nil {
			return 0, 0, err
		}
		for e := range int(extents) {
			if idxSize > 0 {
				if _, err := readUint(idxSize); err != nil {
					return 0, 0, err
				}
			}
			off, err := readUint(offSize)
			if err != nil {
				return 0, 0, err
			}
			n, err := readUint(lenSize)
			if err != nil {
				return 0, 0, err
			}
			if id == item && e == 0 {
				if method != 0 {
					return 0, 0, nil // idat or item construction: not supported
				}
				o := base + off
				if o > 1<<40 || n > 1<<32 {
					return 0, 0, fmt.Errorf("imaging: heif iloc extent: %w", ErrCorrupt)
				}
				return int64(o), int64(n), nil
			}
		}
		if b.end >= 0 && pos > b.end {
			return 0, 0, fmt.Errorf("imaging: heif iloc overruns its box: %w", ErrCorrupt)
		}
	}
	return 0, 0, nil
}
