package postgres

import (
	"context"
	"fmt"
)

// Size returns the bytes the store's tables take on disk in the current
// schema, indexes and TOAST included (pg_total_relation_size); rows
// deleted but not yet vacuumed still count, as they take the room.
func (s *Store) Size(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint
		FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
		WHERE ns.nspname = current_schema() AND c.relkind = 'r'`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: size of the database: %w", err)
	}
	return n, nil
}
