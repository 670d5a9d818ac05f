// Package jpegscale decodes baseline JPEGs at 1/2, 1/4 or 1/8 of their size
// (or full size) in the DCT domain, the way libjpeg's "scaled IDCT" and
// libvips' shrink-on-load do: every coefficient is still entropy-decoded,
// but each 8×8 block is inverse-transformed straight to 4×4, 2×2 or 1×1
// pixels from its low-frequency coefficients. A 24 MP photo decoded at 1/2
// for a 2048 px preview thus costs a quarter of the IDCT work and a quarter
// of the pixel memory of a full decode.
//
// Scope: 8-bit Huffman JPEGs, sequential (SOF0, SOF1: one interleaved scan)
// or progressive (SOF2: any number of scans, spectral selection and
// successive approximation), with one component (gray) or three (YCbCr),
// the chroma sampled 1×1 and luma 1×1, 2×1, 2×2, 1×2, 4×1 or 4×2 (the
// subsample ratios image.YCbCr knows), with or without restart markers.
// A progressive image keeps only the coefficients its scale needs between
// scans (40 bytes a block at 1/2, where image/jpeg keeps 256). Everything
// else — arithmetic coding, 12-bit, lossless, CMYK/YCCK, Adobe RGB,
// sequential files with one scan per component — returns ErrUnsupported,
// and the caller decodes it with image/jpeg instead. Written from ITU-T
// T.81 (the JPEG standard).
package jpegscale
