package blob

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Store keeps encrypted blobs under root/blobs/xx/yy/<id> and in-flight
// writes in a separate temp directory. It is safe for concurrent use.
type Store struct {
	root     string // the directory holding blobs/
	blobsDir string
	tmpDir   string
	chunkExp uint8
	random   io.Reader // crypto/rand.Reader; tests substitute a seeded stream
	// writeback is how many written bytes trigger early writeback of a
	// temp file (see startWriteback); 0 turns it off.
	writeback int64
	bufs      sync.Pool // *[]byte of chunkSize+tagLen, shared by writers and readers
}

// New returns a Store rooted at root, creating root/blobs and tmpDir
// (mode 0700) when missing. tmpDir must be on the same filesystem as root,
// since Commit renames from one to the other.
func New(root, tmpDir string) (*Store, error) {
	return newStore(root, tmpDir, defaultChunkExp)
}

// newStore is New with a chosen chunk size, so tests can use small chunks.
func newStore(root, tmpDir string, chunkExp uint8) (*Store, error) {
	if root == "" || tmpDir == "" {
		return nil, errors.New("blob: root and temp directory must be set")
	}
	if chunkExp < minChunkExp || chunkExp > maxChunkExp {
		return nil, fmt.Errorf("blob: chunk size exponent %d out of range", chunkExp)
	}
	s := &Store{
		root:      root,
		blobsDir:  filepath.Join(root, blobsDirName),
		tmpDir:    tmpDir,
		chunkExp:  chunkExp,
		random:    rand.Reader,
		writeback: defaultWriteback,
	}
	for _, d := range []string{s.blobsDir, s.tmpDir} {
		// #nosec G703 -- the operator's configured data directories, not request input.
		if err := os.MkdirAll(d, dirPerm); err != nil {
			return nil, fmt.Errorf("blob: create directory: %w", err)
		}
	}
	return s, nil
}

// getBuf returns a buffer of exactly size bytes capacity, pooled when it is
// the store's own chunk size.
func (s *Store) getBuf(size int) *[]byte {
	if size == 1<<s.chunkExp+tagLen {
		if b, ok := s.bufs.Get().(*[]byte); ok {
			return b
		}
	}
	b := make([]byte, size)
	return &b
}

// putBuf returns b to the pool after wiping it, so plaintext does not
// linger in recycled memory longer than needed.
func (s *Store) putBuf(b *[]byte) {
	if b == nil {
		return
	}
	clear(*b)
	if len(*b) == 1<<s.chunkExp+tagLen {
		s.bufs.Put(b)
	}
}

// Path returns the file path of blob id, or "" when id is not a valid id.
// Meant for tests, backups and verification tools.
func (s *Store) Path(id string) string {
	if !ValidID(id) {
		return ""
	}
	return filepath.Join(s.blobsDir, id[0:2], id[2:4], id)
}

// Exists reports whether a committed blob file exists for id.
func (s *Store) Exists(id string) bool {
	p := s.Path(id)
	if p == "" {
		return false
	}
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}

