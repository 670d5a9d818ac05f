// Package jpegscale decodes baseline JPEGs at 1/2, 1/4 or 1/8 of their size
// (or full size) in the DCT domain, the way libjpeg's "scaled IDCT" and
// libvips' shrink-on-load do: every coefficient is still entropy-decoded,
// but each 8×8 block is inverse-transformed straight to 4×4, 2×2 or 1×1
// pixels from its low-frequency coefficients. A 24 MP photo decoded at 1/2
// for a 2048 px preview thus costs a quarter of the IDCT work and a quarter
// of the pixel memory of a full decode.
//
// Scope: 8-bit sequential Huffman JPEGs (SOF0, SOF1) with one component
// (gray) or three (YCbCr) in one interleaved scan, the chroma sampled 1×1
// and luma 1×1, 2×1, 2×2, 1×2, 4×1 or 4×2 (the subsample ratios image.YCbCr
// knows), with or without restart markers. Everything else — progressive,
// arithmetic, 12-bit, lossless, CMYK/YCCK, Adobe RGB, non-interleaved
// scans — returns ErrUnsupported, and the caller decodes it with
// image/jpeg instead. Written from ITU-T T.81 (the JPEG standard).
package jpegscale
