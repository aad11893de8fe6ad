package recharge

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// TestRetriesLogAtDebug checks that the retries inside one call log at
// debug only: a call that fails after its retries logs nothing at warn,
// since it returns its final failure and the caller reports that once.
func TestRetriesLogAtDebug(t *testing.T) {
	t.Parallel()
	rec := &recorder{handler: func(w http.ResponseWriter, r *http.Request, n int) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}}
	srv := MustServer(t, rec)
	for _, tt := range []struct {
		level slog.Level
		want  bool
	}{{slog.LevelWarn, false}, {slog.LevelDebug, true}} {
		buf := &syncBuffer{}
		logger := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: tt.level}))
		c := MustClient(t, srv, nil, WithLogger(logger), WithMaxRetries(3))
		if _, _, err := c.Customers.Get(context.Background(), 1, nil); err == nil {
			t.Fatal("a call answered 503 every time succeeded")
		}
		if got := strings.Contains(buf.String(), "recharge: retrying"); got != tt.want {
			t.Errorf("logger at %v: retries logged = %v, want %v:\n%s", tt.level, got, tt.want, buf)
		}
		if tt.level == slog.LevelWarn && buf.String() != "" {
			t.Errorf("logger at warn: a failed call logged:\n%s", buf)
		}
	}
}
