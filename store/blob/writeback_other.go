//go:build !linux

package blob

import "os"

// startWriteback is a no-op where sync_file_range does not exist; Commit's
// fsync alone makes the file durable.
func startWriteback(*os.File, int64, int64) {}
