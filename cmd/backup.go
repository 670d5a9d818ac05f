package cmd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/photovault/photovault/cmd/config"
	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/blob"
	"github.com/photovault/photovault/store/keys"
	"github.com/spf13/cobra"
)

// A backup directory mirrors a data dir, minus everything that is not
// needed to restore it:
//
//	DEST/photovault.db      consistent snapshot (VACUUM INTO), rollback-journal mode
//	DEST/blobs/...          every blob file the snapshot knows, laid out as in the data dir
//	DEST/MANIFEST.json      written last: hashes of the database and of every blob file
//
// Keys are never part of it.
const (
	manifestName    = "MANIFEST.json"
	manifestFormat  = "photovault-backup"
	manifestVersion = 1
	// nextDBName holds the new snapshot while blobs are copied, so the
	// previous backup in DEST stays complete until the final renames.
	nextDBName = store.FileName + ".next"
)

// backupManifest is DEST/MANIFEST.json.
type backupManifest struct {
	Format        string `json:"format"`
	FormatVersion int    `json:"format_version"`
	// CreatedAt is when the database snapshot was taken: the point in time
	// the backup restores to.
	CreatedAt     time.Time      `json:"created_at"`
	Version       string         `json:"photovault_version"`
	Commit        string         `json:"photovault_commit"`
	SchemaVersion int            `json:"schema_version"`
	MasterKeyID   string         `json:"master_key_id"`
	Database      manifestFile   `json:"database"`
	BlobCount     int            `json:"blob_count"`
	BlobBytes     int64          `json:"blob_bytes"`
	Blobs         []manifestBlob `json:"blobs"`
}

