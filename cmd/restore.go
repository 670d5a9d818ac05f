package cmd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/photovault/photovault/cmd/config"
	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/blob"
	"github.com/photovault/photovault/store/keys"
	"github.com/photovault/photovault/store/kv"
	"github.com/spf13/cobra"
)

func newRestoreCmd(e env) *cobra.Command {
	c := &cobra.Command{
		Use:   "restore SRC --data-dir D [--force] [--verify-only]",
		Short: "Verify the backup in SRC completely, then restore it into the data dir",
		Long: "Restore first verifies SRC completely: MANIFEST.json, the database's SHA-256 and integrity, every\n" +
			"blob file's SHA-256, that every blob the database uses is there, that the master key is the one\n" +
			"SRC was made with, and that every original decrypts to its recorded SHA-256 (derivatives to their\n" +
			"size and CRC-32). Only then does it copy the blobs and the database into the data dir, fsynced,\n" +
			"the database last, and open it once to apply migrations and record the restore in the audit log.\n\n" +
			"The data dir must be empty or missing (a keys/ folder in it is allowed and used); --force replaces\n" +
			"the database of a non-empty one. --verify-only checks SRC and writes nothing.\n\n" +
			"The master key comes from PHOTOVAULT_ENCRYPTION_KEY[_FILE] or data-dir/keys/master.key, as for serve.",
		Args: cobra.ExactArgs(1),
	}
	var force, verifyOnly bool
	c.Flags().BoolVar(&force, "force", false, "restore into a data dir that is not empty, replacing its database")
	c.Flags().BoolVar(&verifyOnly, "verify-only", false, "verify SRC completely and write nothing")
	load := withConfig(c, e)
	c.RunE = func(cmd *cobra.Command, args []string) error {
		cfg, err := load()
		if err != nil {
			return err
		}
		return runRestore(cmd.Context(), cfg, args[0], force, verifyOnly, e)
	}
	return c
}

// runRestore verifies SRC and, unless verifyOnly, restores it into the
// data dir.
func runRestore(ctx context.Context, cfg *config.Config, src string, force, verifyOnly bool, e env) error {
	start := time.Now()
	src, err := filepath.Abs(src)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	target, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if same, _ := sameFile(src, target); same || src == target {
		return fmt.Errorf("restore: SRC and the data dir are the same directory (%s)", src)
	}
	m, err := readManifest(src)
	if err != nil {
		return err
	}
	master, err := restoreMasterKey(cfg, src, m)
	if err != nil {
		return err
	}
	if !verifyOnly {
		// Refuse early, before minutes of verification.
		if err := checkRestoreTarget(cfg, target, force); err != nil {
			return err
		}
	}
	_, _ = fmt.Fprintf(e.stderr, "Verifying backup %s (made %s by photovault %s)\n", src, m.CreatedAt.Format(time.RFC3339), m.Version)
	res, err := verifyBackup(ctx, src, master, e.stderr)
	if err != nil {
		return err
	}
	if verifyOnly {
		_, _ = fmt.Fprintf(e.stdout, "Backup %s is complete and intact:\n", src)
		_, _ = fmt.Fprintf(e.stdout, "  database  schema %d, integrity ok, SHA-256 matches\n", m.SchemaVersion)
		_, _ = fmt.Fprintf(e.stdout, "  blobs     %d files, %s, every SHA-256 matches\n", res.blobs, importSize(res.bytes))
		_, _ = fmt.Fprintf(e.stdout, "  decrypted %d originals and %d derivatives with master key %s\n", res.originals, res.derivatives, master.ID())
		_, _ = fmt.Fprintf(e.stdout, "Nothing was written (--verify-only). Took %s.\n", time.Since(start).Round(time.Millisecond))
		return nil
	}
	if err := checkRestoreTarget(cfg, target, force); err != nil { // again: time has passed
		return err
	}
	copied, err := restoreFiles(ctx, cfg, src, m, e.stderr)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.DBPath(), store.Options{})
	if err != nil {
		return fmt.Errorf("restore: the files are in place but the database does not open: %w", err)
	}
	detail := fmt.Sprintf("backup made %s by photovault %s (schema %d); %d blobs (%d bytes), %d copied",
		m.CreatedAt.Format(time.RFC3339), m.Version, m.SchemaVersion, res.blobs, res.bytes, copied)
	if force {
		detail += "; --force"
	}
	aerr := st.Audit(context.WithoutCancel(ctx), store.AuditEvent{Type: "restore", Actor: "cli", Target: src, Detail: detail})
	cerr := st.Close()
	if err := errors.Join(aerr, cerr); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	out := e.stdout
	_, _ = fmt.Fprintf(out, "Restored %s into %s:\n", src, target)
	_, _ = fmt.Fprintf(out, "  database  %s from %s (schema %d)\n", store.FileName, m.CreatedAt.Format(time.RFC3339), m.SchemaVersion)
	_, _ = fmt.Fprintf(out, "  blobs     %d files, %s (%d copied, %d already there)\n", res.blobs, importSize(res.bytes), copied, res.blobs-copied)
	_, _ = fmt.Fprintf(out, "  verified  %d originals and %d derivatives decrypted with master key %s\n", res.originals, res.derivatives, master.ID())
	_, _ = fmt.Fprintf(out, "  took      %s\n", time.Since(start).Round(time.Millisecond))
	_, _ = fmt.Fprintf(out, "Start it with the same master key: photovault serve --data-dir %s\n", target)
	if _, err := os.Stat(filepath.Join(target, "keys", "secret.key")); err != nil && strings.TrimSpace(cfg.SecretKey) == "" {
		_, _ = fmt.Fprintln(out, "The secret key is not part of a backup: give serve the old PHOTOVAULT_SECRET_KEY, or owners simply log in again.")
	}
	return nil
}