// Delete removes blob id. Deleting a blob that does not exist is not an
// error, so the collector can retry safely after a crash.
func (s *Store) Delete(id string) error {
	p := s.Path(id)
	if p == "" {
		return fmt.Errorf("blob: delete: %w: %q", ErrInvalidID, id)
	}
	err := os.Remove(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("blob: delete %s: %w", id, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("blob: delete %s: %w", id, err)
	}
	return nil
}

// Rewrap re-encrypts ref's data key from one KEK to another and returns the
// updated Ref. The blob file is not touched: rotation rewrites rows only.
func (s *Store) Rewrap(ref Ref, from, to KEK) (Ref, error) {
	if !ValidID(ref.ID) {
		return Ref{}, fmt.Errorf("blob: rewrap: %w: %q", ErrInvalidID, ref.ID)
	}
	if err := checkKEK(to); err != nil {
		return Ref{}, fmt.Errorf("blob: rewrap %s: %w", ref.ID, err)
	}
	var dk [32]byte
	defer clear(dk[:])
	if err := unwrapKey(from, ref, &dk); err != nil {
		return Ref{}, fmt.Errorf("blob: rewrap: %w", err)
	}
	wk, err := wrapKey(s.random, to, ref.ID, &dk)
	if err != nil {
		return Ref{}, fmt.Errorf("blob: rewrap %s: %w", ref.ID, err)
	}
	out := ref
	out.KeyID = to.ID
	out.WrappedKey = wk
	return out, nil
}

// Walk calls fn for every committed blob with its file modification time,
// in lexical order. Files that are not named like blobs in the right
// place are skipped. If fn returns fs.SkipAll, Walk stops and returns nil;
// any other error stops the walk and is returned unchanged.
func (s *Store) Walk(fn func(id string, modTime time.Time) error) error {
	l1, err := readDirNames(s.blobsDir)
	if err != nil {
		return fmt.Errorf("blob: walk: %w", err)
	}
	for _, a := range l1 {
		if !isHexPair(a) {
			continue
		}
		l2, err := readDirNames(filepath.Join(s.blobsDir, a))
		if err != nil {
			return fmt.Errorf("blob: walk: %w", err)
		}
		for _, b := range l2 {
			if !isHexPair(b) {
				continue
			}
			dir := filepath.Join(s.blobsDir, a, b)
			ents, err := os.ReadDir(dir)
			if err != nil {
				return fmt.Errorf("blob: walk: %w", err)
			}
			for _, e := range ents {
				id := e.Name()
				if !ValidID(id) || id[0:2] != a || id[2:4] != b || !e.Type().IsRegular() {
					continue
				}
				info, err := e.Info()
				if errors.Is(err, fs.ErrNotExist) {
					continue // deleted meanwhile
				}
				if err != nil {
					return fmt.Errorf("blob: walk: %w", err)
				}
				if err := fn(id, info.ModTime()); err != nil {
					if errors.Is(err, fs.SkipAll) {
						return nil
					}
					return err
				}
			}
		}
	}
	return nil
}

// CleanTmp removes this package's temp files in the temp directory that
// were last modified more than olderThan ago: the orphans a crash leaves
// behind. Other files in the temp directory are left alone. Pass 0 at
// start-up, before any Writer exists; while writers may be active, pass a
// duration longer than any upload can stall. It returns how many files
// were removed.
func (s *Store) CleanTmp(olderThan time.Duration) (int, error) {
	ents, err := os.ReadDir(s.tmpDir)
	if err != nil {
		return 0, fmt.Errorf("blob: clean temp: %w", err)
	}
	cutoff := time.Now().Add(-olderThan)
	n := 0
	var errs []error
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, tmpPrefix) || !strings.HasSuffix(name, tmpSuffix) || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // vanished meanwhile
		}
		if olderThan > 0 && !info.ModTime().Before(cutoff) {
			continue
		}
		err = os.Remove(filepath.Join(s.tmpDir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	if len(errs) > 0 {
		return n, fmt.Errorf("blob: clean temp: %w", errors.Join(errs...))
	}
	return n, nil
}

func isHexPair(s string) bool {
	return len(s) == 2 && ValidID(s+"000000000000000000000000000000")
}

func readDirNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// syncDir fsyncs a directory so that entries created, renamed or removed
// in it survive a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir) // #nosec G304 G703 -- a directory of this store, built from validated ids
	if err != nil {
		return fmt.Errorf("open dir for sync: %w", err)
	}
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil {
		return fmt.Errorf("sync dir: %w", serr)
	}
	if cerr != nil {
		return fmt.Errorf("close dir: %w", cerr)
	}
	return nil
}

// mkdirDurable creates dir (and missing parents up to, not including,
// stop) with mode 0700, fsyncing each parent whose entries changed so the
// new directories survive a crash along with the file renamed into them.
func mkdirDurable(dir, stop string) error {
	if dir == stop {
		return nil
	}
	// #nosec G703 -- dir is <blobs>/xx/yy from a validated id.
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if err := mkdirDurable(parent, stop); err != nil {
		return err
	}
	// #nosec G703 -- dir is <blobs>/xx/yy from a validated id.
	if err := os.Mkdir(dir, dirPerm); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("mkdir: %w", err)
	}
	return syncDir(parent)
}
