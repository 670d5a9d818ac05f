package imaging

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Kind names a media type accepted by PhotoVault. The string is stable and is
// stored in the database.
type Kind string

// Accepted kinds.
const (
	KindJPEG Kind = "jpeg"
	KindPNG  Kind = "png"
	KindGIF  Kind = "gif"
	KindWebP Kind = "webp"
	KindTIFF Kind = "tiff"
	KindHEIC Kind = "heic"
	KindAVIF Kind = "avif"
	KindDNG  Kind = "dng"
	KindRaw  Kind = "raw"
	KindMP4  Kind = "mp4"
	KindMOV  Kind = "mov"
)

// SniffLen is how many head bytes Sniff can use. 512 bytes are enough to
// recognise every kind; more lets it tell DNG and TIFF-based RAW files from
// plain TIFF (their first IFD must be inside the head) and widens the polyglot
// scan.
const SniffLen = 4096

// Detected is the outcome of Sniff: the kind and the exact content type to
// serve the original with.
type Detected struct {
	Kind        Kind
	ContentType string
	IsImage     bool // a still image, including RAW and DNG
	IsVideo     bool
	IsRaw       bool // camera RAW or DNG: previews come from the embedded JPEG
}

// Sniff decides the type of an upload from the first bytes of the stream only
// (pass at least 512 bytes when the file has them, up to SniffLen). It never
// looks at names. It returns an error wrapping ErrUnsupported for anything
// that is not an accepted image or video: HTML, SVG, XML, scripts, PDF,
// archives, executables, plain text, and polyglots — a head that starts like
// an image but carries markup or script, which a browser that ignores the
// declared type could execute.
func Sniff(head []byte) (Detected, error) {
	d, ok := sniffMagic(head)
	if !ok {
		return Detected{}, fmt.Errorf("%w: %s", ErrUnsupported, describeUnknown(head))
	}
	if tag := findMarkup(head); tag != "" {
		return Detected{}, fmt.Errorf("%w: %s head contains %q (polyglot)", ErrUnsupported, d.Kind, tag)
	}
	return d, nil
}

func still(k Kind, ct string) Detected {
	return Detected{Kind: k, ContentType: ct, IsImage: true}
}

func rawKind(k Kind, ct string) Detected {
	return Detected{Kind: k, ContentType: ct, IsImage: true, IsRaw: true}
}

func video(k Kind, ct string) Detected {
	return Detected{Kind: k, ContentType: ct, IsVideo: true}
}

const pngSignature = "\x89PNG\r\n\x1a\n"

// sniffMagic recognises the accepted kinds by their leading magic bytes.
func sniffMagic(h []byte) (Detected, bool) {
	switch {
	case len(h) >= 3 && h[0] == 0xFF && h[1] == 0xD8 && h[2] == 0xFF:
		return still(KindJPEG, "image/jpeg"), true
	case hasPrefix(h, pngSignature):
		return still(KindPNG, "image/png"), true
	case bytes.HasPrefix(h, []byte("GIF87a")), bytes.HasPrefix(h, []byte("GIF89a")):
		return still(KindGIF, "image/gif"), true
	case len(h) >= 16 && bytes.Equal(h[:4], []byte("RIFF")) && bytes.Equal(h[8:12], []byte("WEBP")):
		return still(KindWebP, "image/webp"), true
	case bytes.HasPrefix(h, []byte("FUJIFILMCCD-RAW")):
		return rawKind(KindRaw, "image/x-fuji-raf"), true
	case bytes.HasPrefix(h, []byte("IIRO")), bytes.HasPrefix(h, []byte("IIRS")), bytes.HasPrefix(h, []byte("MMOR")):
		return rawKind(KindRaw, "image/x-olympus-orf"), true
	case bytes.HasPrefix(h, []byte("IIU\x00")):
		return rawKind(KindRaw, "image/x-panasonic-rw2"), true
	case bytes.HasPrefix(h, []byte("II*\x00")), bytes.HasPrefix(h, []byte("MM\x00*")):
		return sniffTIFF(h), true
	case len(h) >= 12 && bytes.Equal(h[4:8], []byte("ftyp")):
		return sniffFtyp(h)
	case len(h) >= 8 && (bytes.Equal(h[4:8], []byte("moov")) || bytes.Equal(h[4:8], []byte("wide")) || bytes.Equal(h[4:8], []byte("mdat"))):
		// Old QuickTime files start with an atom other than ftyp.
		return video(KindMOV, "video/quicktime"), true
	}
	return Detected{}, false
}

