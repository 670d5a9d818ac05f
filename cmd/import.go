package cmd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/photovault/photovault/cmd/config"
	"github.com/photovault/photovault/server"
	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/blob"
	"github.com/photovault/photovault/store/imaging"
	"github.com/photovault/photovault/store/kv"
	"github.com/spf13/cobra"
)

// defaultImportWorkers is how many files import ingests at once when
// --workers is 0: two keep both the disk and a core busy without starving
// a serve running next to it.
const defaultImportWorkers = 2

func newImportCmd(e env) *cobra.Command {
	c := &cobra.Command{
		Use:   "import DIR --album TITLE --owner USERNAME [--workers N]",
		Short: "Import every photo and video under DIR into an album",
		Long: "Import walks DIR recursively and stores every photo and video in the owner's album (created when no\n" +
			"album has that title), with the same checks as an upload: type by content, size cap, pixel-flood guard.\n" +
			"It is resumable: files whose content the album already holds are skipped, so an interrupted import\n" +
			"is finished by running it again. Hidden files and directories are ignored. Then it makes the previews\n" +
			"and thumbnails of everything queued, with a progress line (--derive=false, or Ctrl-C, leaves them to\n" +
			"`photovault serve`; the files show as processing until then). Exit status 1 if any file failed.",
		Args: cobra.ExactArgs(1),
	}
	var albumTitle, username string
	c.Flags().StringVar(&albumTitle, "album", "", "title of the album to import into (created if missing)")
	c.Flags().StringVar(&username, "owner", "", "username of the owner")
	derive := true
	c.Flags().BoolVar(&derive, "derive", true, "make previews and thumbnails after importing (false: leave them to serve)")
	load := withConfig(c, e)
	// --workers is the shared setting (derivative workers for serve); for
	// import it means files ingested in parallel.
	if f := c.Flags().Lookup("workers"); f != nil {
		f.Usage = fmt.Sprintf("files imported in parallel (0: %d)", defaultImportWorkers)
	}
	c.RunE = func(cmd *cobra.Command, args []string) error {
		albumTitle = strings.TrimSpace(albumTitle)
		if albumTitle == "" || utf8.RuneCountInString(albumTitle) > 200 {
			return errors.New("--album is required (1 to 200 characters)")
		}
		if strings.TrimSpace(username) == "" {
			return errors.New("--owner is required")
		}
		cfg, err := load()
		if err != nil {
			return err
		}
		workers, deriveWorkers := cfg.Workers, cfg.Workers
		if workers <= 0 {
			workers, deriveWorkers = defaultImportWorkers, runtime.NumCPU()
		}
		return runImport(cmd.Context(), cfg, e, importOptions{dir: args[0], album: albumTitle, owner: username,
			workers: workers, derive: derive, deriveWorkers: deriveWorkers})
	}
	return c
}

type importOptions struct {
	dir, album, owner string
	workers           int
	derive            bool // make derivatives after the import
	deriveWorkers     int
}

// importFile is one candidate file found under DIR.
type importFile struct {
	path, rel string
	size      int64
}

// importResult is what became of one file.
type importResult struct {
	file   importFile
	status string // imported, duplicate, skipped, rejected
	reason string
}

