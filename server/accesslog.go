package server

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/photovault/photovault/store"
)

// accessLog batches share access events: handlers hand events to a buffered
// channel and one flusher writes them in transactions of up to 1000 rows, so
// /content at thousands of requests per second does not pay one write
// transaction per event. Stop drains the channel before the store closes: no
// event is lost on a clean shutdown. When the buffer is full, the handler
// waits (backpressure) rather than dropping events.
type accessLog struct {
	ch   chan store.AccessEvent
	done chan struct{}

	mu    sync.Mutex
	views map[string]int // views of unlimited shares not yet written
}

// addView counts one view of a share without a view limit.
func (l *accessLog) addView(shareID string) {
	l.mu.Lock()
	if l.views == nil {
		l.views = map[string]int{}
	}
	l.views[shareID]++
	l.mu.Unlock()
}

// takeViews returns and clears the pending view counts.
func (l *accessLog) takeViews() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	v := l.views
	l.views = nil
	return v
}

// flushViews writes pending view counts; on failure they are put back.
func (s *Server) flushViews(ctx context.Context) {
	v := s.access.takeViews()
	if len(v) == 0 {
		return
	}
	if err := s.store.AddViews(ctx, v); err != nil {
		s.log.Error().Err(err).Int("shares", len(v)).Msg("view count write failed; will retry")
		for id, n := range v {
			for i := 0; i < n; i++ {
				s.access.addView(id)
			}
		}
	}
}

const (
	accessBuffer     = 16384
	accessBatch      = 1000
	accessFlushEvery = 100 * time.Millisecond
)

func (s *Server) initAccessLog() {
	s.access = &accessLog{ch: make(chan store.AccessEvent, accessBuffer), done: make(chan struct{})}
	s.background = append(s.background, s.runAccessFlusher)
	s.flushers = append(s.flushers, func(ctx context.Context) {
		select {
		case <-s.access.done:
		case <-ctx.Done():
			s.log.Warn().Int("pending", len(s.access.ch)).Msg("access log flush timed out")
		}
	})
}

// record queues one event for the share's access log.
func (s *Server) record(r *http.Request, shareID, event, mediaID string) {
	ev := store.AccessEvent{ShareID: shareID, At: s.now(), Event: event, IPHash: s.dailyIPHash(clientIP(r)),
		UserAgent: r.UserAgent(), MediaID: mediaID}
	select {
	case s.access.ch <- ev:
	default:
		s.access.ch <- ev // full: wait for the flusher rather than lose the event
	}
}

func (s *Server) runAccessFlusher(ctx context.Context) {
	defer close(s.access.done)
	batch := make([]store.AccessEvent, 0, accessBatch)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := s.store.InsertAccessEvents(context.WithoutCancel(ctx), batch); err != nil {
			s.log.Error().Err(err).Int("events", len(batch)).Msg("access log write failed")
		}
		batch = batch[:0]
	}
	t := time.NewTicker(accessFlushEvery)
	defer t.Stop()
	for {
		select {
		case ev := <-s.access.ch:
			batch = append(batch, ev)
			if len(batch) >= accessBatch {
				flush()
			}
		case <-t.C:
			flush()
			s.flushViews(context.WithoutCancel(ctx))
		case <-ctx.Done():
			// Drain what handlers queued before shutdown.
			for {
				select {
				case ev := <-s.access.ch:
					batch = append(batch, ev)
					if len(batch) >= accessBatch {
						flush()
					}
				default:
					flush()
					s.flushViews(context.WithoutCancel(ctx))
					return
				}
			}
		}
	}
}

// flushAccessLog writes everything queued so far, view counts included
// (before owner reads of analytics and shares, and in tests).
func (s *Server) flushAccessLog(ctx context.Context) error {
	s.flushViews(ctx)
	var batch []store.AccessEvent
	for {
		select {
		case ev := <-s.access.ch:
			batch = append(batch, ev)
		default:
			return s.store.InsertAccessEvents(ctx, batch)
		}
	}
}
