// Package zipstream builds deterministic, seekable ZIP archives whose bytes are
// streamed from their entries on demand.
//
// A share's "download all" must start at once, use constant memory, announce its
// exact Content-Length and resume after an interruption. Every entry is therefore
// STOREd (photos do not compress) with its size and CRC-32 known in advance and
// written into the local header (no data descriptors). The whole layout follows
// from the entry list alone, so any byte range can be produced by opening only
// the entries it overlaps, and two builds from the same list are identical.
package zipstream

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// Sentinel errors returned (wrapped) by this package.
var (
	// ErrInvalidEntry reports an entry that cannot be archived (negative size,
	// missing Open, name too long).
	ErrInvalidEntry = errors.New("zipstream: invalid entry")
	// ErrRange reports a byte range outside the archive.
	ErrRange = errors.New("zipstream: range outside archive")
	// ErrShortEntry reports an entry whose reader ended before its declared size.
	ErrShortEntry = errors.New("zipstream: entry shorter than its declared size")
	// ErrCRCMismatch reports an entry whose bytes do not match its declared
	// CRC-32. The archive already sent is corrupt; the connection should be
	// dropped so the client does not keep it.
	ErrCRCMismatch = errors.New("zipstream: entry bytes do not match declared CRC-32")
)

// Entry is one file of an archive.
type Entry struct {
	// Name is the path inside the archive. It is sanitised (no leading '/',
	// no '..' segments, no backslashes, no control characters) and made unique
	// deterministically: a second "a.jpg" becomes "a (2).jpg".
	Name string
	// Size is the entry's length in bytes; it is stored uncompressed.
	Size int64
	// CRC32 is the IEEE CRC-32 of the entry's bytes, known in advance.
	CRC32 uint32
	// Modified is the entry's modification time (stored as DOS time in UTC and,
	// when it fits, as a Unix extended timestamp). The zero time is stored as
	// 1980-01-01.
	Modified time.Time
	// Open returns the entry's bytes starting at offset. It is called only for
	// entries that a requested range overlaps, and never for empty entries.
	Open func(offset int64) (io.ReadCloser, error)
}

// limits are the points at which ZIP64 records are used. They are constants of
// the format; tests lower them to exercise the ZIP64 path without writing
// gigabytes.
type limits struct {
	max16 int64 // entry count at which the ZIP64 end records are needed
	max32 int64 // size or offset at which ZIP64 fields are needed
}

// The format's own limits: 16-bit entry counts and 32-bit sizes and offsets
// saturate at these values.
const (
	uint16Max = 0xFFFF
	uint32Max = 0xFFFFFFFF
)

// entry is an Entry with its place in the layout.
type entry struct {
	name      string
	size      int64
	crc       uint32
	dosDate   uint16
	dosTime   uint16
	mtime     uint32 // Unix seconds, valid when hasMtime
	hasMtime  bool
	zip64Size bool // sizes do not fit in 32 bits
	zip64Off  bool // local header offset does not fit in 32 bits
	open      func(offset int64) (io.ReadCloser, error)
	localOff  int64 // offset of the local file header
	dataOff   int64 // offset of the first data byte
	cdOff     int64 // offset of the central directory header
}

// Archive is the computed layout of a ZIP file. It holds no entry bytes and is
// safe for concurrent use by several writers as long as the entries' Open
// functions are.
type Archive struct {
	entries  []entry
	cdStart  int64 // offset of the central directory
	cdEnd    int64 // offset of the end records
	size     int64
	zip64End bool // ZIP64 end of central directory record and locator present
	etag     string
}

// New computes the layout of an archive holding entries in the given order.
func New(entries []Entry) (*Archive, error) {
	return build(entries, limits{max16: uint16Max, max32: uint32Max})
}

func build(entries []Entry, lim limits) (*Archive, error) {
	names, err := uniqueNames(entries)
	if err != nil {
		return nil, err
	}
	a := &Archive{entries: make([]entry, len(entries))}
	var off int64
	for i, src := range entries {
		if src.Size < 0 {
			return nil, fmt.Errorf("%w: %q has negative size %d", ErrInvalidEntry, names[i], src.Size)
		}
		if src.Open == nil && src.Size > 0 {
			return nil, fmt.Errorf("%w: %q has no Open function", ErrInvalidEntry, names[i])
		}
		e := &a.entries[i]
		e.name = names[i]
		e.size = src.Size
		e.crc = src.CRC32
		e.open = src.Open
		e.dosDate, e.dosTime = dosDateTime(src.Modified)
		e.mtime, e.hasMtime = unixTime(src.Modified)
		e.zip64Size = src.Size >= lim.max32
		e.zip64Off = off >= lim.max32
		e.localOff = off
		e.dataOff = off + localHeaderLen(e)
		if e.size > math.MaxInt64/2-e.dataOff {
			return nil, fmt.Errorf("%w: archive would be too large", ErrInvalidEntry)
		}
		off = e.dataOff + e.size
	}
	a.cdStart = off
	for i := range a.entries {
		e := &a.entries[i]
		e.cdOff = off
		off += centralHeaderLen(e) // bounded by name lengths: cannot overflow after the check above
	}
	a.cdEnd = off
	a.zip64End = int64(len(a.entries)) >= lim.max16 ||
		a.cdStart >= lim.max32 || a.cdEnd-a.cdStart >= lim.max32
	a.size = a.cdEnd + a.endLen()

	// The central directory and end records name every entry with its size,
	// CRC-32, times and offsets: they determine every byte of the archive, so
	// their hash is a strong validator. Writing them opens no entry.
	h := sha256.New()
	h.Write([]byte("zipstream/v1\n")) // hash.Hash.Write never fails
	if err := a.writeRange(h, a.cdStart, a.size); err != nil {
		return nil, err
	}
	a.etag = `"z1-` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`
	return a, nil
}

// Size returns the exact length of the archive in bytes.
func (a *Archive) Size() int64 { return a.size }

// ETag returns a strong HTTP entity tag derived from the entries' names, sizes,
// CRC-32s and times, quotes included.
func (a *Archive) ETag() string { return a.etag }

// Names returns the sanitised, de-duplicated entry names in archive order.
func (a *Archive) Names() []string {
	out := make([]string, len(a.entries))
	for i := range a.entries {
		out[i] = a.entries[i].name
	}
	return out
}

// dosDateTime encodes t (in UTC) as MS-DOS date and time; times outside the
// representable years 1980–2107 and the zero time become 1980-01-01 00:00.
func dosDateTime(t time.Time) (date, tm uint16) {
	t = t.UTC()
	if t.IsZero() || t.Year() < 1980 || t.Year() > 2107 {
		return 1<<5 | 1, 0
	}
	date = uint16((t.Year()-1980)<<9 | int(t.Month())<<5 | t.Day())
	tm = uint16(t.Hour()<<11 | t.Minute()<<5 | t.Second()/2)
	return date, tm
}

// unixTime returns t as Unix seconds when it fits the signed 32-bit field that
// most unzip implementations read from the extended timestamp.
func unixTime(t time.Time) (uint32, bool) {
	if t.IsZero() {
		return 0, false
	}
	s := t.Unix()
	if s < 0 || s > math.MaxInt32 {
		return 0, false
	}
	return uint32(s), true
}