// runImport opens the vault like serve does (but never cleans tmp/, which a
// running serve may be using) and ingests the files through the same
// server.Ingest as HTTP uploads. The KV store is a fresh temp directory:
// serve holds the lock on the vault's own, and import needs none of its
// contents.
func runImport(ctx context.Context, cfg *config.Config, e env, o importOptions) error {
	info, err := os.Stat(o.dir)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("import: %s is not a directory", o.dir)
	}
	log := newLogger(e.stderr, "warn")
	v, err := openVault(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeLogged(e.stderr, "vault", v)
	if err := os.MkdirAll(cfg.TmpDir(), 0o700); err != nil {
		return fmt.Errorf("tmp dir: %w", err)
	}
	blobs, err := blob.New(cfg.BlobRoot(), cfg.TmpDir())
	if err != nil {
		return fmt.Errorf("blobs: %w", err)
	}
	kvDir, err := os.MkdirTemp("", "photovault-import-kv-")
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer func() { _ = os.RemoveAll(kvDir) }()
	kvs, err := kv.Open(kvDir, log)
	if err != nil {
		return fmt.Errorf("kv: %w", err)
	}
	defer closeLogged(e.stderr, "kv", kvs)
	ver, _, _ := buildInfo()
	srv, err := server.New(server.Deps{Config: cfg, Log: log, Store: v.store, Blobs: blobs, KV: kvs,
		Master: v.master, Secret: v.secret, Version: ver})
	if err != nil {
		return err
	}

	u, err := v.store.UserByUsername(ctx, o.owner)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no owner named %q (see `photovault user list`)", o.owner)
	}
	if err != nil {
		return err
	}
	album, created, err := findOrCreateAlbum(ctx, v.store, u.ID, o.album)
	if err != nil {
		return err
	}
	// Resumability: content already in the album is skipped after hashing,
	// which costs one read instead of an encrypt, fsync and delete.
	existing, err := v.store.AlbumMedia(ctx, u.ID, album.ID)
	if err != nil {
		return err
	}
	known := make(map[string]bool, len(existing))
	for _, m := range existing {
		known[m.SHA256] = true
	}

	files, hidden, err := listImportFiles(o.dir)
	if err != nil {
		return err
	}
	var total int64
	for _, f := range files {
		total += f.size
	}
	verb := "into"
	if created {
		verb = "into new"
	}
	fmt.Fprintf(e.stderr, "Importing %d files (%s) %s album %q (%s) for %s with %d workers\n",
		len(files), importSize(total), verb, album.Title, album.ID, u.Username, o.workers)

	prog := newImportProgress(e.stderr, len(files), total)
	stopProgress := prog.run()
	results := make([]importResult, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for range o.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = importOne(ctx, srv, u.ID, album.ID, files[i], known, prog)
				prog.fileDone()
			}
		}()
	}
dispatch:
	for i := range files {
		select {
		case next <- i:
		case <-ctx.Done():
			break dispatch
		}
	}
	close(next)
	wg.Wait()
	stopProgress()

	var derived *deriveOutcome
	if o.derive {
		if derived, err = deriveImported(ctx, e, srv, v.store, u.ID, album.ID, o.deriveWorkers); err != nil {
			return err
		}
	}
	return importSummary(ctx, e, v.store, u.ID, album, results, hidden, derived)
}

// deriveOutcome is the state of the album's media after deriveImported.
type deriveOutcome struct {
	ready, failed, processing int
}

// deriveImported runs the queued derive jobs (this import's, and any left
// by earlier uploads) until none is ready, with a progress line, then
// counts the album's media by status.
func deriveImported(ctx context.Context, e env, srv *server.Server, st *store.Store, owner, albumID string, workers int) (*deriveOutcome, error) {
	pending, err := st.PendingJobs(ctx, store.JobDerive)
	if err != nil {
		return nil, err
	}
	if pending > 0 && ctx.Err() == nil {
		fmt.Fprintf(e.stderr, "Making previews and thumbnails for %d files with %d workers (Ctrl-C leaves the rest to `photovault serve`)\n",
			pending, workers)
		prog := newImportProgress(e.stderr, pending, 0)
		prog.noun = "previews"
		stop := prog.run()
		srv.DeriveQueued(ctx, workers, prog.fileDone)
		stop()
	}
	media, err := st.AlbumMedia(context.WithoutCancel(ctx), owner, albumID)
	if err != nil {
		return nil, err
	}
	var d deriveOutcome
	for _, m := range media {
		switch m.Status {
		case store.MediaStatusReady:
			d.ready++
		case store.MediaStatusFailed:
			d.failed++
		default:
			d.processing++
		}
	}
	return &d, nil
}

