package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"image/jpeg"
	"io"
	"log"
	"net"
	"net/http"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/blob"
	"github.com/photovault/photovault/store/imaging"
)

// Derivative worker timing. The lease is renewed every jobLease/3 while a
// job runs, so a live worker never loses its job, and a job whose worker
// died (crash, SIGKILL) runs again within a minute of the next start.
const (
	jobLease = time.Minute
	jobPoll  = 2 * time.Second
	// readBuffer sizes the buffered reader over a decrypting blob reader
	// (which itself works in 64 KiB chunks).
	readBuffer = 256 << 10
)

// Derivative variants the worker writes (store.Derivative.Variant).
const (
	derivPreview  = "preview"
	derivThumb    = "thumb"
	derivStripped = "stripped"
)

// errPermanent marks a job failure that no retry can cure (a corrupt or
// tampered file, a decoder panic): the job fails at once.
var errPermanent = errors.New("server: permanent job failure")

// initWorkers registers the background work of the vault (derivative
// workers, blob collector, orphan reconciler) in s.background.
func (s *Server) initWorkers() {
	n := 0
	if s.cfg != nil {
		n = s.cfg.Workers
	}
	if n <= 0 {
		n = runtime.NumCPU()
	}
	for i := 0; i < n; i++ {
		s.background = append(s.background, s.deriveWorker)
	}
	s.background = append(s.background, s.collector)
}

// deriveWorker runs derive jobs until ctx ends. It wakes on an upload's
// kick or every jobPoll (retries whose backoff ran out, jobs left by a
// crash), then drains the queue. A job already started is finished even
// when ctx ends, so shutdown waits at most one derivation per worker.
func (s *Server) deriveWorker(ctx context.Context) {
	t := time.NewTicker(jobPoll)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			if !s.runDeriveJob(ctx) {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.jobKick:
		case <-t.C:
		}
	}
}

// runDeriveJob claims and runs one derive job; false when none was ready.
func (s *Server) runDeriveJob(ctx context.Context) bool {
	j, err := s.store.ClaimJob(ctx, store.JobDerive, jobLease)
	if errors.Is(err, store.ErrNoJob) {
		return false
	}
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error().Err(err).Msg("derive: claim job")
		}
		return false
	}
	// More jobs may be waiting: pass the wake-up on to an idle worker.
	s.kickJobs()
	wctx := context.WithoutCancel(ctx)
	stop := s.keepLease(wctx, j)
	start := time.Now()
	res, err := s.deriveSafely(wctx, j.Target)
	stop()
	s.finishJob(wctx, j, res, err, time.Since(start))
	return true
}

// DeriveQueued runs derive jobs on workers goroutines until none is ready
// to run or ctx ends (a job already started is finished), calling done
// after each job, and returns how many ran. It is what `photovault import`
// uses to finish its files without a running serve; jobs waiting out a
// retry backoff are left for serve. Running next to serve is safe: each
// job is claimed under a lease by one worker at a time.
func (s *Server) DeriveQueued(ctx context.Context, workers int, done func()) int {
	var ran atomic.Int64
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && s.runDeriveJob(ctx) {
				ran.Add(1)
				if done != nil {
					done()
				}
			}
		}()
	}
	wg.Wait()
	return int(ran.Load())
}

// keepLease renews j's lease until the returned stop is called.
func (s *Server) keepLease(ctx context.Context, j store.Job) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(jobLease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := s.store.ExtendJob(ctx, j, jobLease); err != nil {
					s.log.Warn().Err(err).Str("media_id", j.Target).Msg("derive: extend lease")
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// deriveResult is what one derive job produced.
type deriveResult struct {
	gone        bool // the media was deleted meanwhile: nothing to do
	kind        string
	placeholder bool // no decoder for this kind (video, AVIF): clients show a placeholder
	preview     int64
	thumb       int64
	stripped    bool
}

// deriveSafely is deriveMedia with a decoder panic turned into a permanent
// failure: a hostile file must cost its own job, not the process.
func (s *Server) deriveSafely(ctx context.Context, mediaID string) (res deriveResult, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: panic: %v", errPermanent, r)
		}
	}()
	res, err = s.deriveMedia(ctx, mediaID)
	if err != nil {
		// Deleted while being derived: its rows went, and so did ours.
		if _, merr := s.store.MediaForJob(ctx, mediaID); errors.Is(merr, store.ErrNotFound) {
			return deriveResult{gone: true, kind: res.kind}, nil
		}
	}
	return res, err
}

