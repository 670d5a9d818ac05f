// Package imaging is PhotoVault's pure-Go image intelligence for uploads and
// deliveries.
//
// It answers four questions about untrusted bytes without ever trusting a
// file name:
//
//   - What is it? Sniff decides the type from the head of the stream and
//     refuses HTML, SVG, scripts, PDFs, archives, executables and polyglots
//     (an image header followed by markup), so nothing a browser could run is
//     ever stored as a photo (SECURITY.md #13).
//   - How big is it? Probe reads only the header (a config decode, or TIFF IFD
//     and ISOBMFF box parsing) and refuses pixel floods before any full decode.
//   - What does it say about itself? ReadMeta extracts capture time, camera,
//     lens, orientation and GPS from EXIF on a best-effort basis.
//   - What do we show? Derive decodes once and makes a 2048 px preview and a
//     400 px thumbnail with an own separable Catmull-Rom resampler that works on
//     the decoded YCbCr planes (no full-resolution RGBA copy). Baseline and
//     progressive JPEGs are decoded by jpegscale in the DCT domain at the smallest of 1/8, 1/4
//     and 1/2 that still covers the preview (a 24 MP photo in a third of
//     image/jpeg's time); everything else by the standard decoders. StripLocation
//     removes GPS, serial numbers, XMP and IPTC from a JPEG while copying the
//     compressed pixels verbatim, and Watermark stamps proof text on a preview.
//
// RAW and DNG files are previewed from their largest embedded JPEG. HEIC is
// decoded with github.com/gen2brain/heic (libheif compiled to WASM, run by
// wazero: slow — 3 s and 345 MB RSS for 12 MP, 13 s and 910 MB for 48 MP —
// but memory-safe; capped at MaxHEICPixels). Build the binary with
// `-tags nodynamic`: otherwise that package loads a system libheif.so
// through purego when one is installed, running native C on untrusted
// input. AVIF and video have no decoder here; Derive returns ErrUnsupported
// and the caller stores a placeholder.
//
// Every function is safe for concurrent use; the package holds no mutable
// state.
package imaging
