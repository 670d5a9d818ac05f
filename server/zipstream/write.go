package zipstream

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
)

// Record signatures and fixed lengths (APPNOTE.TXT 6.3.10, section 4.3).
const (
	sigLocal       = 0x04034b50
	sigCentral     = 0x02014b50
	sigEnd         = 0x06054b50
	sigZip64End    = 0x06064b50
	sigZip64Locate = 0x07064b50

	localFixedLen   = 30
	centralFixedLen = 46
	endLen          = 22
	zip64EndLen     = 56
	zip64LocLen     = 20

	extraZip64   = 0x0001
	extraExtTime = 0x5455 // "UT" extended timestamp
	extTimeLen   = 4 + 5  // header + flags + mtime

	flagUTF8     = 1 << 11 // names are UTF-8
	methodStore  = 0
	versionBase  = 20     // 2.0: directories, deflate-era baseline
	versionZip64 = 45     // 4.5: ZIP64
	creatorUnix  = 3 << 8 // "version made by" host: Unix, so external attrs carry a mode
	unixModeFile = 0o100644

	copyBufSize = 256 << 10
)

func (e *entry) versionNeeded() uint16 {
	if e.zip64Size || e.zip64Off {
		return versionZip64
	}
	return versionBase
}

func (e *entry) extTimeLen() int64 {
	if e.hasMtime {
		return extTimeLen
	}
	return 0
}

// localHeaderLen is the length of e's local file header with its extras.
// A local ZIP64 extra must carry both sizes (APPNOTE 4.5.3).
func localHeaderLen(e *entry) int64 {
	n := localFixedLen + int64(len(e.name)) + e.extTimeLen()
	if e.zip64Size {
		n += 4 + 16
	}
	return n
}

// centralZip64Len is the length of e's central ZIP64 extra: only the fields
// whose 32-bit slot is saturated appear, in the order the format fixes.
func centralZip64Len(e *entry) int64 {
	var n int64
	if e.zip64Size {
		n += 16
	}
	if e.zip64Off {
		n += 8
	}
	if n > 0 {
		n += 4
	}
	return n
}

// centralHeaderLen is the length of e's central directory header with extras.
func centralHeaderLen(e *entry) int64 {
	return centralFixedLen + int64(len(e.name)) + e.extTimeLen() + centralZip64Len(e)
}

func (a *Archive) endLen() int64 {
	if a.zip64End {
		return zip64EndLen + zip64LocLen + endLen
	}
	return endLen
}

func sat32(v int64, zip64 bool) uint32 {
	if zip64 {
		return uint32Max
	}
	return uint32(v)
}

func (e *entry) appendExtTime(b []byte) []byte {
	if !e.hasMtime {
		return b
	}
	b = binary.LittleEndian.AppendUint16(b, extraExtTime)
	b = binary.LittleEndian.AppendUint16(b, 5)
	b = append(b, 1) // modification time present
	return binary.LittleEndian.AppendUint32(b, e.mtime)
}

// appendLocal appends e's local file header to b.
func (e *entry) appendLocal(b []byte) []byte {
	le := binary.LittleEndian
	extraLen := localHeaderLen(e) - localFixedLen - int64(len(e.name))
	b = le.AppendUint32(b, sigLocal)
	b = le.AppendUint16(b, e.versionNeeded())
	b = le.AppendUint16(b, flagUTF8)
	b = le.AppendUint16(b, methodStore)
	b = le.AppendUint16(b, e.dosTime)
	b = le.AppendUint16(b, e.dosDate)
	b = le.AppendUint32(b, e.crc)
	b = le.AppendUint32(b, sat32(e.size, e.zip64Size)) // compressed
	b = le.AppendUint32(b, sat32(e.size, e.zip64Size)) // uncompressed
	b = le.AppendUint16(b, uint16(len(e.name)))
	b = le.AppendUint16(b, uint16(extraLen))
	b = append(b, e.name...)
	if e.zip64Size {
		b = le.AppendUint16(b, extraZip64)
		b = le.AppendUint16(b, 16)
		b = le.AppendUint64(b, uint64(e.size)) // uncompressed
		b = le.AppendUint64(b, uint64(e.size)) // compressed
	}
	return e.appendExtTime(b)
}

