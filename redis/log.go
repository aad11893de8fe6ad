package redis

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"
)

// libraryLog is the logger go-redis's own messages go to: the Logger of the
// Client created last (go-redis has one logger per process), slog.Default()
// before any.
var libraryLog atomic.Pointer[slog.Logger]

func init() {
	// go-redis prints its messages (a pool that failed to dial, a
	// connection it dropped) as plain text on stderr, where the service's
	// logs are JSON lines: route them through slog instead.
	goredis.SetLogger(libraryLogger{})
}

func setLibraryLogger(l *slog.Logger) { libraryLog.Store(l) }

// libraryLogger is a go-redis logger writing to libraryLog.
type libraryLogger struct{}

// Printf implements go-redis's internal.Logging.
func (libraryLogger) Printf(ctx context.Context, format string, v ...any) {
	l := libraryLog.Load()
	if l == nil {
		l = slog.Default()
	}
	l.WarnContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}