// findOrCreateAlbum returns the owner's oldest album with exactly this
// title, or a new one.
func findOrCreateAlbum(ctx context.Context, st *store.Store, owner, title string) (store.Album, bool, error) {
	albums, err := st.Albums(ctx, owner)
	if err != nil {
		return store.Album{}, false, err
	}
	var found *store.Album
	for i := range albums { // newest first: the last match is the oldest
		if albums[i].Title == title {
			found = &albums[i]
		}
	}
	if found != nil {
		return *found, false, nil
	}
	a, err := st.CreateAlbum(ctx, owner, title, "")
	if err != nil {
		return store.Album{}, false, err
	}
	if err := st.Audit(ctx, store.AuditEvent{Type: "album_created", Actor: "cli", OwnerID: owner, Target: a.ID, Detail: "import"}); err != nil {
		return store.Album{}, false, err
	}
	return a, true, nil
}

// listImportFiles walks dir and returns its regular files (following
// symlinks to files, not to directories) sorted by path, and how many
// hidden entries were ignored.
func listImportFiles(dir string) ([]importFile, int, error) {
	var files []importFile
	hidden := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			hidden++
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		info, err := os.Stat(p) // follows a symlink to a file
		if err != nil || !info.Mode().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		files = append(files, importFile{path: p, rel: rel, size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("import: %w", err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })
	return files, hidden, nil
}

// importOne ingests one file. known is read-only here: a file whose hash is
// in it is skipped; duplicates among the new files are caught by Ingest.
func importOne(ctx context.Context, srv *server.Server, owner, albumID string, f importFile, known map[string]bool, prog *importProgress) importResult {
	res := importResult{file: f}
	if err := ctx.Err(); err != nil {
		res.status, res.reason = "rejected", "interrupted"
		return res
	}
	fh, err := os.Open(f.path)
	if err != nil {
		res.status, res.reason = "rejected", err.Error()
		return res
	}
	defer func() { _ = fh.Close() }() // read-only
	if len(known) > 0 {
		h := sha256.New()
		if _, err := io.Copy(h, fh); err != nil {
			res.status, res.reason = "rejected", err.Error()
			return res
		}
		if known[hex.EncodeToString(h.Sum(nil))] {
			prog.addBytes(f.size)
			res.status = "skipped"
			return res
		}
		if _, err := fh.Seek(0, io.SeekStart); err != nil {
			res.status, res.reason = "rejected", err.Error()
			return res
		}
	}
	_, dup, err := srv.Ingest(ctx, owner, albumID, filepath.Base(f.path), &importCounter{r: fh, prog: prog})
	switch {
	case err != nil:
		res.status, res.reason = "rejected", importReason(err)
	case dup:
		res.status = "duplicate"
	default:
		res.status = "imported"
	}
	return res
}

// importReason is the one-line reason shown for a rejected file.
func importReason(err error) string {
	switch {
	case errors.Is(err, server.ErrTooLarge):
		return "larger than the upload limit (PHOTOVAULT_MAX_UPLOAD_BYTES)"
	case errors.Is(err, imaging.ErrPixelFlood):
		return "image dimensions exceed the pixel limit (PHOTOVAULT_MAX_PIXELS)"
	case errors.Is(err, imaging.ErrUnsupported):
		return "not a supported photo or video"
	case errors.Is(err, imaging.ErrCorrupt):
		return "unreadable image header"
	case errors.Is(err, context.Canceled):
		return "interrupted"
	}
	return err.Error()
}

func importSummary(ctx context.Context, e env, st *store.Store, owner string, album store.Album, results []importResult, hidden int, derived *deriveOutcome) error {
	count := map[string]int{}
	var bytesIn int64
	var rejected []importResult
	for _, r := range results {
		if r.status == "" {
			r.status, r.reason = "rejected", "interrupted"
		}
		count[r.status]++
		switch r.status {
		case "imported":
			bytesIn += r.file.size
		case "rejected":
			rejected = append(rejected, r)
		}
	}
	out := e.stdout
	fmt.Fprintf(out, "Imported %d files (%s) into %q (%s).\n", count["imported"], importSize(bytesIn), album.Title, album.ID)
	fmt.Fprintf(out, "Skipped %d already in the album, %d duplicates within this import", count["skipped"], count["duplicate"])
	if hidden > 0 {
		fmt.Fprintf(out, ", %d hidden entries", hidden)
	}
	fmt.Fprintln(out, ".")
	if len(rejected) > 0 {
		fmt.Fprintf(out, "Rejected %d:\n", len(rejected))
		for _, r := range rejected {
			fmt.Fprintf(out, "  %s: %s\n", r.file.rel, r.reason)
		}
	}
	switch {
	case derived != nil:
		fmt.Fprintf(out, "Previews and thumbnails: %d ready", derived.ready)
		if derived.failed > 0 {
			fmt.Fprintf(out, ", %d failed (shown as placeholders; the originals are kept)", derived.failed)
		}
		if derived.processing > 0 {
			fmt.Fprintf(out, ", %d left to `photovault serve`", derived.processing)
		}
		fmt.Fprintln(out, ".")
	case count["imported"] > 0:
		fmt.Fprintln(out, "Thumbnails and previews are made by `photovault serve`.")
	}
	detail := fmt.Sprintf("imported %d, skipped %d, duplicates %d, rejected %d", count["imported"], count["skipped"], count["duplicate"], len(rejected))
	if err := st.Audit(context.WithoutCancel(ctx), store.AuditEvent{Type: "media_imported", Actor: "cli", OwnerID: owner, Target: album.ID, Detail: detail}); err != nil {
		return err
	}
	if len(rejected) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d of %d files were not imported", len(rejected), len(results))}
	}
	return nil
}

