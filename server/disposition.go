package server

import (
	"strings"
	"unicode"
)

// disposition builds a Content-Disposition of the given kind (inline or
// attachment) for a user-supplied filename, reduced by safeFilename first;
// attachment() in media.go does the RFC 6266 / 5987 encoding.
func disposition(kind, name string) string {
	return kind + strings.TrimPrefix(attachment(safeFilename(name)), "attachment")
}

// safeFilename reduces a display name to its last path element without
// control or bidi-override characters (SECURITY.md #14), e.g. for names of
// delivered files and ZIP entries.
func safeFilename(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == 0x7f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(strings.Trim(name, "."))
	if name == "" {
		name = "download"
	}
	return name
}