// restoreMasterKey loads the master key like serve does, but never
// generates one: a restore without the key can only fail.
func restoreMasterKey(cfg *config.Config, src string, m *backupManifest) (keys.Key, error) {
	if strings.TrimSpace(cfg.EncryptionKey) == "" {
		p := filepath.Join(cfg.DataDir, "keys", "master.key")
		if _, err := os.Stat(p); err != nil {
			return keys.Key{}, fmt.Errorf("restore needs the master key: %s was made with master key id %s and backups never contain keys; "+
				"set PHOTOVAULT_ENCRYPTION_KEY or PHOTOVAULT_ENCRYPTION_KEY_FILE (or place it in %s)", src, m.MasterKeyID, p)
		}
	}
	k, _, err := currentMasterKey(cfg)
	return k, err
}

// checkRestoreTarget refuses a data dir that holds anything but keys/
// (unless force), and one that a running serve is using.
func checkRestoreTarget(cfg *config.Config, target string, force bool) error {
	ents, err := os.ReadDir(target)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	var found []string
	for _, ent := range ents {
		if ent.Name() != "keys" && ent.Name() != dataDirLockName {
			found = append(found, ent.Name())
		}
	}
	if len(found) == 0 {
		return nil
	}
	if !force {
		return fmt.Errorf("restore: the data dir %s is not empty (it holds %s); restore into an empty or new directory, or give --force to replace its database and add the backup's blobs",
			target, strings.Join(found, ", "))
	}
	// serve holds the kv directory lock; replacing the database under it
	// would corrupt both.
	if _, err := os.Stat(cfg.KVDir()); err == nil {
		kvs, err := kv.Open(cfg.KVDir(), newLogger(io.Discard, "error"))
		if err != nil {
			if strings.Contains(err.Error(), "in use by another process") {
				return fmt.Errorf("restore: photovault serve appears to be running on %s (the kv directory is locked): stop it first", target)
			}
			return fmt.Errorf("restore: %w", err)
		}
		if err := kvs.Close(); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	return nil
}

// restoreFiles copies the verified blobs, then the database, into the data
// dir. Every file is hashed again while copied, so a SRC that changes
// after verification is caught. Blobs go first: the restored database never
// points at a file that is not durable yet.
func restoreFiles(ctx context.Context, cfg *config.Config, src string, m *backupManifest, progress io.Writer) (int, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	layout, err := newBlobLayout()
	if err != nil {
		return 0, err
	}
	defer layout.close()
	dst, err := blob.New(cfg.BlobRoot(), cfg.TmpDir())
	if err != nil {
		return 0, fmt.Errorf("restore: blobs: %w", err)
	}
	srcRoot := (&config.Config{DataDir: src}).BlobRoot()
	_, _ = fmt.Fprintf(progress, "Copying %d blobs (%s) into %s\n", len(m.Blobs), importSize(m.BlobBytes), cfg.DataDir)
	prog := newImportProgress(progress, len(m.Blobs), m.BlobBytes)
	stop := prog.run()
	dirs := newDirSyncer()
	buf := make([]byte, 1<<20)
	copied := 0
	for _, b := range m.Blobs {
		rel, err := layout.rel(b.ID)
		if err != nil {
			stop()
			return copied, fmt.Errorf("restore: %w", err)
		}
		from, to := filepath.Join(srcRoot, rel), dst.Path(b.ID)
		if have, _, err := fileSHA256(ctx, to); err == nil && have == b.SHA256 {
			prog.fileDone()
			prog.addBytes(b.Size)
			continue
		}
		if err := dirs.mkdirAll(filepath.Dir(to)); err != nil {
			stop()
			return copied, fmt.Errorf("restore: %w", err)
		}
		if _, _, err := copyFileDurable(ctx, from, to, b.SHA256, buf); err != nil {
			stop()
			return copied, fmt.Errorf("restore: blob %s: %w", b.ID, err)
		}
		dirs.touched(filepath.Dir(to))
		copied++
		prog.fileDone()
		prog.addBytes(b.Size)
	}
	stop()
	if err := dirs.sync(); err != nil {
		return copied, fmt.Errorf("restore: %w", err)
	}
	// The database last, replacing any earlier one. A stale -wal or -shm
	// of the replaced database would be replayed onto the restored file
	// and corrupt it, so they go first.
	dbDst := cfg.DBPath()
	tmpDB := filepath.Join(cfg.DataDir, "."+store.FileName+".restore")
	if _, _, err := copyFileDurable(ctx, filepath.Join(src, store.FileName), tmpDB, m.Database.SHA256, buf); err != nil {
		return copied, fmt.Errorf("restore: database: %w", err)
	}
	defer func() { _ = os.Remove(tmpDB) }() // a no-op once renamed
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Remove(dbDst + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return copied, fmt.Errorf("restore: %w", err)
		}
	}
	if err := os.Rename(tmpDB, dbDst); err != nil {
		return copied, fmt.Errorf("restore: %w", err)
	}
	if err := syncDir(cfg.DataDir); err != nil {
		return copied, fmt.Errorf("restore: %w", err)
	}
	return copied, nil
}

