//go:build unix

package cmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// dataDirLock is an advisory flock(2) on <data dir>/photovault.lock. Every
// command that opens the vault holds it shared for as long as it runs;
// `keys rotate` takes it exclusive, so a rotation never runs next to a
// serve or an import that would keep wrapping new blobs with the old key,
// and nothing starts while one runs. The kernel drops the lock when the
// process ends, however it ends, so a crash never leaves it stuck.
type dataDirLock struct{ f *os.File }

// errDataDirBusy: the lock is held in a conflicting mode by another process.
var errDataDirBusy = errors.New("data dir is in use")

const dataDirLockName = "photovault.lock"

func lockDataDir(dir string, exclusive bool) (*dataDirLock, error) {
	// Read-only, so that a lock file created by another user (an admin
	// running a command as root) still opens.
	f, err := os.OpenFile(filepath.Join(dir, dataDirLockName), os.O_CREATE|os.O_RDONLY, 0o600) // #nosec G304 -- fixed name in the operator's data dir
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dataDirLockName, err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil { // #nosec G115 -- a file descriptor fits an int
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errDataDirBusy
		}
		return nil, fmt.Errorf("lock %s: %w", dataDirLockName, err)
	}
	return &dataDirLock{f: f}, nil
}

// Close releases the lock.
func (l *dataDirLock) Close() error {
	if l == nil {
		return nil
	}
	return l.f.Close()
}
