package cmd

// LockDataDir exposes the data dir lock to the black-box tests, which
// hold it to stand for another running command.
func LockDataDir(dir string, exclusive bool) (interface{ Close() error }, error) {
	return lockDataDir(dir, exclusive)
}