// finishJob records the outcome of a job and logs it.
func (s *Server) finishJob(ctx context.Context, j store.Job, res deriveResult, jobErr error, took time.Duration) {
	ev := s.log.Info()
	if jobErr == nil && !res.gone {
		if err := s.store.SetMediaStatus(ctx, j.Target, store.MediaStatusReady); errors.Is(err, store.ErrNotFound) {
			res.gone = true
		} else if err != nil {
			jobErr = err
		}
	}
	var err error
	var outcome string
	switch {
	case jobErr == nil:
		outcome = "done"
		err = s.store.CompleteJob(ctx, j)
	case permanent(jobErr):
		outcome = "failed"
		ev = s.log.Warn().Err(jobErr)
		err = s.store.AbandonJob(ctx, j, jobErr)
	default:
		backoff := store.JobBackoff(j.Attempts)
		var final bool
		final, err = s.store.FailJob(ctx, j, jobErr, backoff)
		outcome = "retry"
		if final {
			outcome = "failed"
		}
		ev = s.log.Warn().Err(jobErr).Dur("retry_in", backoff)
	}
	if err != nil && !(res.gone && errors.Is(err, store.ErrLeaseLost)) { // deleting media drops its job row
		s.log.Error().Err(err).Str("media_id", j.Target).Msg("derive: record job outcome")
	}
	ev.Str("media_id", j.Target).Str("kind", res.kind).Int("attempt", j.Attempts).Int64("ms", took.Milliseconds()).
		Str("outcome", outcome).Bool("gone", res.gone).Bool("placeholder", res.placeholder).
		Int64("preview_bytes", res.preview).Int64("thumb_bytes", res.thumb).Bool("stripped", res.stripped).
		Msg("derive job")
}

// permanent reports whether a job error is one that retrying cannot cure.
func permanent(err error) bool {
	return errors.Is(err, errPermanent) || errors.Is(err, imaging.ErrCorrupt) || errors.Is(err, imaging.ErrPixelFlood) ||
		errors.Is(err, blob.ErrCorrupt) || errors.Is(err, blob.ErrWrongKey)
}

// deriveMedia makes the preview and thumbnail of a media item and, for
// kinds that carry location metadata, its location-free copy.
func (s *Server) deriveMedia(ctx context.Context, mediaID string) (deriveResult, error) {
	var res deriveResult
	m, err := s.store.MediaForJob(ctx, mediaID)
	if errors.Is(err, store.ErrNotFound) {
		res.gone = true
		return res, nil
	}
	if err != nil {
		return res, err
	}
	res.kind = m.Kind
	r, err := s.openBlob(ctx, m.BlobID)
	if errors.Is(err, store.ErrNotFound) {
		return res, fmt.Errorf("%w: blob row %s missing", errPermanent, m.BlobID)
	}
	if err != nil {
		return res, err
	}
	defer r.Close()

	head := make([]byte, imaging.SniffLen)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return res, fmt.Errorf("server: derive: read head: %w", err)
	}
	d, err := imaging.Sniff(head[:n])
	if err != nil {
		// It passed Sniff at upload; only a change of rules gets here.
		res.placeholder = true
		return res, nil
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return res, fmt.Errorf("server: derive: %w", err)
	}
	preview, thumb, err := imaging.Derive(bufio.NewReaderSize(r, readBuffer), d, m.Orientation)
	if errors.Is(err, imaging.ErrUnsupported) && d.IsVideo {
		// A poster frame when ffmpeg is installed; without one (or when it
		// cannot decode this file) the video is still stored and streamed.
		preview, thumb, err = s.videoPoster(ctx, r)
		if err != nil && !errors.Is(err, errNoFFmpeg) {
			s.log.Warn().Err(err).Str("media_id", m.ID).Msg("derive: no poster frame")
		}
		if err != nil {
			err = imaging.ErrUnsupported
		}
	}
	switch {
	case errors.Is(err, imaging.ErrUnsupported):
		res.placeholder = true // AVIF, video without ffmpeg: stored and streamed, no derivatives
	case err != nil:
		return res, err
	default:
		if err := s.storeDerivative(ctx, m.ID, derivPreview, "image/jpeg", preview); err != nil {
			return res, err
		}
		res.preview = int64(len(preview))
		if err := s.storeDerivative(ctx, m.ID, derivThumb, "image/jpeg", thumb); err != nil {
			return res, err
		}
		res.thumb = int64(len(thumb))
	}

	switch d.Kind {
	case imaging.KindJPEG, imaging.KindPNG, imaging.KindWebP:
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return res, fmt.Errorf("server: derive: %w", err)
		}
		res.stripped, err = s.storeStripped(ctx, m, d, r)
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// storeDerivative encrypts an in-memory derivative into a new blob and
// records it. The row commits only after the file is durable; if the row
// cannot be written the file is removed again.
func (s *Server) storeDerivative(ctx context.Context, mediaID, variant, contentType string, data []byte) error {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("server: derive %s: own output: %w", variant, err)
	}
	w, err := s.blobs.Create(s.kek())
	if err != nil {
		return fmt.Errorf("server: derive %s: %w", variant, err)
	}
	if _, err := w.Write(data); err != nil {
		_ = w.Abort()
		return fmt.Errorf("server: derive %s: %w", variant, err)
	}
	ref, err := w.Commit()
	if err != nil {
		return fmt.Errorf("server: derive %s: %w", variant, err)
	}
	d := store.Derivative{MediaID: mediaID, Variant: variant, Size: int64(len(data)), CRC32: crc32.ChecksumIEEE(data),
		ContentType: contentType, Width: cfg.Width, Height: cfg.Height}
	return s.recordDerivative(ctx, d, ref)
}

