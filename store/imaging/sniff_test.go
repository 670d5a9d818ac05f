package imaging

import (
	"archive/zip"
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"strings"
	"testing"
)

func pad(b []byte) []byte {
	// Uploads are sniffed with ≥ 512 bytes; fill with binary zeros.
	if len(b) >= 512 {
		return b
	}
	return append(append([]byte{}, b...), make([]byte, 512-len(b))...)
}

func ftyp(major string, compat ...string) []byte {
	p := [][]byte{[]byte(major), be32(0)}
	for _, c := range compat {
		p = append(p, []byte(c))
	}
	return pad(bmffBox("ftyp", p...))
}

func TestSniffAccepts(t *testing.T) {
	var gifBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, image.NewPaletted(image.Rect(0, 0, 4, 4), color.Palette{color.Black, color.White}), nil); err != nil {
		t.Fatal(err)
	}
	dng := buildTIFF([][]tEnt{{long(tagImageWidth, 8), long(tagImageLength, 8),
		{tag: tagDNGVersion, typ: 1, count: 4, val: []byte{1, 4, 0, 0}}}}, nil)
	nef := buildTIFF([][]tEnt{{long(tagNewSubfileType, 1), str(tagMake, "NIKON CORPORATION"),
		{tag: tagSubIFDs, typ: 4, count: 1, ref: "ifd", refIdx: []int{1}}}, {long(tagImageWidth, 8)}}, nil)
	arw := buildTIFF([][]tEnt{{long(tagNewSubfileType, 1), str(tagMake, "SONY")}}, nil)
	plainTIFF := buildTIFF([][]tEnt{{long(tagImageWidth, 8), long(tagImageLength, 8)}}, nil)
	mmTIFF := pad([]byte("MM\x00*\x00\x00\x00\x08"))
	cr2 := pad([]byte("II*\x00\x10\x00\x00\x00CR\x02\x00"))

	tests := []struct {
		name    string
		head    []byte
		kind    Kind
		ct      string
		image   bool
		video   bool
		raw     bool
		minimum bool // the bare magic, shorter than 512 bytes
	}{
		{"jpeg", makeJPEG(t, 16, 16), KindJPEG, "image/jpeg", true, false, false, false},
		{"jpeg magic only", []byte{0xFF, 0xD8, 0xFF, 0xE0}, KindJPEG, "image/jpeg", true, false, false, true},
		{"png", encodePNG(t, noiseImage(8, 8, 1)), KindPNG, "image/png", true, false, false, false},
		{"gif89a", gifBuf.Bytes(), KindGIF, "image/gif", true, false, false, false},
		{"gif87a", pad([]byte("GIF87a\x04\x00\x04\x00")), KindGIF, "image/gif", true, false, false, false},
		{"webp", pad([]byte("RIFF\x00\x10\x00\x00WEBPVP8 ")), KindWebP, "image/webp", true, false, false, false},
		{"tiff little-endian", pad(plainTIFF), KindTIFF, "image/tiff", true, false, false, false},
		{"tiff big-endian", mmTIFF, KindTIFF, "image/tiff", true, false, false, false},
		{"dng", pad(dng), KindDNG, "image/x-adobe-dng", true, false, true, false},
		{"nef", pad(nef), KindRaw, "image/x-nikon-nef", true, false, true, false},
		{"arw", pad(arw), KindRaw, "image/x-sony-arw", true, false, true, false},
		{"cr2", cr2, KindRaw, "image/x-canon-cr2", true, false, true, false},
		{"orf", pad([]byte("IIRO\x08\x00\x00\x00")), KindRaw, "image/x-olympus-orf", true, false, true, false},
		{"rw2", pad([]byte("IIU\x00\x08\x00\x00\x00")), KindRaw, "image/x-panasonic-rw2", true, false, true, false},
		{"raf", pad([]byte("FUJIFILMCCD-RAW 0201FF383501")), KindRaw, "image/x-fuji-raf", true, false, true, false},
		{"cr3", ftyp("crx ", "crx ", "isom"), KindRaw, "image/x-canon-cr3", true, false, true, false},
		{"heic", ftyp("heic", "mif1", "heic"), KindHEIC, "image/heic", true, false, false, false},
		{"heif mif1 heic", ftyp("mif1", "mif1", "heic"), KindHEIC, "image/heic", true, false, false, false},
		{"heif generic", ftyp("mif1", "mif1"), KindHEIC, "image/heif", true, false, false, false},
		{"avif", ftyp("avif", "mif1", "avif"), KindAVIF, "image/avif", true, false, false, false},
		{"avif via mif1", ftyp("mif1", "mif1", "avif"), KindAVIF, "image/avif", true, false, false, false},
		{"mp4", ftyp("isom", "isom", "iso2", "avc1", "mp41"), KindMP4, "video/mp4", false, true, false, false},
		{"mp4 mp42", ftyp("mp42", "mp42", "isom"), KindMP4, "video/mp4", false, true, false, false},
		{"mov", ftyp("qt  ", "qt  "), KindMOV, "video/quicktime", false, true, false, false},
		{"old mov", pad([]byte("\x00\x00\x00\x20moov")), KindMOV, "video/quicktime", false, true, false, false},
		{"jpeg with xmp packet", jpegWithXMP(t), KindJPEG, "image/jpeg", true, false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			head := tc.head
			if len(head) > SniffLen {
				head = head[:SniffLen]
			}
			if !tc.minimum && len(head) < 16 {
				t.Fatalf("fixture too short: %d", len(head))
			}
			d, err := Sniff(head)
			if err != nil {
				t.Fatalf("Sniff: %v", err)
			}
			want := Detected{Kind: tc.kind, ContentType: tc.ct, IsImage: tc.image, IsVideo: tc.video, IsRaw: tc.raw}
			if d != want {
				t.Fatalf("got %+v, want %+v", d, want)
			}
		})
	}
}

