package rechargetest

import (
	"net/http/httptest"
	"testing"

	"github.com/rechargekit/rechargekit/recharge"
)

// Server is a Simulator served over HTTP by an httptest server, for tests
// that need a URL (the recharge client, other processes). It embeds the
// Simulator, so Load, SetFaults, Stats, AddCustomer... work on it directly.
type Server struct {
	*Simulator
	// URL is the server's base URL, e.g. "http://127.0.0.1:41234"; pass it
	// to recharge.WithBaseURL.
	URL string
}

// NewServer starts a simulator configured by cfg behind an httptest server.
// The server and the simulator's webhook goroutine are closed by
// tb.Cleanup at the end of the test.
func NewServer(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	sim := New(cfg)
	srv := httptest.NewServer(sim)
	tb.Cleanup(func() {
		srv.Close()
		_ = sim.Close()
	})
	return &Server{Simulator: sim, URL: srv.URL}
}

// Client returns a recharge client wired to the server with the first
// configured token (DefaultToken by default). opts are applied after the
// base URL, so a test can add its own clock, limiter or retry policy.
func (s *Server) Client(opts ...recharge.Option) *recharge.Client {
	all := append([]recharge.Option{recharge.WithBaseURL(s.URL)}, opts...)
	return recharge.NewClient(s.cfg.Tokens[0], all...)
}
