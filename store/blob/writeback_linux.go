//go:build linux

package blob

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to begin writing [off, off+n) of f to disk
// without waiting (sync_file_range SYNC_FILE_RANGE_WRITE). Disk writes then
// overlap encryption, so the fsync in Commit waits only for the tail, and a
// large upload does not pile up dirty pages. It is only a hint: Commit's
// fsync is what makes the file durable, so errors are ignored.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