// sniffTIFF tells DNG and TIFF-based RAW (CR2, NEF, ARW, PEF…) from plain
// TIFF by looking at IFD0, when it lies inside the head.
func sniffTIFF(h []byte) Detected {
	if len(h) >= 10 && h[0] == 'I' && h[8] == 'C' && h[9] == 'R' {
		return rawKind(KindRaw, "image/x-canon-cr2")
	}
	t, err := newTIFF(h)
	if err != nil {
		return still(KindTIFF, "image/tiff")
	}
	ifd, err := t.readIFD(t.first)
	if err != nil {
		return still(KindTIFF, "image/tiff")
	}
	if _, ok := ifd.find(tagDNGVersion); ok {
		return rawKind(KindDNG, "image/x-adobe-dng")
	}
	_, hasSub := ifd.find(tagSubIFDs)
	sub, _ := t.uintTag(ifd, tagNewSubfileType)
	if !hasSub && sub&1 == 0 {
		return still(KindTIFF, "image/tiff")
	}
	// Reduced-resolution IFD0 or sub-IFDs: a camera RAW.
	camMake, _ := t.stringTag(ifd, tagMake)
	mk := bytes.ToUpper([]byte(camMake))
	switch {
	case bytes.Contains(mk, []byte("NIKON")):
		return rawKind(KindRaw, "image/x-nikon-nef")
	case bytes.Contains(mk, []byte("SONY")):
		return rawKind(KindRaw, "image/x-sony-arw")
	case bytes.Contains(mk, []byte("PENTAX")), bytes.Contains(mk, []byte("RICOH")):
		return rawKind(KindRaw, "image/x-pentax-pef")
	case bytes.Contains(mk, []byte("CANON")):
		return rawKind(KindRaw, "image/x-canon-cr2")
	}
	return rawKind(KindRaw, "image/x-dcraw")
}

// sniffFtyp classifies ISO base media files by their brands.
func sniffFtyp(h []byte) (Detected, bool) {
	size := int(binary.BigEndian.Uint32(h[:4]))
	if size < 16 || size > len(h) {
		size = min(len(h), 64)
	}
	major := string(h[8:12])
	var brands []string
	brands = append(brands, major)
	for i := 16; i+4 <= size; i += 4 {
		brands = append(brands, string(h[i:i+4]))
	}
	has := func(set ...string) bool {
		for _, b := range brands {
			for _, s := range set {
				if b == s {
					return true
				}
			}
		}
		return false
	}
	switch {
	case major == "crx ":
		return rawKind(KindRaw, "image/x-canon-cr3"), true
	case major == "avif" || major == "avis":
		return still(KindAVIF, "image/avif"), true
	case major == "heic" || major == "heix" || major == "heim" || major == "heis" || major == "hevc" || major == "hevx":
		return still(KindHEIC, "image/heic"), true
	case major == "mif1" || major == "msf1":
		switch {
		case has("avif", "avis"):
			return still(KindAVIF, "image/avif"), true
		case has("heic", "heix", "heim", "heis", "hevc", "hevx"):
			return still(KindHEIC, "image/heic"), true
		}
		return still(KindHEIC, "image/heif"), true
	case major == "qt  ":
		return video(KindMOV, "video/quicktime"), true
	case has("isom", "iso2", "iso3", "iso4", "iso5", "iso6", "iso7", "iso8", "iso9",
		"mp41", "mp42", "avc1", "M4V ", "M4VH", "M4VP", "dash", "mmp4", "MSNV",
		"3gp4", "3gp5", "3gp6", "3g2a", "f4v "):
		if major == "M4A " || major == "M4B " || major == "M4P " {
			return Detected{}, false // audio only
		}
		return video(KindMP4, "video/mp4"), true
	}
	return Detected{}, false
}