// readManifest reads and checks the shape of DIR/MANIFEST.json. Ids are
// checked here so that no path is ever built from an unchecked one.
func readManifest(dir string) (*backupManifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestName)) // #nosec G304 -- the backup the operator named
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s has no %s: it is not a PhotoVault backup, or the backup did not finish (run `photovault backup` again)", dir, manifestName)
	}
	if err != nil {
		return nil, fmt.Errorf("backup manifest: %w", err)
	}
	var m backupManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s/%s is damaged (not valid JSON: %w)", dir, manifestName, err)
	}
	if m.Format != manifestFormat {
		return nil, fmt.Errorf("%s/%s is not a PhotoVault backup manifest", dir, manifestName)
	}
	if m.FormatVersion < 1 || m.FormatVersion > manifestVersion {
		return nil, fmt.Errorf("%s/%s has format version %d; this photovault reads version %d: use a newer photovault", dir, manifestName, m.FormatVersion, manifestVersion)
	}
	if !isHexSHA256(m.Database.SHA256) || m.Database.Name != store.FileName {
		return nil, fmt.Errorf("%s/%s is damaged (database entry)", dir, manifestName)
	}
	if m.BlobCount != len(m.Blobs) {
		return nil, fmt.Errorf("%s/%s is damaged (it says %d blobs and lists %d)", dir, manifestName, m.BlobCount, len(m.Blobs))
	}
	seen := make(map[string]bool, len(m.Blobs))
	for _, bl := range m.Blobs {
		if !blob.ValidID(bl.ID) || !isHexSHA256(bl.SHA256) || bl.Size < 0 || seen[bl.ID] {
			return nil, fmt.Errorf("%s/%s is damaged (blob entry %q)", dir, manifestName, truncate(bl.ID, 40))
		}
		seen[bl.ID] = true
	}
	return &m, nil
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// verifyError lists everything wrong with a backup, each naming the file
// or blob concerned.
type verifyError struct {
	what     string // "backup X failed verification"
	problems []string
}

func (e *verifyError) Error() string {
	const show = 20
	var b strings.Builder
	noun := "problems"
	if len(e.problems) == 1 {
		noun = "problem"
	}
	_, _ = fmt.Fprintf(&b, "%s (%d %s):", e.what, len(e.problems), noun)
	for i, p := range e.problems {
		if i == show {
			_, _ = fmt.Fprintf(&b, "\n  ... and %d more", len(e.problems)-show)
			break
		}
		b.WriteString("\n  - " + p)
	}
	return b.String()
}

// verifyResult counts what a verification covered.
type verifyResult struct {
	blobs                  int
	bytes                  int64
	originals, derivatives int
}

