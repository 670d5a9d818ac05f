package imaging

import "errors"

// Sentinel errors. Every error returned by this package wraps one of these (or
// an I/O error from the caller's reader), so callers map them with errors.Is:
// ErrUnsupported → 415, ErrPixelFlood → 422, ErrCorrupt → 422.
var (
	// ErrUnsupported reports bytes that are not an accepted image or video
	// type: markup, scripts, documents, archives, executables, polyglots, or a
	// type this package cannot process for the requested operation.
	ErrUnsupported = errors.New("imaging: unsupported type")
	// ErrPixelFlood reports an image whose declared dimensions exceed the
	// caller's pixel budget; it is returned before any full decode.
	ErrPixelFlood = errors.New("imaging: image dimensions too large")
	// ErrCorrupt reports a file whose structure could not be parsed or
	// decoded.
	ErrCorrupt = errors.New("imaging: corrupt or truncated image")
	// ErrWatermarkText reports watermark text that is empty once control
	// characters and surrounding space are removed (→ 400).
	ErrWatermarkText = errors.New("imaging: empty watermark text")
)
