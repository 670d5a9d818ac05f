package imaging

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Values written by exiftool into fixtures; the serials are canaries that
// must never survive StripLocation.
const (
	fixLat        = 48.858370
	fixLon        = -2.294481 // west, to check the sign
	fixBodySerial = "BODYSN123456"
	fixLensSerial = "LENSSN987654"
	fixCamSerial  = "CAMSN5555555"
)

// exifTagArgs are the exiftool arguments for a fully tagged photo.
func exifTagArgs() []string {
	return []string{
		"-overwrite_original", "-q",
		"-Make=Canon", "-Model=Canon EOS R5",
		"-LensModel=RF24-70mm F2.8 L IS USM",
		"-SerialNumber=" + fixBodySerial,
		"-LensSerialNumber=" + fixLensSerial,
		"-CameraSerialNumber=" + fixCamSerial,
		"-Orientation#=6",
		"-DateTimeOriginal=2024:06:01 12:34:56",
		"-OffsetTimeOriginal=+02:00",
		"-SubSecTimeOriginal=25",
		"-GPSLatitude=48.858370", "-GPSLatitudeRef=N",
		"-GPSLongitude=2.294481", "-GPSLongitudeRef=W",
		"-GPSAltitude=35", "-GPSAltitudeRef=0",
	}
}

// taggedJPEG writes a generated JPEG, tags it with exiftool (EXIF, GPS,
// serials, XMP with GPS, IPTC with a city) and returns its path.
func taggedJPEG(t *testing.T, w, h int) string {
	t.Helper()
	et := needTool(t, "exiftool")
	p := writeFile(t, t.TempDir(), "tagged.jpg", makeJPEG(t, w, h))
	args := append(exifTagArgs(),
		"-XMP-exif:GPSLatitude=48.858370 N", "-XMP-exif:GPSLongitude=2.294481 W",
		"-XMP-dc:Description=Shot at the tower",
		"-IPTC:City=Paris", "-IPTC:Country-PrimaryLocationName=France",
		p)
	run(t, et, args...)
	return p
}

// exiftoolJSON returns exiftool's view of a file: group:tag → value.
func exiftoolJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	out := run(t, needTool(t, "exiftool"), "-j", "-a", "-G1", "-n", path)
	var v []map[string]any
	if err := json.Unmarshal(out, &v); err != nil || len(v) != 1 {
		t.Fatalf("exiftool json: %v\n%s", err, out)
	}
	return v[0]
}

func TestReadMetaJPEGFromExiftool(t *testing.T) {
	p := taggedJPEG(t, 64, 48)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := ReadMeta(f, Detected{Kind: KindJPEG, ContentType: "image/jpeg", IsImage: true})
	if err != nil {
		t.Fatalf("ReadMeta: %v", err)
	}
	want := time.Date(2024, 6, 1, 10, 34, 56, 250_000_000, time.UTC)
	if !m.TakenAt.Equal(want) {
		t.Errorf("TakenAt = %v, want %v", m.TakenAt, want)
	}
	if m.Camera != "Canon EOS R5" {
		t.Errorf("Camera = %q", m.Camera)
	}
	if m.Lens != "RF24-70mm F2.8 L IS USM" {
		t.Errorf("Lens = %q", m.Lens)
	}
	if m.Orientation != 6 || m.Width != 48 || m.Height != 64 {
		t.Errorf("Orientation %d, display %dx%d; want 6, 48x64", m.Orientation, m.Width, m.Height)
	}
	if !m.HasGPS || math.Abs(m.Lat-fixLat) > 1e-5 || math.Abs(m.Lon-fixLon) > 1e-5 {
		t.Errorf("GPS = %v %f %f", m.HasGPS, m.Lat, m.Lon)
	}
}

func TestReadMetaWithoutExif(t *testing.T) {
	j := makeJPEG(t, 40, 30)
	m, err := ReadMeta(bytes.NewReader(j), detect(t, j))
	if err != nil {
		t.Fatal(err)
	}
	if m.Orientation != 1 || m.Width != 40 || m.Height != 30 || m.HasGPS || !m.TakenAt.IsZero() || m.Camera != "" {
		t.Fatalf("unexpected meta %+v", m)
	}
	// EXIF that does not parse is not an error either.
	bad := append([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x0C}, []byte("Exif\x00\x00XXXX")...)
	bad = append(bad, j[2:]...)
	m, err = ReadMeta(bytes.NewReader(bad), detect(t, bad))
	if err != nil || m.Width != 40 || m.Orientation != 1 {
		t.Fatalf("corrupt exif: %+v %v", m, err)
	}
}

