package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Size returns the bytes the database takes on disk: the file after its
// write-ahead log was checkpointed into it, plus what the log still holds
// when a reader kept the checkpoint from finishing.
func (s *Store) Size(ctx context.Context) (int64, error) {
	if _, err := s.writer.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return 0, fmt.Errorf("sqlite: checkpoint %s: %w", s.path, err)
	}
	var total int64
	for _, p := range []string{s.path, s.path + "-wal"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("sqlite: size of %s: %w", p, err)
		}
		total += fi.Size()
	}
	return total, nil
}