// findMarkup returns the first markup tag found in h, or "". The tags are
// the byte sequences that make a file dangerous if a browser ever sniffs it
// as a document. They are matched case-insensitively and must be followed by
// a delimiter, which keeps random entropy-coded bytes from matching by
// chance.
func findMarkup(h []byte) string {
	markupTags := [...]string{
		"<script", "<html", "<svg", "<?php", "<!doctype", "<iframe", "<body",
		"<head", "<object", "<embed", "<meta", "<link", "<style", "<img", "<form",
		"<frameset", "<applet", "<base", "<xsl:stylesheet", "<?xml-stylesheet",
		"javascript:",
	}
	lower := bytes.ToLower(h)
	for _, tag := range markupTags {
		t := []byte(tag)
		off := 0
		for {
			i := bytes.Index(lower[off:], t)
			if i < 0 {
				break
			}
			end := off + i + len(t)
			if t[len(t)-1] == ':' || end == len(lower) || isDelimiter(lower[end]) {
				return tag
			}
			off = end
		}
	}
	return ""
}

func isDelimiter(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '>', '/':
		return true
	}
	return false
}

// describeUnknown names what an unrecognised head looks like, for the error
// text (never for a decision: anything unrecognised is refused).
func describeUnknown(h []byte) string {
	trim := bytes.TrimLeft(h, "\xef\xbb\xbf \t\r\n\f")
	low := bytes.ToLower(trim[:min(len(trim), 64)])
	switch {
	case len(h) == 0:
		return "empty"
	case bytes.HasPrefix(h, []byte("%PDF")):
		return "pdf"
	case bytes.HasPrefix(h, []byte("PK\x03\x04")), bytes.HasPrefix(h, []byte("PK\x05\x06")), bytes.HasPrefix(h, []byte("PK\x07\x08")):
		return "zip archive"
	case bytes.HasPrefix(h, []byte("\x1f\x8b")), bytes.HasPrefix(h, []byte("BZh")),
		bytes.HasPrefix(h, []byte("\xfd7zXZ\x00")), bytes.HasPrefix(h, []byte("7z\xbc\xaf\x27\x1c")),
		bytes.HasPrefix(h, []byte("Rar!")), bytes.HasPrefix(h, []byte("\x28\xb5\x2f\xfd")),
		len(h) >= 262 && bytes.Equal(h[257:262], []byte("ustar")):
		return "archive"
	case bytes.HasPrefix(h, []byte("\x7fELF")):
		return "elf executable"
	case bytes.HasPrefix(h, []byte("MZ")):
		return "pe executable"
	case len(h) >= 4 && (bytes.Equal(h[:4], []byte{0xfe, 0xed, 0xfa, 0xce}) || bytes.Equal(h[:4], []byte{0xfe, 0xed, 0xfa, 0xcf}) ||
		bytes.Equal(h[:4], []byte{0xce, 0xfa, 0xed, 0xfe}) || bytes.Equal(h[:4], []byte{0xcf, 0xfa, 0xed, 0xfe}) ||
		bytes.Equal(h[:4], []byte{0xca, 0xfe, 0xba, 0xbe})):
		return "mach-o executable or java class"
	case bytes.HasPrefix(h, []byte("#!")):
		return "script"
	case bytes.HasPrefix(low, []byte("<svg")), bytes.Contains(bytes.ToLower(h), []byte("<svg")):
		return "svg"
	case bytes.HasPrefix(low, []byte("<!doctype html")), bytes.HasPrefix(low, []byte("<html")), bytes.HasPrefix(low, []byte("<script")):
		return "html"
	case bytes.HasPrefix(low, []byte("<?xml")), bytes.HasPrefix(low, []byte("<")):
		return "xml or markup"
	case isText(h):
		return "text"
	}
	return "unknown binary"
}

func isText(h []byte) bool {
	for _, c := range h {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1b {
			return false
		}
	}
	return true
}
