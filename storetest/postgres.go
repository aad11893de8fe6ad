package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// MustPostgresSchema creates an empty schema of the test's own on the
// PostgreSQL server at dsn, drops it when the test ends, and returns dsn
// with search_path set to it (as a URL parameter, or as a key=value pair
// for a key=value DSN), so that parallel tests and runs never see each
// other's tables.
func MustPostgresSchema(tb testing.TB, dsn string) string {
	tb.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	schema := "rk_test_" + hex.EncodeToString(b)
	exec := func(sql string) error {
		// Cleanups run after the test's context is cancelled: each
		// statement gets its own bounded one.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE SCHEMA " + schema); err != nil {
		tb.Fatalf("create schema %s: %v", schema, err)
	}
	tb.Cleanup(func() {
		if err := exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " search_path=" + schema // key=value form
	}
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("parse the PostgreSQL URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
