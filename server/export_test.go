package server

import (
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Clock is a clock a test moves by hand, shared by the package's internal
// and external tests.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Add moves the clock on by d.
func (c *Clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// routeRecorder lists the patterns registered with it.
type routeRecorder []string

func (r *routeRecorder) Handle(pattern string, _ http.Handler) { *r = append(*r, pattern) }

// ConsoleRoutes returns every pattern the console and the JSON API
// register, in registration order, read from the registration itself so
// that a new route cannot escape the security tests.
func ConsoleRoutes() []string {
	var r routeRecorder
	newConsole(Config{Logger: slog.New(slog.DiscardHandler), FrameAncestors: "'none'"}).register(&r)
	return r
}
