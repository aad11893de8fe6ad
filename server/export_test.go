package server

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/rechargekit/rechargekit/internal/testkit"
)

// Clock is the clock a test moves by hand, shared by the package's internal
// and external tests: testkit's, which every package's tests use.
type Clock = testkit.Clock

// NewClock returns a Clock showing t.
func NewClock(t time.Time) *Clock { return testkit.NewClock(t) }

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