// verifyBackup checks the backup in dir completely, writing nothing there:
// the manifest; the database's SHA-256, integrity and schema; that the
// master key is the one the backup was made with; that the manifest and
// the database agree on the blobs; every blob file's presence, size and
// SHA-256; and, with the master key, that every blob decrypts and every
// original matches its SHA-256, size and CRC-32 (derivatives: size and
// CRC-32). Problems are collected so that one run names every damaged blob.
func verifyBackup(ctx context.Context, dir string, master keys.Key, progress io.Writer) (*verifyResult, error) {
	m, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	what := "backup " + dir + " failed verification"
	dbPath := filepath.Join(dir, store.FileName)
	sum, size, err := fileSHA256(ctx, dbPath)
	if err != nil {
		return nil, &verifyError{what: what, problems: []string{fmt.Sprintf("%s: %s", store.FileName, fileProblem(nil, err))}}
	}
	if sum != m.Database.SHA256 || size != m.Database.Size {
		return nil, &verifyError{what: what, problems: []string{fmt.Sprintf(
			"%s: SHA-256 %s (%d bytes) differs from the manifest's %s (%d bytes): the database file is damaged, truncated or from another backup",
			store.FileName, sum[:16], size, m.Database.SHA256[:16], m.Database.Size)}}
	}
	snap, err := store.OpenReadOnly(ctx, dbPath)
	if err != nil {
		return nil, &verifyError{what: what, problems: []string{store.FileName + ": " + err.Error()}}
	}
	defer func() { _ = snap.Close() }()
	if err := snap.IntegrityCheck(ctx); err != nil {
		return nil, &verifyError{what: what, problems: []string{store.FileName + ": " + err.Error()}}
	}
	sv, err := snap.SchemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	latest, err := store.LatestSchemaVersion()
	if err != nil {
		return nil, err
	}
	if sv != m.SchemaVersion {
		return nil, &verifyError{what: what, problems: []string{fmt.Sprintf("%s: schema version %d, the manifest says %d", store.FileName, sv, m.SchemaVersion)}}
	}
	if sv > latest {
		return nil, fmt.Errorf("%s was made by a newer photovault (database schema %d, this binary knows %d): restore it with photovault %s or later", dir, sv, latest, m.Version)
	}
	check, err := snap.MasterKeyCheck(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if m.MasterKeyID != master.ID() {
			return nil, wrongKeyError(dir, m, master)
		}
	case err != nil:
		return nil, err
	case check != master.CheckValue():
		return nil, wrongKeyError(dir, m, master)
	}
	blobs, err := snap.Blobs(ctx)
	if err != nil {
		return nil, err
	}

	// The manifest and the database must agree.
	var problems []string
	inManifest := make(map[string]manifestBlob, len(m.Blobs))
	for _, b := range m.Blobs {
		inManifest[b.ID] = b
	}
	rows := make(map[string]store.SnapshotBlob, len(blobs))
	for _, b := range blobs {
		rows[b.Ref.ID] = b
		_, listed := inManifest[b.Ref.ID]
		switch {
		case b.NoRow:
			problems = append(problems, fmt.Sprintf("blob %s (%s): the database has no row for it", b.Ref.ID, describeUses(b.Uses)))
		case b.Referenced() && !listed:
			problems = append(problems, fmt.Sprintf("blob %s (%s): used by the database but missing from the manifest", b.Ref.ID, describeUses(b.Uses)))
		}
	}
	for _, b := range m.Blobs {
		if r, ok := rows[b.ID]; !ok || r.NoRow {
			problems = append(problems, fmt.Sprintf("blob %s: listed in the manifest but unknown to the database", b.ID))
		}
	}
	if len(problems) > 0 {
		return nil, &verifyError{what: what, problems: problems}
	}

	// Every file: present, regular, the right size and SHA-256.
	layout, err := newBlobLayout()
	if err != nil {
		return nil, err
	}
	defer layout.close()
	root := (&config.Config{DataDir: dir}).BlobRoot()
	paths := make([]string, len(m.Blobs))
	for i, b := range m.Blobs {
		rel, err := layout.rel(b.ID)
		if err != nil {
			return nil, err
		}
		paths[i] = filepath.Join(root, rel)
	}
	res := &verifyResult{blobs: len(m.Blobs), bytes: m.BlobBytes}
	_, _ = fmt.Fprintf(progress, "Checking the SHA-256 of %d blob files (%s)\n", len(m.Blobs), importSize(m.BlobBytes))
	problems = parallelCheck(ctx, len(m.Blobs), m.BlobBytes, progress, func(i int) (int64, string) {
		b := m.Blobs[i]
		fi, err := os.Lstat(paths[i])
		if err != nil || !fi.Mode().IsRegular() {
			return b.Size, fmt.Sprintf("blob %s (%s): %s", b.ID, describeUses(rows[b.ID].Uses), fileProblem(fi, err))
		}
		sum, n, err := fileSHA256(ctx, paths[i])
		switch {
		case err != nil:
			return b.Size, fmt.Sprintf("blob %s: %v", b.ID, err)
		case n != b.Size || sum != b.SHA256:
			return b.Size, fmt.Sprintf("blob %s (%s): ciphertext SHA-256 or size differs from the manifest: the file is damaged", b.ID, describeUses(rows[b.ID].Uses))
		}
		return b.Size, ""
	})
	if len(problems) > 0 {
		return nil, &verifyError{what: what, problems: problems}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if len(m.Blobs) == 0 {
		return res, nil
	}

	// Every blob decrypts with the master key to what the database says.
	// Every file was just found, so a store rooted at dir creates nothing.
	bs, err := blob.New(root, root)
	if err != nil {
		return nil, fmt.Errorf("backup blobs: %w", err)
	}
	kek := blob.KEK{ID: blob.KeyID(master), Key: master}
	var plain int64
	for _, b := range m.Blobs {
		plain += rows[b.ID].Ref.Size
		for _, u := range rows[b.ID].Uses {
			if u.Kind == "original" {
				res.originals++
			} else {
				res.derivatives++
			}
		}
	}
	_, _ = fmt.Fprintf(progress, "Decrypting %d blobs (%s) with master key %s\n", len(m.Blobs), importSize(plain), master.ID())
	problems = parallelCheck(ctx, len(m.Blobs), plain, progress, func(i int) (int64, string) {
		sb := rows[m.Blobs[i].ID]
		if bs.Path(sb.Ref.ID) != paths[i] {
			return sb.Ref.Size, fmt.Sprintf("blob %s: blob layout mismatch (%s)", sb.Ref.ID, paths[i])
		}
		return sb.Ref.Size, checkPlaintext(ctx, bs, kek, sb)
	})
	if len(problems) > 0 {
		return nil, &verifyError{what: what, problems: problems}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return res, nil
}

func wrongKeyError(dir string, m *backupManifest, given keys.Key) error {
	return fmt.Errorf("%s was made with a different master key (id %s; the key given has id %s); give PHOTOVAULT_ENCRYPTION_KEY[_FILE] of that vault",
		dir, m.MasterKeyID, given.ID())
}

// checkPlaintext decrypts one blob and compares it with every row that
// uses it. It returns a problem, or "".
func checkPlaintext(ctx context.Context, bs *blob.Store, kek blob.KEK, sb store.SnapshotBlob) string {
	id := sb.Ref.ID
	r, err := bs.Open(sb.Ref, kek)
	if err != nil {
		return fmt.Sprintf("blob %s (%s): does not open: %v", id, describeUses(sb.Uses), err)
	}
	defer func() { _ = r.Close() }()
	h := sha256.New()
	c := crc32.NewIEEE()
	n, err := io.Copy(io.MultiWriter(h, c), ctxReader{ctx, r})
	if err != nil {
		return fmt.Sprintf("blob %s (%s): does not decrypt: %v", id, describeUses(sb.Uses), err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	for _, u := range sb.Uses {
		what := fmt.Sprintf("blob %s (%s)", id, describeUses([]store.BlobUse{u}))
		switch {
		case u.Size != n:
			return fmt.Sprintf("%s: decrypts to %d bytes, the database says %d", what, n, u.Size)
		case u.CRC32 != c.Sum32():
			return fmt.Sprintf("%s: decrypts to CRC-32 %08x, the database says %08x", what, c.Sum32(), u.CRC32)
		case u.Kind == "original" && u.SHA256 != sum:
			return fmt.Sprintf("%s: decrypts to SHA-256 %s, the database says %s", what, sum[:16], truncate(u.SHA256, 16))
		}
	}
	return ""
}

// parallelCheck runs check(i) for i in [0, n) on a few goroutines with a
// progress line, and returns the problems found, sorted.
func parallelCheck(ctx context.Context, n int, total int64, progress io.Writer, check func(i int) (int64, string)) []string {
	prog := newImportProgress(progress, n, total)
	stop := prog.run()
	defer stop()
	workers := min(max(runtime.NumCPU(), 1), 4)
	next := make(chan int)
	var mu sync.Mutex
	var problems []string
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				size, p := check(i)
				prog.addBytes(size)
				prog.fileDone()
				if p != "" {
					mu.Lock()
					problems = append(problems, p)
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	sort.Strings(problems)
	return problems
}