// appendCentral appends e's central directory header to b.
func (e *entry) appendCentral(b []byte) []byte {
	le := binary.LittleEndian
	z64 := centralZip64Len(e)
	b = le.AppendUint32(b, sigCentral)
	b = le.AppendUint16(b, creatorUnix|e.versionNeeded())
	b = le.AppendUint16(b, e.versionNeeded())
	b = le.AppendUint16(b, flagUTF8)
	b = le.AppendUint16(b, methodStore)
	b = le.AppendUint16(b, e.dosTime)
	b = le.AppendUint16(b, e.dosDate)
	b = le.AppendUint32(b, e.crc)
	b = le.AppendUint32(b, sat32(e.size, e.zip64Size))
	b = le.AppendUint32(b, sat32(e.size, e.zip64Size))
	b = le.AppendUint16(b, uint16(len(e.name)))
	b = le.AppendUint16(b, uint16(z64+e.extTimeLen()))
	b = le.AppendUint16(b, 0) // comment length
	b = le.AppendUint16(b, 0) // disk number start
	b = le.AppendUint16(b, 0) // internal attributes
	b = le.AppendUint32(b, unixModeFile<<16)
	b = le.AppendUint32(b, sat32(e.localOff, e.zip64Off))
	b = append(b, e.name...)
	if z64 > 0 {
		b = le.AppendUint16(b, extraZip64)
		b = le.AppendUint16(b, uint16(z64-4))
		if e.zip64Size {
			b = le.AppendUint64(b, uint64(e.size))
			b = le.AppendUint64(b, uint64(e.size))
		}
		if e.zip64Off {
			b = le.AppendUint64(b, uint64(e.localOff))
		}
	}
	return e.appendExtTime(b)
}

// appendEnd appends the end records (ZIP64 record and locator when needed,
// then the classic end of central directory record) to b. With ZIP64 every
// classic field is saturated, as Go's own writer does, so that readers which
// check only one of them still find the ZIP64 record.
func (a *Archive) appendEnd(b []byte) []byte {
	le := binary.LittleEndian
	n := int64(len(a.entries))
	cdSize := a.cdEnd - a.cdStart
	if a.zip64End {
		b = le.AppendUint32(b, sigZip64End)
		b = le.AppendUint64(b, zip64EndLen-12)
		b = le.AppendUint16(b, creatorUnix|versionZip64)
		b = le.AppendUint16(b, versionZip64)
		b = le.AppendUint32(b, 0) // this disk
		b = le.AppendUint32(b, 0) // disk with the central directory
		b = le.AppendUint64(b, uint64(n))
		b = le.AppendUint64(b, uint64(n))
		b = le.AppendUint64(b, uint64(cdSize))
		b = le.AppendUint64(b, uint64(a.cdStart))

		b = le.AppendUint32(b, sigZip64Locate)
		b = le.AppendUint32(b, 0) // disk with the ZIP64 end record
		b = le.AppendUint64(b, uint64(a.cdEnd))
		b = le.AppendUint32(b, 1) // total disks
	}
	count16 := uint16(n)
	if a.zip64End {
		count16 = uint16Max
	}
	b = le.AppendUint32(b, sigEnd)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint16(b, count16)
	b = le.AppendUint16(b, count16)
	b = le.AppendUint32(b, sat32(cdSize, a.zip64End))
	b = le.AppendUint32(b, sat32(a.cdStart, a.zip64End))
	return le.AppendUint16(b, 0) // comment length
}

// WriteTo writes the whole archive to w and returns the number of bytes
// written. It implements io.WriterTo.
func (a *Archive) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	err := a.writeRange(cw, 0, a.size)
	return cw.n, err
}