func TestReadMetaOtherContainers(t *testing.T) {
	et := needTool(t, "exiftool")
	conv := needTool(t, "convert")
	dir := t.TempDir()
	src := writeFile(t, dir, "src.png", encodePNG(t, noiseImage(60, 40, 9)))
	for _, ext := range []string{"png", "tiff", "webp", "heic"} {
		t.Run(ext, func(t *testing.T) {
			p := filepath.Join(dir, "img."+ext)
			run(t, conv, src, p)
			run(t, et, append(exifTagArgs(), p)...)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			d := detect(t, data)
			m, err := ReadMeta(bytes.NewReader(data), d)
			if err != nil {
				t.Fatalf("ReadMeta: %v", err)
			}
			if !m.HasGPS || math.Abs(m.Lat-fixLat) > 1e-5 || math.Abs(m.Lon-fixLon) > 1e-5 {
				t.Errorf("GPS = %v %f %f", m.HasGPS, m.Lat, m.Lon)
			}
			if m.Camera != "Canon EOS R5" {
				t.Errorf("Camera = %q", m.Camera)
			}
			if m.TakenAt.IsZero() {
				t.Errorf("TakenAt missing")
			}
			wantO, ww, wh := 6, 40, 60
			if d.Kind == KindHEIC {
				// HEIF orientation is irot, applied by the decoder; EXIF
				// orientation is informational and must not be applied
				// twice.
				wantO, ww, wh = 1, 60, 40
			}
			if m.Orientation != wantO || m.Width != ww || m.Height != wh {
				t.Errorf("orientation %d %dx%d, want %d %dx%d", m.Orientation, m.Width, m.Height, wantO, ww, wh)
			}
		})
	}
}

func TestReadMetaHEICRotation(t *testing.T) {
	h := heifHeaderOnly("heic", 4032, 3024, 1) // irot 90° anticlockwise
	m, err := ReadMeta(bytes.NewReader(h), detect(t, pad(h)))
	if err != nil {
		t.Fatal(err)
	}
	if m.Width != 3024 || m.Height != 4032 || m.Orientation != 1 {
		t.Fatalf("got %+v", m)
	}
}

func TestParseExifTime(t *testing.T) {
	tests := []struct {
		s, off, sub string
		want        time.Time
	}{
		{"2024:06:01 12:34:56", "", "", time.Date(2024, 6, 1, 12, 34, 56, 0, time.UTC)},
		{"2024:06:01 12:34:56", "-05:00", "", time.Date(2024, 6, 1, 17, 34, 56, 0, time.UTC)},
		{"2024:06:01 12:34:56", "+00:00", "5", time.Date(2024, 6, 1, 12, 34, 56, 500_000_000, time.UTC)},
		{"0000:00:00 00:00:00", "", "", time.Time{}},
		{"    :  :     :  :  ", "", "", time.Time{}},
		{"garbage", "", "", time.Time{}},
	}
	for _, tc := range tests {
		if got := parseExifTime(tc.s, tc.off, tc.sub); !got.Equal(tc.want) {
			t.Errorf("parseExifTime(%q,%q,%q) = %v, want %v", tc.s, tc.off, tc.sub, got, tc.want)
		}
	}
}

func TestCameraName(t *testing.T) {
	for _, tc := range [][3]string{
		{"Canon", "Canon EOS R5", "Canon EOS R5"},
		{"NIKON CORPORATION", "NIKON Z 8", "NIKON Z 8"},
		{"SONY", "ILCE-7M4", "SONY ILCE-7M4"},
		{"", "X100V", "X100V"},
		{"FUJIFILM", "", "FUJIFILM"},
	} {
		if got := cameraName(tc[0], tc[1]); got != tc[2] {
			t.Errorf("cameraName(%q,%q) = %q", tc[0], tc[1], got)
		}
	}
}
