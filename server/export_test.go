package server

import (
	"log/slog"
	"net/http"
)

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
