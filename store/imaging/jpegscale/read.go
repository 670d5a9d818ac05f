package jpegscale

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
)

// maxHeaderBytes bounds the marker segments Read keeps before the scan
// (camera JPEGs carry ≈ 64 KiB of EXIF; their embedded previews follow the
// image, where Read never goes).
const maxHeaderBytes = 16 << 20

// Read reads from r only the bytes Decode needs — for a sequential JPEG the
// marker segments up to and including the first scan, stopping at the
// marker that ends it; for a progressive one everything up to and
// including EOI — and never what follows (MPF previews, trailing data). It
// never keeps more than the frame can need: at most 256 bytes of
// entropy-coded data per block (64 codes of at most 32 bits), 1 KiB per
// block over all the scans of a progressive JPEG.
//
// ok is false when Read stopped early because Decode would refuse the file
// anyway: not a JPEG, a frame type it does not decode, more than maxPixels
// pixels, or headers or a scan larger than those bounds. The caller then
// hands io.MultiReader(bytes.NewReader(data), rest) to another decoder,
// which sees the stream exactly as it was. err is an I/O error from r.
func Read(r io.Reader, maxPixels int) (data []byte, rest io.Reader, ok bool, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var out []byte
	take := func(n int) error {
		b, err := br.Peek(n)
		out = append(out, b...)
		_, _ = br.Discard(len(b))
		return err
	}
	if err := take(2); err != nil || out[0] != 0xFF || out[1] != 0xD8 {
		return out, br, false, ioError(err)
	}
	budget := -1 // entropy-coded bytes allowed, once the frame is known
	progressive, scans := false, 0
	for {
		// marker: 0xFF, fill bytes, code
		n := len(out)
		if err := take(1); err != nil || out[n] != 0xFF {
			return out, br, false, ioError(err)
		}
		var m byte
		for {
			if err := take(1); err != nil {
				return out, br, false, ioError(err)
			}
			if m = out[len(out)-1]; m != 0xFF {
				break
			}
		}
		if m == 0x01 || (m >= 0xD0 && m <= 0xD7) {
			continue
		}
		if m == 0xD9 && scans > 0 { // the end of a progressive JPEG
			return out, br, true, nil
		}
		if m == 0xD8 || m == 0xD9 {
			return out, br, false, nil
		}
		n = len(out)
		if err := take(2); err != nil {
			return out, br, false, ioError(err)
		}
		l := int(binary.BigEndian.Uint16(out[n:]))
		if l < 2 || len(out)+l > maxHeaderBytes {
			return out, br, false, nil
		}
		if err := take(l - 2); err != nil {
			return out, br, false, ioError(err)
		}
		seg := out[n+2:]
		switch {
		case m == 0xC0 || m == 0xC1 || m == 0xC2:
			blocks, pixels, valid := frameSize(seg)
			if !valid || pixels > maxPixels {
				return out, br, false, nil
			}
			progressive = m == 0xC2
			budget = blocks*256 + 1<<16
			if progressive {
				budget = blocks*1024 + 1<<20
			}
		case m >= 0xC3 && m <= 0xCF && m != 0xC4 && m != 0xC8:
			return out, br, false, nil
		case m == 0xDA:
			if budget < 0 {
				return out, br, false, nil
			}
			start := len(out)
			done, err := copyScan(br, &out, start+budget)
			if err != nil {
				return out, br, false, ioError(err)
			}
			if !done || !progressive {
				return out, br, done, nil
			}
			budget -= len(out) - start
			if scans++; scans > maxScans {
				return out, br, false, nil
			}
		}
	}
}

// copyScan appends entropy-coded bytes from br to *out up to the marker
// that ends the scan (left unread) or the end of the stream, and reports
// false if *out would grow beyond limit.
func copyScan(br *bufio.Reader, out *[]byte, limit int) (bool, error) {
	for {
		buf, err := br.Peek(max(br.Buffered(), 2))
		if len(buf) < 2 {
			if errors.Is(err, io.EOF) {
				*out = append(*out, buf...)
				_, _ = br.Discard(len(buf))
				return true, nil // truncated: Decode reports it
			}
			return false, err
		}
		i := bytes.IndexByte(buf[:len(buf)-1], 0xFF)
		if i < 0 {
			i = len(buf) - 1
		} else if c := buf[i+1]; c != 0x00 && c != 0xFF && (c < 0xD0 || c > 0xD7) {
			*out = append(*out, buf[:i]...)
			_, _ = br.Discard(i)
			return len(*out) <= limit, nil
		} else {
			i += 2
		}
		*out = append(*out, buf[:i]...)
		_, _ = br.Discard(i)
		if len(*out) > limit {
			return false, nil
		}
	}
}

// frameSize returns the number of blocks and pixels a SOF0/SOF1 segment
// declares, and whether it is one Decode accepts at all.
func frameSize(seg []byte) (blocks, pixels int, ok bool) {
	if len(seg) < 6 || seg[0] != 8 {
		return 0, 0, false
	}
	h, w, nf := int(binary.BigEndian.Uint16(seg[1:])), int(binary.BigEndian.Uint16(seg[3:])), int(seg[5])
	if w == 0 || h == 0 || (nf != 1 && nf != 3) || len(seg) != 6+3*nf {
		return 0, 0, false
	}
	hmax, vmax, units := 1, 1, 0
	for i := range nf {
		s := seg[7+3*i]
		hmax, vmax = max(hmax, int(s>>4)), max(vmax, int(s&15))
		units += max(1, int(s>>4)) * max(1, int(s&15))
	}
	mcus := ((w + 8*hmax - 1) / (8 * hmax)) * ((h + 8*vmax - 1) / (8 * vmax))
	return mcus * units, w * h, true
}

// ioError drops the end-of-stream errors a short or odd file causes: those
// are for the fallback decoder to judge.
func ioError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, bufio.ErrBufferFull) {
		return nil
	}
	return err
}