// importCounter reports bytes read to the progress line.
type importCounter struct {
	r    io.Reader
	prog *importProgress
}

func (c *importCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.prog.addBytes(int64(n))
	return n, err
}

// importProgress draws the import progress on stderr: a self-overwriting line
// (\r) when stderr is a terminal, a plain line every few seconds otherwise
// (logs, CI).
type importProgress struct {
	w          io.Writer
	tty        bool
	files      int
	totalBytes int64
	noun       string // what is counted: "files" (default) or "previews"
	doneFiles  atomic.Int64
	doneBytes  atomic.Int64
	start      time.Time
	mu         sync.Mutex // serialises writes to w
}

func newImportProgress(w io.Writer, files int, total int64) *importProgress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &importProgress{w: w, tty: tty, files: files, totalBytes: total, start: time.Now()}
}

func (p *importProgress) addBytes(n int64) { p.doneBytes.Add(n) }
func (p *importProgress) fileDone()        { p.doneFiles.Add(1) }

// run draws until the returned stop function is called, which draws the
// final state.
func (p *importProgress) run() func() {
	every := 5 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p.draw(false)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		p.draw(true)
	}
}

func (p *importProgress) draw(final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := p.line(time.Since(p.start))
	switch {
	case p.tty && final:
		fmt.Fprintf(p.w, "\r%s\x1b[K\n", line)
	case p.tty:
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
	default:
		fmt.Fprintln(p.w, line)
	}
}

// line renders "[#####.....] 12/40 files  120.5 MB/300.0 MB  45.3 MB/s  ETA 4s",
// or, counting items without bytes, "[#####.....] 12/40 previews  3.1/s  ETA 9s".
func (p *importProgress) line(elapsed time.Duration) string {
	files, done := p.doneFiles.Load(), p.doneBytes.Load()
	total := p.totalBytes
	if total == 0 { // count items
		done, total = files, int64(p.files)
	}
	frac := 1.0
	if total > 0 {
		frac = min(float64(done)/float64(total), 1)
	}
	const width = 24
	filled := int(frac * width)
	bar := strings.Repeat("#", filled) + strings.Repeat(".", width-filled)
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(done) / s
	}
	eta := "--"
	if rate > 0 && done < total {
		eta = (time.Duration(float64(total-done)/rate) * time.Nanosecond).Round(time.Second).String()
	} else if done >= total {
		eta = "0s"
	}
	noun := p.noun
	if noun == "" {
		noun = "files"
	}
	if p.totalBytes == 0 {
		return fmt.Sprintf("[%s] %d/%d %s  %.1f/s  ETA %s", bar, files, p.files, noun, rate, eta)
	}
	return fmt.Sprintf("[%s] %d/%d %s  %s/%s  %s/s  ETA %s", bar, files, p.files, noun,
		importSize(done), importSize(p.totalBytes), importSize(int64(rate)), eta)
}

// importSize formats a byte count with SI units.
func importSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