func jpegWithXMP(t *testing.T) []byte {
	j := makeJPEG(t, 16, 16)
	xmp := append(append([]byte{}, xmpPrefix...),
		[]byte(`<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta><?xpacket end="w"?>`)...)
	seg := []byte{0xFF, 0xE1, byte((len(xmp) + 2) >> 8), byte(len(xmp) + 2)}
	out := append([]byte{0xFF, 0xD8}, seg...)
	out = append(out, xmp...)
	return append(out, j[2:]...)
}

func TestSniffRejects(t *testing.T) {
	var zipBuf bytes.Buffer
	zw := zip.NewWriter(&zipBuf)
	f, _ := zw.Create("a.txt")
	f.Write([]byte("hello"))
	zw.Close()

	gifScript := append([]byte("GIF89a/*\x01\x01\x00\x00*/=1;"), []byte("<script>alert(document.domain)</script>")...)
	jpegSVG := append(makeJPEG(t, 8, 8)[:20:20], []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`)...)
	pngHTML := append(encodePNG(t, noiseImage(4, 4, 1))[:33:33], pngChunk("tEXt", []byte("c\x00<html><body>hi</body></html>"))...)
	mp4PHP := append(ftyp("isom", "isom")[:24:24], []byte("<?php system($_GET['c']); ?>")...)

	tests := []struct {
		name string
		head []byte
		why  string
	}{
		{"empty", nil, "empty"},
		{"html", []byte("<!DOCTYPE html><html><head><title>x</title></head><body></body></html>"), "html"},
		{"html with bom and space", []byte("\xef\xbb\xbf \n<html><script>alert(1)</script></html>"), "html"},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), "svg"},
		{"svg with xml prolog", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>`), "svg"},
		{"xml", []byte(`<?xml version="1.0"?><root/>`), "xml"},
		{"pdf", pad([]byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj")), "pdf"},
		{"zip", pad(zipBuf.Bytes()), "zip"},
		{"gzip", pad([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00")), "archive"},
		{"elf", pad([]byte("\x7fELF\x02\x01\x01\x00")), "elf"},
		{"pe", pad([]byte("MZ\x90\x00\x03\x00\x00\x00")), "pe"},
		{"mach-o", pad([]byte{0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1}), "mach-o"},
		{"shell script", []byte("#!/bin/sh\nrm -rf / --no-preserve-root\n"), "script"},
		{"plain text", []byte("just some notes about a photo shoot\n"), "text"},
		{"m4a audio", ftyp("M4A ", "M4A ", "mp42", "isom"), ""},
		{"jpeg 2000", pad([]byte("\x00\x00\x00\x0cjP  \r\n\x87\n")), ""},
		{"bigtiff", pad([]byte("II+\x00\x08\x00\x00\x00")), ""},
		{"polyglot gif with script", pad(gifScript), "polyglot"},
		{"polyglot jpeg with svg", pad(jpegSVG), "polyglot"},
		{"polyglot png with html chunk", pad(pngHTML), "polyglot"},
		{"polyglot mp4 with php", pad(mp4PHP), "polyglot"},
		{"polyglot uppercase SCRIPT", pad(append([]byte("GIF89a\x01\x00\x01\x00"), []byte("<SCRIPT SRC=//x>")...)), "polyglot"},
		{"polyglot javascript url", pad(append([]byte("\x89PNG\r\n\x1a\n"), []byte("javascript:alert(1)")...)), "polyglot"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Sniff(tc.head)
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("Sniff = %+v, %v; want ErrUnsupported", d, err)
			}
			if d != (Detected{}) {
				t.Fatalf("rejected head returned %+v", d)
			}
			if tc.why != "" && !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("error %q does not say %q", err, tc.why)
			}
		})
	}
}

func TestSniffNoFalsePolyglot(t *testing.T) {
	// Words that merely start like tags are not markup.
	head := pad(append([]byte("GIF89a\x01\x00\x01\x00"), []byte("<scripture> <svgx <headline")...))
	if _, err := Sniff(head); err != nil {
		t.Fatalf("Sniff: %v", err)
	}
}
