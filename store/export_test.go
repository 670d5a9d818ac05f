package store

import "context"

// ExecForTest runs raw SQL on the writer, so tests can play an attacker who
// edits the database file behind the application's back.
func (s *Store) ExecForTest(ctx context.Context, q string, args ...any) error {
	_, err := s.write.ExecContext(ctx, q, args...)
	return err
}