// recordDerivative writes the derivative row for a committed blob, or
// deletes the blob when that fails (e.g. the media was deleted meanwhile).
func (s *Server) recordDerivative(ctx context.Context, d store.Derivative, ref blob.Ref) error {
	if err := s.store.PutDerivative(ctx, d, ref); err != nil {
		if derr := s.blobs.Delete(ref.ID); derr != nil {
			s.log.Warn().Err(derr).Str("blob_id", ref.ID).Msg("derive: remove unrecorded blob (the reconciler will)")
		}
		return fmt.Errorf("server: record %s of %s: %w", d.Variant, d.MediaID, err)
	}
	return nil
}

// countingCRC measures what passes through it: size and CRC-32, so ZIPs of
// the stripped copy can be laid out before its bytes are read.
type countingCRC struct {
	n   int64
	crc uint32
}

func (c *countingCRC) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	c.crc = crc32.Update(c.crc, crc32.IEEETable, p)
	return len(p), nil
}

// storeStripped makes the location-free copy of an original (read from
// src, positioned at its start) and records it as the "stripped" variant
// when anything was removed. It reports whether a variant was stored.
//
// A JPEG is stored as a splice when it can be: only the rewritten header
// goes into a new blob, and the rest — the compressed pixels, which
// stripping copies verbatim — is served from the original, so the copy
// costs kilobytes instead of a second full file. The splice is checked
// before it is recorded: the SHA-256 of head + original range must equal
// that of the stripped stream. Anything else is stored as a full copy.
func (s *Server) storeStripped(ctx context.Context, m store.JobMedia, d imaging.Detected, src io.ReadSeeker) (bool, error) {
	if d.Kind == imaging.KindJPEG {
		stored, full, err := s.storeStrippedSplice(ctx, m, src)
		if err != nil || !full {
			return stored, err
		}
		if _, err := src.Seek(0, io.SeekStart); err != nil {
			return false, fmt.Errorf("server: strip: %w", err)
		}
	}
	w, err := s.blobs.Create(s.kek())
	if err != nil {
		return false, fmt.Errorf("server: strip: %w", err)
	}
	var c countingCRC
	changed, err := imaging.StripLocation(bufio.NewReaderSize(src, readBuffer), io.MultiWriter(w, &c), d)
	if err != nil || !changed {
		_ = w.Abort()
		if err != nil {
			return false, fmt.Errorf("server: strip: %w", err)
		}
		return false, nil
	}
	ref, err := w.Commit()
	if err != nil {
		return false, fmt.Errorf("server: strip: %w", err)
	}
	dv := store.Derivative{MediaID: m.ID, Variant: derivStripped, Size: c.n, CRC32: c.crc,
		ContentType: m.ContentType, Width: m.Width, Height: m.Height}
	if err := s.recordDerivative(ctx, dv, ref); err != nil {
		return false, err
	}
	return true, nil
}

