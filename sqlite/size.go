package sqlite

import (
	"context"
	"fmt"
)

// Size returns the bytes the database's data takes on disk: its pages in
// use once the write-ahead log was checkpointed into the file. Free pages
// (what deleted rows left, which SQLite keeps in the file for reuse) are
// not counted, nor is what the log holds when a reader kept the
// checkpoint from finishing.
func (s *Store) Size(ctx context.Context) (int64, error) {
	if _, err := s.writer.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return 0, fmt.Errorf("sqlite: checkpoint %s: %w", s.path, err)
	}
	var pages, free, size int64
	for _, q := range []struct {
		pragma string
		v      *int64
	}{{"page_count", &pages}, {"freelist_count", &free}, {"page_size", &size}} {
		if err := s.writer.QueryRowContext(ctx, "PRAGMA "+q.pragma).Scan(q.v); err != nil {
			return 0, fmt.Errorf("sqlite: size of %s: %w", s.path, err)
		}
	}
	return (pages - free) * size, nil
}
