//go:build !unix

package cmd

import "errors"

// dataDirLock is a no-op where flock(2) does not exist; `keys rotate` then
// relies on the kv directory lock alone to detect a running serve.
type dataDirLock struct{}

var errDataDirBusy = errors.New("data dir is in use")

const dataDirLockName = "photovault.lock"

func lockDataDir(string, bool) (*dataDirLock, error) { return &dataDirLock{}, nil }

func (*dataDirLock) Close() error { return nil }
