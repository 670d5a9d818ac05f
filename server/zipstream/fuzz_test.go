package zipstream

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzSanitizeName checks the zip-slip invariants of entry names and the
// header safety of the Content-Disposition built from the same text.
func FuzzSanitizeName(f *testing.F) {
	for _, s := range []string{"a.jpg", "../../x", `C:\x\..\y`, "/abs", "a\x00b\nc", "\u202egpj.exe", "CON", ". . /..  /x", "é\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := sanitizeName(in)
		if out == "" || !utf8.ValidString(out) || strings.HasPrefix(out, "/") || strings.ContainsAny(out, "\\:") {
			t.Fatalf("sanitizeName(%q) = %q", in, out)
		}
		for seg := range strings.SplitSeq(out, "/") {
			if seg == "" || seg == "." || seg == ".." || strings.HasSuffix(seg, ".") || strings.HasSuffix(seg, " ") ||
				len(seg) > maxSegmentBytes {
				t.Fatalf("sanitizeName(%q) = %q: bad segment %q", in, out, seg)
			}
		}
		for _, r := range out {
			if unicode.IsControl(r) || isBidiControl(r) {
				t.Fatalf("sanitizeName(%q) = %q keeps %U", in, out, r)
			}
		}
		if again := sanitizeName(out); again != out {
			t.Fatalf("not idempotent: %q → %q → %q", in, out, again)
		}

		cd := contentDisposition(in)
		if strings.ContainsAny(cd, "\r\n\x00") || strings.Count(cd, `"`) != 2 || !utf8.ValidString(cd) {
			t.Fatalf("contentDisposition(%q) = %q", in, cd)
		}
		for i := 0; i < len(cd); i++ {
			if cd[i] < 0x20 || cd[i] >= 0x7f {
				t.Fatalf("contentDisposition(%q) has byte %#x", in, cd[i])
			}
		}
	})
}

// FuzzParseRange checks that every accepted range lies inside the archive.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-9", "bytes=-5", "bytes=5-", "bytes=9-3", "bytes=0-1,2-3", "bytes=99999999999999999999-", "BYTES = 1 - 2"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, header string, size int64) {
		if size <= 0 {
			return // archives are never empty (the end record alone is 22 bytes)
		}
		start, length, res := parseRange(header, size)
		if res == rangeOK && (start < 0 || length < 1 || start > size-length) {
			t.Fatalf("parseRange(%q, %d) = %d+%d", header, size, start, length)
		}
	})
}
