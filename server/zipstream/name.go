package zipstream

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

const (
	maxSegmentBytes = 200 // leaves room for " (N)" under the common 255-byte file name limit
	maxExtBytes     = 16
	fallbackName    = "file"
)

// uniqueNames sanitises every entry name and makes the results unique.
//
// Uniqueness ignores case and Unicode normalisation, because the archive is
// unpacked on macOS and Windows, where "IMG.jpg", "img.JPG" and the NFD
// spelling of "é" name one file and a later entry would silently overwrite an
// earlier one. Later duplicates get " (2)", " (3)"… before the extension, in
// entry order, so the result is deterministic.
func uniqueNames(entries []Entry) ([]string, error) {
	names := make([]string, len(entries))
	used := make(map[string]bool, len(entries))
	next := make(map[string]int) // per duplicated key: the next suffix to try
	for i, e := range entries {
		name := sanitizeName(e.Name)
		key := nameKey(name)
		if used[key] {
			k := max(next[key], 2)
			for {
				cand := withSuffix(name, k)
				if ck := nameKey(cand); !used[ck] {
					name, next[key] = cand, k+1
					key = ck
					break
				}
				k++
			}
		}
		if len(name) > uint16Max {
			return nil, fmt.Errorf("%w: name of entry %d is %d bytes long", ErrInvalidEntry, i, len(name))
		}
		used[key] = true
		names[i] = name
	}
	return names, nil
}

func nameKey(name string) string {
	return strings.ToLower(norm.NFC.String(name))
}

// sanitizeName turns an arbitrary display name into a safe relative path.
//
// Threats countered (zip slip and friends, in the extracting client's
// machine): absolute paths, "../" traversal, Windows separators and drive
// letters ("C:\x", "..\x"), segments that Windows trims to ".." (".. ", "..."),
// NTFS alternate streams ("a.jpg:x"), reserved device names (CON, NUL…),
// control characters (terminal escapes, line breaks in listings) and bidi
// overrides that disguise an extension ("gpj.exe").
func sanitizeName(s string) string {
	s = strings.ToValidUTF8(s, "_")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\\':
			return '/'
		case unicode.IsControl(r), isBidiControl(r):
			return '_'
		case strings.ContainsRune(`<>:"|?*`, r):
			return '_'
		}
		return r
	}, s)
	var segs []string
	for seg := range strings.SplitSeq(s, "/") {
		// Windows drops trailing dots and spaces, so "..." or ".. " would
		// become "..": trim them here and drop what is left empty.
		seg = strings.TrimRight(truncateSegment(strings.TrimSpace(seg)), ". ")
		if seg == "" {
			continue
		}
		if isWindowsDevice(seg) {
			seg = "_" + seg
		}
		segs = append(segs, seg)
	}
	if len(segs) == 0 {
		return fallbackName
	}
	return strings.Join(segs, "/")
}

func isBidiControl(r rune) bool {
	return r == 0x061C || r == 0x200E || r == 0x200F ||
		(r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}

// isWindowsDevice reports names such as "CON" or "nul.jpg" that Windows maps
// to devices whatever their extension.
func isWindowsDevice(seg string) bool {
	base, _, _ := strings.Cut(seg, ".")
	base = strings.ToUpper(strings.TrimSpace(base))
	switch base {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(base) == 4 && (strings.HasPrefix(base, "COM") || strings.HasPrefix(base, "LPT")) {
		return base[3] >= '0' && base[3] <= '9'
	}
	return false
}

// splitExt splits a segment into base and extension ("a.jpg" → "a", ".jpg").
// A leading dot is not an extension, nor is an implausibly long tail.
func splitExt(seg string) (string, string) {
	i := strings.LastIndexByte(seg, '.')
	if i <= 0 || len(seg)-i > maxExtBytes {
		return seg, ""
	}
	return seg[:i], seg[i:]
}

// truncateSegment keeps a segment within maxSegmentBytes, cutting the base on
// a rune boundary and keeping the extension.
func truncateSegment(seg string) string {
	if len(seg) <= maxSegmentBytes {
		return seg
	}
	base, ext := splitExt(seg)
	limit := maxSegmentBytes - len(ext)
	for limit > 0 && !utf8.RuneStart(base[limit]) {
		limit--
	}
	return base[:limit] + ext
}

// withSuffix inserts " (k)" before the extension of the last segment.
func withSuffix(name string, k int) string {
	dir, last := "", name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		dir, last = name[:i+1], name[i+1:]
	}
	base, ext := splitExt(last)
	return dir + base + " (" + strconv.Itoa(k) + ")" + ext
}
