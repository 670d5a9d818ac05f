// Package embed exposes the built web UI: the owner app (index.html), the
// client gallery shell (gallery.html) and their hashed assets under assets/.
//
// The files are produced by `npm --prefix web ci && npm --prefix web run build`
// and committed in dist/, so `go build` needs no node toolchain.
package embed

import (
	stdembed "embed"
	"fmt"
	"io/fs"
)

//go:embed all:dist
var dist stdembed.FS

// FS returns the built UI rooted at dist/: index.html, gallery.html and assets/….
// Asset names carry a content hash, so the server may cache /assets/ forever.
func FS() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		// fs.Sub fails only for an invalid path; "dist" is a constant valid path.
		panic(fmt.Sprintf("embed: sub dist: %v", err))
	}
	return sub
}