// manifestFile describes the database file.
type manifestFile struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// manifestBlob describes one blob file: its ciphertext, as on disk.
type manifestBlob struct {
	ID     string `json:"id"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

func newBackupCmd(e env) *cobra.Command {
	c := &cobra.Command{
		Use:   "backup DEST",
		Short: "Back up the vault into DEST (consistent while serve runs), then verify it",
		Long: "Backup writes a consistent copy of the data dir into DEST, safe while `serve` runs and writes:\n" +
			"a snapshot of the database (SQLite VACUUM INTO, integrity-checked), every encrypted blob the\n" +
			"snapshot references, and MANIFEST.json with their SHA-256 hashes, written last. Then it verifies\n" +
			"DEST exactly as `restore --verify-only` would, decrypting every original with the master key.\n" +
			"Exit status 0 only when everything was written and verified.\n\n" +
			"Running it again into the same DEST is incremental: blob files already there with the same\n" +
			"SHA-256 are kept, files no longer in the vault are removed. DEST holds one backup; keep history\n" +
			"by backing DEST up (restic, borg, snapshots) or by using dated directories.\n\n" +
			"Keys are never copied: back up the master and secret keys separately.",
		Args: cobra.ExactArgs(1),
	}
	load := withConfig(c, e)
	c.RunE = func(cmd *cobra.Command, args []string) error {
		cfg, err := load()
		if err != nil {
			return err
		}
		return runBackup(cmd.Context(), cfg, args[0], e)
	}
	return c
}

// backupStats is what a backup did.
type backupStats struct {
	blobs, copied, present, pruned int
	bytes, copiedBytes             int64
	skippedGone                    int // unreferenced blobs the collector removed before they were copied
}

// runBackup snapshots the database into DEST, copies the blobs, writes the
// manifest, verifies DEST, and records an audit event in the live vault.
func runBackup(ctx context.Context, cfg *config.Config, dest string, e env) (err error) {
	start := time.Now()
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	dest, err = filepath.Abs(dest)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := os.Stat(cfg.DBPath()); err != nil {
		return fmt.Errorf("backup: no vault in %s (%w); point --data-dir at the data dir", cfg.DataDir, err)
	}
	// A backup never migrates: it may run next to a serve of another version.
	have, err := store.SchemaVersionAt(ctx, cfg.DBPath())
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	latest, err := store.LatestSchemaVersion()
	if err != nil {
		return err
	}
	if have != latest {
		return fmt.Errorf("backup: the database is at schema version %d and this photovault expects %d: run the backup with the photovault binary that serves this vault (a backup never migrates a live database)", have, latest)
	}
	master, keySrc, err := currentMasterKey(cfg)
	if err != nil {
		return fmt.Errorf("backup needs the master key to verify what it wrote: %w", err)
	}
	st, err := store.Open(ctx, cfg.DBPath(), store.Options{})
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	switch check, err := st.Setting(ctx, "master_key_check"); {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	case check != master.CheckValue():
		return fmt.Errorf("backup: this vault was created with a different encryption key (given key id %s); run with the vault's PHOTOVAULT_ENCRYPTION_KEY", master.ID())
	}
	if err := prepareBackupDest(dest, dataDir); err != nil {
		return err
	}
	warnKeysNotBackedUp(e.stderr, cfg, keySrc, master)

	var stats backupStats
	var m *backupManifest
	defer func() {
		detail := fmt.Sprintf("ok: %d blobs (%d bytes), %d copied, %d already present, %d removed; database sha256 %s",
			stats.blobs, stats.bytes, stats.copied, stats.present, stats.pruned, shortHash(m))
		if err != nil {
			detail = "failed: " + truncate(err.Error(), 300)
		}
		aerr := st.Audit(context.WithoutCancel(ctx), store.AuditEvent{Type: "backup", Actor: "cli", Target: dest, Detail: detail})
		if err == nil && aerr != nil {
			err = fmt.Errorf("backup: written and verified, but the audit event failed: %w", aerr)
		}
	}()

	// 1. The snapshot, under a temporary name until the manifest is ready.
	nextDB := filepath.Join(dest, nextDBName)
	_, _ = fmt.Fprintf(e.stderr, "Snapshotting the database into %s\n", dest)
	snapAt := time.Now().UTC().Truncate(time.Millisecond)
	if err := st.SnapshotTo(ctx, nextDB); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = os.Remove(nextDB)
		}
	}()
	snap, err := store.OpenReadOnly(ctx, nextDB)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	blobs, err := snap.Blobs(ctx)
	snapVersion := 0
	if err == nil {
		snapVersion, err = snap.SchemaVersion(ctx)
	}
	if cerr := snap.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if snapVersion != latest {
		return fmt.Errorf("backup: the database was migrated to schema version %d while the backup started; run it again with the photovault binary that serves this vault", snapVersion)
	}

	// 2. The blobs. They are immutable and deleted only after a grace
	// period, so copying them after the snapshot is consistent with it.
	entries, err := copyBackupBlobs(ctx, cfg, dest, blobs, &stats, e.stderr)
	if err != nil {
		return err
	}

	// 3. The manifest, then the two renames that replace the previous backup.
	dbSum, dbSize, err := fileSHA256(ctx, nextDB)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	ver, commit, _ := buildInfo()
	m = &backupManifest{
		Format: manifestFormat, FormatVersion: manifestVersion, CreatedAt: snapAt,
		Version: ver, Commit: commit, SchemaVersion: snapVersion, MasterKeyID: master.ID(),
		Database:  manifestFile{Name: store.FileName, SHA256: dbSum, Size: dbSize},
		BlobCount: len(entries), BlobBytes: stats.bytes, Blobs: entries,
	}
	if err := commitBackup(dest, nextDB, m); err != nil {
		return err
	}
	committed = true

	// 4. Verify what restore will see.
	_, _ = fmt.Fprintf(e.stderr, "Verifying %s\n", dest)
	res, err := verifyBackup(ctx, dest, master, e.stderr)
	if err != nil {
		return fmt.Errorf("backup: %s was written but is NOT usable: %w", dest, err)
	}

	// 5. Files of blobs the vault no longer has, and leftovers of
	// interrupted runs.
	stats.pruned, err = pruneBackup(dest, m)
	if err != nil {
		return err
	}

	out := e.stdout
	_, _ = fmt.Fprintf(out, "Backup complete: %s\n", dest)
	_, _ = fmt.Fprintf(out, "  database  %s (schema %d, %s)\n", store.FileName, m.SchemaVersion, importSize(m.Database.Size))
	_, _ = fmt.Fprintf(out, "  blobs     %d files, %s: %d copied (%s), %d already present", stats.blobs, importSize(stats.bytes),
		stats.copied, importSize(stats.copiedBytes), stats.present)
	if stats.pruned > 0 {
		_, _ = fmt.Fprintf(out, ", %d no longer in the vault removed", stats.pruned)
	}
	_, _ = fmt.Fprintln(out)
	if stats.skippedGone > 0 {
		_, _ = fmt.Fprintf(out, "  skipped   %d deleted blobs the collector removed meanwhile (no row uses them)\n", stats.skippedGone)
	}
	_, _ = fmt.Fprintf(out, "  verified  every file's SHA-256; %d originals and %d derivatives decrypted with master key %s\n",
		res.originals, res.derivatives, master.ID())
	_, _ = fmt.Fprintf(out, "  took      %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// prepareBackupDest creates DEST (0700) or checks that it holds nothing
// but an earlier backup, and that it is not the data dir itself.
func prepareBackupDest(dest, dataDir string) error {
	if dest == dataDir || isWithin(dest, dataDir) {
		return fmt.Errorf("backup: DEST %s is inside the data dir %s; put backups on another disk", dest, dataDir)
	}
	if isWithin(dataDir, dest) {
		return fmt.Errorf("backup: the data dir %s is inside DEST %s", dataDir, dest)
	}
	if fi, err := os.Stat(dest); err == nil && !fi.IsDir() {
		return fmt.Errorf("backup: DEST %s is not a directory", dest)
	} else if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dest, 0o700); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		return nil
	} else if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if same, _ := sameFile(dest, dataDir); same {
		return fmt.Errorf("backup: DEST %s is the data dir", dest)
	}
	ents, err := os.ReadDir(dest)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	for _, ent := range ents {
		if !isBackupEntry(ent.Name()) {
			return fmt.Errorf("backup: DEST %s holds %q, which is not part of a PhotoVault backup; give an empty or new directory, or one that holds an earlier backup", dest, ent.Name())
		}
	}
	return nil
}

// isBackupEntry reports whether a top-level name in DEST is one a backup
// writes: the database (and its temporary forms), MANIFEST.json (and its
// temporary form) or blobs.
func isBackupEntry(name string) bool {
	if name == "blobs" {
		return true
	}
	n := strings.TrimPrefix(name, ".")
	return strings.HasPrefix(n, store.FileName) || strings.HasPrefix(n, manifestName)
}

// warnKeysNotBackedUp reminds the operator that keys are not in backups,
// loudly when they sit inside the data dir (where a copy of the data dir
// would carry them, and a lost disk loses them with the vault).
func warnKeysNotBackedUp(w io.Writer, cfg *config.Config, src keys.Source, master keys.Key) {
	keyDir := filepath.Join(cfg.DataDir, "keys")
	var inside []string
	for _, name := range []string{"master.key", "secret.key"} {
		if _, err := os.Stat(filepath.Join(keyDir, name)); err == nil {
			inside = append(inside, name)
		}
	}
	if src == keys.FromDataDir || len(inside) > 0 {
		_, _ = fmt.Fprintf(w, "WARNING: the keys in %s (%s) are NOT copied into the backup, on purpose.\n", keyDir, strings.Join(inside, ", "))
		_, _ = fmt.Fprintf(w, "WARNING: without the master key (id %s) this backup cannot be restored. Back the keys up\n", master.ID())
		_, _ = fmt.Fprintln(w, "WARNING: separately (a password manager, a second offline medium), never next to the backup.")
		return
	}
	_, _ = fmt.Fprintf(w, "Note: keys are not part of backups; keep the master key (id %s) and the secret key safe separately.\n", master.ID())
}

// copyBackupBlobs copies every blob file the snapshot knows into DEST and
// returns the manifest entries, sorted by id.
func copyBackupBlobs(ctx context.Context, cfg *config.Config, dest string, blobs []store.SnapshotBlob, stats *backupStats, progress io.Writer) ([]manifestBlob, error) {
	layout, err := newBlobLayout()
	if err != nil {
		return nil, err
	}
	defer layout.close()
	live, err := blob.New(cfg.BlobRoot(), cfg.TmpDir())
	if err != nil {
		return nil, fmt.Errorf("backup: blobs: %w", err)
	}
	destRoot := (&config.Config{DataDir: dest}).BlobRoot()

	var total int64
	for _, b := range blobs {
		total += b.Ref.Size
	}
	_, _ = fmt.Fprintf(progress, "Copying %d blobs (about %s) into %s\n", len(blobs), importSize(total), dest)
	prog := newImportProgress(progress, len(blobs), total)
	stop := prog.run()
	defer stop()

	var problems []string
	entries := make([]manifestBlob, 0, len(blobs))
	dirs := newDirSyncer()
	buf := make([]byte, 1<<20)
	for _, b := range blobs {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("backup: interrupted: %w", err)
		}
		prog.fileDone()
		prog.addBytes(b.Ref.Size)
		id := b.Ref.ID
		if b.NoRow {
			problems = append(problems, fmt.Sprintf("blob %s: used by %s but has no blobs row", id, describeUses(b.Uses)))
			continue
		}
		src := live.Path(id)
		rel, err := layout.rel(id)
		if src == "" || err != nil {
			problems = append(problems, fmt.Sprintf("blob %q: not a valid blob id", id))
			continue
		}
		dst := filepath.Join(destRoot, rel)
		fi, err := os.Lstat(src)
		if err != nil || !fi.Mode().IsRegular() {
			if !b.Referenced() && errors.Is(err, fs.ErrNotExist) {
				stats.skippedGone++ // deleted by the collector after the snapshot: nothing uses it
				continue
			}
			problems = append(problems, fmt.Sprintf("blob %s (%s): missing from %s: %v", id, describeUses(b.Uses), cfg.DataDir, fileProblem(fi, err)))
			continue
		}
		entry, copied, err := backupOneBlob(ctx, src, dst, dirs, buf)
		if errors.Is(err, fs.ErrNotExist) && !b.Referenced() {
			stats.skippedGone++
			continue
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("blob %s: %v", id, err))
			continue
		}
		entry.ID = id
		entries = append(entries, entry)
		stats.blobs++
		stats.bytes += entry.Size
		if copied {
			stats.copied++
			stats.copiedBytes += entry.Size
		} else {
			stats.present++
		}
	}
	if err := dirs.sync(); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if len(problems) > 0 {
		return nil, &verifyError{what: "backup: stopped, the vault in " + cfg.DataDir + " has missing or unreadable blobs", problems: problems}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].ID < entries[j].ID })
	return entries, nil
}

// backupOneBlob copies src to dst unless dst already holds the same bytes.
func backupOneBlob(ctx context.Context, src, dst string, dirs *dirSyncer, buf []byte) (manifestBlob, bool, error) {
	if fi, err := os.Lstat(dst); err == nil && fi.Mode().IsRegular() {
		have, _, herr := fileSHA256(ctx, dst)
		want, size, serr := fileSHA256(ctx, src)
		if serr != nil {
			return manifestBlob{}, false, serr
		}
		if herr == nil && have == want {
			return manifestBlob{SHA256: want, Size: size}, false, nil
		}
	}
	if err := dirs.mkdirAll(filepath.Dir(dst)); err != nil {
		return manifestBlob{}, false, err
	}
	sum, n, err := copyFileDurable(ctx, src, dst, "", buf)
	if err != nil {
		return manifestBlob{}, false, err
	}
	dirs.touched(filepath.Dir(dst))
	return manifestBlob{SHA256: sum, Size: n}, true, nil
}

// commitBackup writes the manifest next to the new snapshot and then swaps
// both into place: the database first, the manifest last. Until the first
// rename DEST still holds the previous backup, complete.
func commitBackup(dest, nextDB string, m *backupManifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("backup: manifest: %w", err)
	}
	f, err := os.CreateTemp(dest, "."+manifestName+".*.tmp")
	if err != nil {
		return fmt.Errorf("backup: manifest: %w", err)
	}
	tmp := f.Name()
	defer func() { _ = os.Remove(tmp) }() // a no-op once renamed
	_, werr := f.Write(append(data, '\n'))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("backup: manifest: %w", err)
	}
	if err := os.Rename(nextDB, filepath.Join(dest, store.FileName)); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dest, manifestName)); err != nil {
		return fmt.Errorf("backup: manifest: %w", err)
	}
	if err := syncDir(dest); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// pruneBackup removes what DEST holds beyond the manifest: blob files of
// blobs the vault has since deleted, and temp files of interrupted runs.
func pruneBackup(dest string, m *backupManifest) (int, error) {
	layout, err := newBlobLayout()
	if err != nil {
		return 0, err
	}
	defer layout.close()
	root := (&config.Config{DataDir: dest}).BlobRoot()
	keep := make(map[string]bool, len(m.Blobs))
	for _, b := range m.Blobs {
		rel, err := layout.rel(b.ID)
		if err != nil {
			return 0, err
		}
		keep[filepath.ToSlash(rel)] = true
	}
	removed := 0
	dirs := newDirSyncer()
	// Walk and remove through an os.Root: nothing outside DEST's blob
	// directory can be reached, even through a planted symlink.
	r, err := os.OpenRoot(root)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil // an empty vault: no blob was ever copied
	}
	if err != nil {
		return 0, fmt.Errorf("backup: prune: %w", err)
	}
	defer func() { _ = r.Close() }()
	err = fs.WalkDir(r.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || keep[p] {
			return nil
		}
		if err := r.Remove(p); err != nil {
			return err
		}
		dirs.touched(filepath.Join(root, filepath.FromSlash(path.Dir(p))))
		if blob.ValidID(d.Name()) {
			removed++
		}
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("backup: prune: %w", err)
	}
	ents, err := os.ReadDir(dest)
	if err != nil {
		return removed, fmt.Errorf("backup: prune: %w", err)
	}
	for _, ent := range ents {
		if n := ent.Name(); n != store.FileName && n != manifestName && n != "blobs" && isBackupEntry(n) {
			if err := os.RemoveAll(filepath.Join(dest, n)); err != nil {
				return removed, fmt.Errorf("backup: prune: %w", err)
			}
			dirs.touched(dest)
		}
	}
	if err := dirs.sync(); err != nil {
		return removed, fmt.Errorf("backup: prune: %w", err)
	}
	return removed, nil
}

// describeUses names the rows that use a blob, for error messages.
func describeUses(uses []store.BlobUse) string {
	if len(uses) == 0 {
		return "no row uses it"
	}
	u := uses[0]
	s := "original of media " + u.MediaID
	if u.Kind != "original" {
		s = u.Variant + " of media " + u.MediaID
	}
	if len(uses) > 1 {
		s += fmt.Sprintf(" and %d more", len(uses)-1)
	}
	return s
}

func fileProblem(fi fs.FileInfo, err error) string {
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "no such file"
		}
		return err.Error()
	}
	return "not a regular file (" + fi.Mode().Type().String() + ")"
}

func shortHash(m *backupManifest) string {
	if m == nil || len(m.Database.SHA256) < 16 {
		return "-"
	}
	return m.Database.SHA256[:16]
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// blobLayout answers where the blob package keeps a blob relative to a
// blob root. It asks a throwaway blob.Store in a temp dir, so backup,
// restore and serve can never disagree about paths, and reading a backup
// needs no blob.Store rooted in it (which would create directories there).
type blobLayout struct {
	root string
	s    *blob.Store
}

func newBlobLayout() (*blobLayout, error) {
	dir, err := os.MkdirTemp("", "photovault-layout-")
	if err != nil {
		return nil, fmt.Errorf("blob layout: %w", err)
	}
	s, err := blob.New(dir, dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return &blobLayout{root: dir, s: s}, nil
}

// rel is blob id's path relative to a blob root.
func (l *blobLayout) rel(id string) (string, error) {
	p := l.s.Path(id)
	if p == "" {
		return "", fmt.Errorf("%w: %q", blob.ErrInvalidID, id)
	}
	return filepath.Rel(l.root, p)
}

func (l *blobLayout) close() { _ = os.RemoveAll(l.root) }

// ctxReader stops a long copy when the command is interrupted.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// fileSHA256 hashes a regular file.
func fileSHA256(ctx context.Context, path string) (string, int64, error) {
	f, err := os.Open(path) // #nosec G304 -- a path inside the data dir or a backup the operator named
	if err != nil {
		return "", 0, err
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	n, err := io.Copy(h, ctxReader{ctx, f})
	if err != nil {
		return "", n, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// errChanged reports a file whose bytes differ from the hash checked just
// before: it changed under us.
var errChanged = errors.New("changed while being copied (its SHA-256 no longer matches)")

// copyFileDurable copies src to dst through a 0600 temp file in dst's
// directory: hashed while copying, compared with want (when given),
// fsynced, then renamed over dst. A reader never sees a partial dst. The
// caller fsyncs dst's directory. It returns the SHA-256 and size copied.
func copyFileDurable(ctx context.Context, src, dst, want string, buf []byte) (string, int64, error) {
	in, err := os.Open(src) // #nosec G304 -- a path inside the data dir or a backup the operator named
	if err != nil {
		return "", 0, err
	}
	defer func() { _ = in.Close() }()
	out, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.tmp")
	if err != nil {
		return "", 0, err
	}
	tmp := out.Name()
	done := false
	defer func() {
		if !done {
			_ = out.Close()
			_ = os.Remove(tmp)
		}
	}()
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(out, h), ctxReader{ctx, in}, buf)
	if err != nil {
		return "", n, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if want != "" && sum != want {
		return sum, n, errChanged
	}
	if err := out.Sync(); err != nil {
		return "", n, err
	}
	if err := out.Close(); err != nil {
		return "", n, err
	}
	if err := os.Rename(tmp, dst); err != nil {
		_ = os.Remove(tmp)
		done = true
		return "", n, err
	}
	done = true
	return sum, n, nil
}

// dirSyncer creates directories and remembers which ones gained or lost
// entries, to fsync each once at the end instead of once per file.
type dirSyncer struct{ dirs map[string]bool }

func newDirSyncer() *dirSyncer { return &dirSyncer{dirs: map[string]bool{}} }

func (d *dirSyncer) touched(dir string) { d.dirs[dir] = true }

// mkdirAll creates dir and missing parents (0700), marking each parent of
// a new directory for fsync.
func (d *dirSyncer) mkdirAll(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := d.mkdirAll(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	d.touched(parent)
	return nil
}

func (d *dirSyncer) sync() error {
	names := make([]string, 0, len(d.dirs))
	for dir := range d.dirs {
		names = append(names, dir)
	}
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) }) // children first
	for _, dir := range names {
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	clear(d.dirs)
	return nil
}

// syncDir fsyncs a directory so entries created or renamed in it survive a
// power loss.
func syncDir(dir string) error {
	f, err := os.Open(dir) // #nosec G304 -- a directory of the data dir or backup
	if err != nil {
		return err
	}
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(serr, cerr); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// isWithin reports whether path lies strictly inside dir (both absolute
// and clean).
func isWithin(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && filepath.IsLocal(rel)
}

// sameFile reports whether two paths name the same existing file.
func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}