// headBuffer keeps the first max bytes written to it and counts the rest.
type headBuffer struct {
	buf []byte
	max int
}

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := h.max - len(h.buf); room > 0 {
		h.buf = append(h.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// storeStrippedSplice strips a JPEG without storing its output, then stores
// the head and records the splice. full is true when the caller must store
// a full copy instead (no splice point, a head over maxSpliceHead, or a
// splice that does not reproduce the stream).
func (s *Server) storeStrippedSplice(ctx context.Context, m store.JobMedia, src io.ReadSeeker) (stored, full bool, err error) {
	var c countingCRC
	sum := sha256.New()
	head := &headBuffer{max: maxSpliceHead}
	changed, sp, err := imaging.StripJPEGSplice(bufio.NewReaderSize(src, readBuffer), io.MultiWriter(&c, sum, head))
	switch {
	case err != nil:
		return false, false, fmt.Errorf("server: strip: %w", err)
	case !changed:
		return false, false, nil
	case !sp.OK || sp.HeadLen > int64(len(head.buf)) || sp.HeadLen >= c.n:
		return false, true, nil
	}
	hd, length := head.buf[:sp.HeadLen], c.n-sp.HeadLen
	check := sha256.New()
	_, _ = check.Write(hd)
	if _, err := src.Seek(sp.SrcOffset, io.SeekStart); err != nil {
		return false, false, fmt.Errorf("server: strip: %w", err)
	}
	if n, err := io.CopyN(check, src, length); err != nil || n != length || !bytes.Equal(check.Sum(nil), sum.Sum(nil)) {
		s.log.Warn().Err(err).Str("media_id", m.ID).Msg("derive: location-free splice does not reproduce the stream; storing a full copy")
		return false, true, nil
	}
	w, err := s.blobs.Create(s.kek())
	if err != nil {
		return false, false, fmt.Errorf("server: strip: %w", err)
	}
	if _, err := w.Write(hd); err != nil {
		_ = w.Abort()
		return false, false, fmt.Errorf("server: strip: %w", err)
	}
	ref, err := w.Commit()
	if err != nil {
		return false, false, fmt.Errorf("server: strip: %w", err)
	}
	dv := store.Derivative{MediaID: m.ID, Variant: derivStripped, Size: sp.HeadLen, CRC32: crc32.ChecksumIEEE(hd),
		ContentType: m.ContentType, Width: m.Width, Height: m.Height,
		Splice: &store.Splice{Offset: sp.SrcOffset, Length: length, CRC32: c.crc}}
	if err := s.recordDerivative(ctx, dv, ref); err != nil {
		return false, false, err
	}
	return true, false, nil
}

// errNoFFmpeg reports that ffmpeg is not on PATH: videos get no poster.
var errNoFFmpeg = errors.New("server: ffmpeg not installed")

// Poster frame limits.
const (
	posterTimeout  = 60 * time.Second
	maxPosterBytes = 32 << 20
)

// videoPoster asks ffmpeg for one frame of a video (at 1 s, else the first)
// and derives preview and thumbnail from it. ffmpeg reads the video from
// a loopback HTTP listener that serves the decrypting blob reader with
// Range support under a random path, so no plaintext ever touches the
// disk and ffmpeg can seek to an index at the end of the file. Against a
// hostile file: the demuxer is forced to mov/mp4 (no playlist formats),
// only the http and tcp protocols are allowed (no file: reads through
// references inside the file), the run is time-boxed and the output
// capped.
func (s *Server) videoPoster(ctx context.Context, r *blob.Reader) (preview, thumb []byte, err error) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return nil, nil, errNoFFmpeg
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("server: poster: %w", err)
	}
	var tok [16]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, nil, fmt.Errorf("server: poster: %w", err)
	}
	path := "/" + hex.EncodeToString(tok[:])
	size := r.Size()
	hs := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.URL.Path != path {
				http.NotFound(w, req)
				return
			}
			// A section reader per request: ffmpeg may reconnect to seek.
			http.ServeContent(w, req, "", time.Time{}, io.NewSectionReader(r, 0, size))
		}),
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() { _ = hs.Serve(ln) }()
	defer func() { _ = hs.Close() }() // loopback poster listener; nothing to report on close

	ctx, cancel := context.WithTimeout(ctx, posterTimeout)
	defer cancel()
	url := "http://" + ln.Addr().String() + path
	var lastErr error
	for _, at := range []string{"1", "0"} {
		// #nosec G204 -- fixed arguments; the only variable is our own loopback URL
		cmd := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
			"-protocol_whitelist", "http,tcp", "-f", "mov", "-ss", at, "-i", url,
			"-frames:v", "1", "-an", "-sn", "-dn",
			// Down to the preview box, never up.
			"-vf", fmt.Sprintf("scale=w='min(%d,iw)':h='min(%d,ih)':force_original_aspect_ratio=decrease", imaging.PreviewBox, imaging.PreviewBox),
			"-f", "image2pipe", "-c:v", "mjpeg", "-q:v", "2", "pipe:1")
		cmd.Env = []string{}
		out := &cappedBuffer{max: maxPosterBytes}
		errOut := &cappedBuffer{max: 2048}
		cmd.Stdout, cmd.Stderr = out, errOut
		if err := cmd.Run(); err != nil || out.Len() == 0 {
			lastErr = fmt.Errorf("server: poster: ffmpeg at %ss: %v: %s", at, err, strings.TrimSpace(errOut.String()))
			continue
		}
		preview, thumb, err := imaging.Derive(bytes.NewReader(out.Bytes()), imaging.Detected{Kind: imaging.KindJPEG, ContentType: "image/jpeg", IsImage: true}, 1)
		if err != nil {
			return nil, nil, fmt.Errorf("server: poster: %w", err)
		}
		return preview, thumb, nil
	}
	return nil, nil, lastErr
}

// cappedBuffer keeps at most max bytes and then fails the writer, which
// stops ffmpeg from producing unbounded output.
type cappedBuffer struct {
	bytes.Buffer
	max int
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if c.Len()+len(p) > c.max {
		return 0, errors.New("server: output too large")
	}
	return c.Buffer.Write(p)
}