// WriteRange writes the length bytes of the archive starting at start, opening
// only the entries whose data the range overlaps, each at the right offset.
func (a *Archive) WriteRange(w io.Writer, start, length int64) error {
	if start < 0 || length < 0 || start > a.size || length > a.size-start {
		return fmt.Errorf("%w: %d+%d of %d", ErrRange, start, length, a.size)
	}
	return a.writeRange(w, start, start+length)
}

// writeRange writes archive bytes [pos, end).
func (a *Archive) writeRange(w io.Writer, pos, end int64) error {
	if pos >= end {
		return nil
	}
	bw := bufio.NewWriterSize(w, 32<<10)
	var scratch, buf []byte

	// emit writes the part of a generated record that overlaps [pos, end).
	emit := func(rec []byte, recOff int64) error {
		from := pos - recOff
		to := min(end-recOff, int64(len(rec)))
		if _, err := bw.Write(rec[from:to]); err != nil {
			return fmt.Errorf("zipstream: write: %w", err)
		}
		pos = recOff + to
		return nil
	}

	n := len(a.entries)
	if pos < a.cdStart {
		i := sort.Search(n, func(i int) bool { return a.entries[i].localOff > pos }) - 1
		for ; i < n && pos < end; i++ {
			e := &a.entries[i]
			if pos < e.dataOff {
				scratch = e.appendLocal(scratch[:0])
				if err := emit(scratch, e.localOff); err != nil {
					return err
				}
			}
			if dataEnd := e.dataOff + e.size; pos < end && pos < dataEnd {
				stop := min(end, dataEnd)
				if err := bw.Flush(); err != nil {
					return fmt.Errorf("zipstream: write: %w", err)
				}
				if buf == nil {
					buf = make([]byte, copyBufSize)
				}
				if err := e.copyData(w, pos-e.dataOff, stop-e.dataOff, buf); err != nil {
					return err
				}
				pos = stop
			}
		}
	}
	if pos < end && pos < a.cdEnd {
		i := sort.Search(n, func(i int) bool { return a.entries[i].cdOff > pos }) - 1
		for ; i < n && pos < end; i++ {
			e := &a.entries[i]
			scratch = e.appendCentral(scratch[:0])
			if err := emit(scratch, e.cdOff); err != nil {
				return err
			}
		}
	}
	if pos < end {
		scratch = a.appendEnd(scratch[:0])
		if err := emit(scratch, a.cdEnd); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("zipstream: write: %w", err)
	}
	return nil
}

// copyData writes e's bytes [from, to) to w. When the whole entry is written
// its CRC-32 is checked, so stale metadata or damaged storage surfaces as an
// error instead of a silently corrupt download.
func (e *entry) copyData(w io.Writer, from, to int64, buf []byte) (err error) {
	rc, err := e.open(from)
	if err != nil {
		return fmt.Errorf("zipstream: open %q at %d: %w", e.name, from, err)
	}
	defer func() {
		if cerr := rc.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("zipstream: close %q: %w", e.name, cerr)
		}
	}()
	verify := from == 0 && to == e.size
	var crc uint32
	for remaining := to - from; remaining > 0; {
		chunk := buf[:min(int64(len(buf)), remaining)]
		m, rerr := io.ReadFull(rc, chunk)
		if m > 0 {
			if verify {
				crc = crc32.Update(crc, crc32.IEEETable, chunk[:m])
			}
			if _, werr := w.Write(chunk[:m]); werr != nil {
				return fmt.Errorf("zipstream: write: %w", werr)
			}
			remaining -= int64(m)
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			if remaining > 0 {
				return fmt.Errorf("%w: %q ended %d bytes early", ErrShortEntry, e.name, remaining)
			}
		} else if rerr != nil {
			return fmt.Errorf("zipstream: read %q: %w", e.name, rerr)
		}
	}
	if verify && crc != e.crc {
		return fmt.Errorf("%w: %q", ErrCRCMismatch, e.name)
	}
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
