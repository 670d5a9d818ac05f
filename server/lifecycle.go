package server

import (
	"context"
	"sync"
)

// Start launches the server's background work (workers, collectors,
// flushers) under ctx; each registers with wg so shutdown can wait for it.
func (s *Server) Start(ctx context.Context, wg *sync.WaitGroup) error {
	for _, job := range s.background {
		wg.Add(1)
		go func(run func(context.Context)) {
			defer wg.Done()
			run(ctx)
		}(job)
	}
	return nil
}

// Stop flushes what background work buffers (access events) before the
// stores close.
func (s *Server) Stop(ctx context.Context) {
	for _, f := range s.flushers {
		f(ctx)
	}
}
