package zipstream

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Serve answers a GET or HEAD request with the archive as an attachment named
// filename (".zip" is appended when missing).
//
// It honours a single byte range (206 with Content-Range; 416 with
// "Content-Range: bytes */size" when unsatisfiable; several ranges or a
// malformed header are ignored and the whole archive is sent), If-Range with
// the strong ETag (a mismatch or a date sends the whole archive) and
// If-None-Match (304). It always sets Content-Length, Accept-Ranges, ETag,
// Content-Type application/zip, nosniff and an RFC 6266 Content-Disposition.
// Other methods get 405.
//
// The returned error, if any, happened after the status line was sent (an
// entry failed to open or read, or the client went away): log it, do not try
// to write an error response. The connection ends short of Content-Length, so
// the client knows the download is incomplete and can resume it.
func (a *Archive) Serve(w http.ResponseWriter, r *http.Request, filename string) error {
	h := w.Header()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return nil
	}
	h.Set("Accept-Ranges", "bytes")
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")

	if inm := r.Header.Get("If-None-Match"); inm != "" && etagListMatches(inm, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}

	start, length, status := int64(0), a.size, http.StatusOK
	if rh := r.Header.Get("Range"); rh != "" && ifRangeAllows(r.Header.Get("If-Range"), a.etag) {
		s, l, res := parseRange(rh, a.size)
		switch res {
		case rangeOK:
			start, length, status = s, l, http.StatusPartialContent
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", s, s+l-1, a.size))
		case rangeUnsatisfiable:
			h.Set("Content-Range", fmt.Sprintf("bytes */%d", a.size))
			http.Error(w, "requested range not satisfiable", http.StatusRequestedRangeNotSatisfiable)
			return nil
		}
	}
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", contentDisposition(filename))
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return nil
	}
	return a.WriteRange(w, start, length)
}

type rangeResult int

const (
	rangeIgnore rangeResult = iota // absent, malformed, other unit or several ranges
	rangeOK
	rangeUnsatisfiable
)

// parseRange interprets a Range header against a representation of size
// bytes (RFC 9110 section 14). Only a single byte range is served; anything
// else is ignored, which the RFC permits.
func parseRange(header string, size int64) (start, length int64, res rangeResult) {
	unit, spec, ok := strings.Cut(header, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return 0, 0, rangeIgnore
	}
	spec = strings.TrimSpace(spec)
	if strings.Contains(spec, ",") {
		return 0, 0, rangeIgnore
	}
	first, last, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, 0, rangeIgnore
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	if first == "" { // suffix range: the last N bytes
		n, ok := parseDigits(last)
		if !ok {
			return 0, 0, rangeIgnore
		}
		if n == 0 {
			return 0, 0, rangeUnsatisfiable
		}
		n = min(n, size)
		return size - n, n, rangeOK
	}
	s, ok := parseDigits(first)
	if !ok {
		return 0, 0, rangeIgnore
	}
	e := int64(-1)
	if last != "" {
		if e, ok = parseDigits(last); !ok || e < s {
			return 0, 0, rangeIgnore
		}
	}
	if s >= size {
		return 0, 0, rangeUnsatisfiable
	}
	if e < 0 || e >= size {
		e = size - 1
	}
	return s, e - s + 1, rangeOK
}

// parseDigits parses a non-empty run of ASCII digits, saturating at the
// largest int64 (a position beyond any archive is still a position).
func parseDigits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<63-1-int64(c-'0'))/10 {
			n = 1<<63 - 1
			continue
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// ifRangeAllows reports whether a Range header may be honoured given an
// If-Range value: absent, or exactly our strong ETag. Weak tags never match
// (strong comparison) and dates never match because the archive has no
// Last-Modified.
func ifRangeAllows(ifRange, etag string) bool {
	ifRange = strings.TrimSpace(ifRange)
	return ifRange == "" || ifRange == etag
}

// etagListMatches applies the weak comparison of If-None-Match.
func etagListMatches(list, etag string) bool {
	list = strings.TrimSpace(list)
	if list == "*" {
		return true
	}
	for tag := range strings.SplitSeq(list, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == etag {
			return true
		}
	}
	return false
}

// contentDisposition builds an RFC 6266 attachment header: a quoted ASCII
// fallback for old clients and the exact UTF-8 name in filename*. Path
// separators, quotes, backslashes, percent signs and control characters never
// reach the header (threats: header splitting, a quoted-string escape, path
// components in the saved name, percent-decoding by some browsers).
func contentDisposition(filename string) string {
	name := strings.ToValidUTF8(filename, "_")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || isBidiControl(r) {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if name == "" || strings.Trim(name, ".") == "" {
		name = "download"
	}
	if !strings.HasSuffix(strings.ToLower(name), ".zip") {
		name += ".zip"
	}

	var ascii, ext strings.Builder
	for _, r := range name {
		switch {
		case r >= 0x20 && r < 0x7f && r != '"' && r != '\\' && r != '%':
			ascii.WriteRune(r)
		default:
			ascii.WriteByte('_')
		}
	}
	var enc [utf8.UTFMax]byte
	for _, r := range name {
		n := utf8.EncodeRune(enc[:], r)
		for _, c := range enc[:n] {
			if isAttrChar(c) {
				ext.WriteByte(c)
			} else {
				fmt.Fprintf(&ext, "%%%02X", c)
			}
		}
	}
	return `attachment; filename="` + ascii.String() + `"; filename*=UTF-8''` + ext.String()
}

// isAttrChar reports RFC 8187 attr-char: bytes allowed unencoded in filename*.
func isAttrChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}
