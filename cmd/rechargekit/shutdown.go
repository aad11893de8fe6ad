package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/rechargekit/rechargekit/server"
)

// defaultShutdownTimeout bounds the wait for the requests in flight after
// SIGTERM. It is longer than the longest lookup (gladly.MaxDeadline, 15 s)
// with room to write the answer, and fits, without a shutdown delay, in
// the 30 s that Kubernetes and Docker give a container before SIGKILL.
const defaultShutdownTimeout = 25 * time.Second

// drainOptions say how a server stops once its context ends (the first
// SIGTERM or SIGINT).
type drainOptions struct {
	// delay keeps the server serving, with /readyz answering 503, for this
	// long before it stops taking connections, so that a load balancer
	// that polls /readyz stops sending traffic first. 0: no delay.
	delay time.Duration
	// timeout bounds the wait for the requests in flight once the server
	// has stopped taking connections; requests still running then have
	// their connections closed and the server exits with an error.
	timeout time.Duration
	// after waits for the delay; nil means time.After. Tests end the
	// delay themselves.
	after func(time.Duration) <-chan time.Time
}

// serve serves h on ln until ctx ends, then drains with the default
// options, logging to the command's logger.
func (m *Main) serve(ctx context.Context, name string, ln net.Listener, h http.Handler) error {
	return m.serveDrain(ctx, name, ln, h, drainOptions{timeout: defaultShutdownTimeout}, m.logger())
}

// serveDrain serves h on ln until ctx ends, then shuts down gracefully:
// /readyz answers 503 at once, every answer asks its client to close the
// connection, and after opts.delay the listener closes and the requests in
// flight get up to opts.timeout to finish. It returns nil when every one
// finished; the caller closes the store and the app only after that.
func (m *Main) serveDrain(ctx context.Context, name string, ln net.Listener, h http.Handler, opts drainOptions, logger *slog.Logger) error {
	d := &drainHandler{next: h}
	// Bounded reads and writes: a client that sends or reads slowly cannot
	// hold a connection (a lookup answers within 15 s at most).
	srv := &http.Server{
		Handler:           d,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if m.ready != nil {
		m.ready(name, "http://"+ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if m.stopSignals != nil {
		m.stopSignals() // a second signal now ends the process
	}

	d.draining.Store(true)
	if opts.delay > 0 {
		logger.Info("shutting down: /readyz answers 503; still serving until the delay ends",
			"delay", opts.delay.String(), "in_flight", d.inFlight.Load())
		after := opts.after
		if after == nil {
			after = time.After
		}
		select {
		case <-after(opts.delay):
		case err := <-errc:
			return err
		}
	}
	logger.Info("shutting down: no new connections; waiting for the requests in flight",
		"in_flight", d.inFlight.Load(), "timeout", opts.timeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), opts.timeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		// Cut what is left: the handlers see their contexts cancelled, and
		// an operation that had not committed is not acknowledged.
		left := d.inFlight.Load()
		srv.Close()
		return fmt.Errorf("shut down %s: requests still in flight after %s: %d: %w", name, opts.timeout, left, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("shut down: every request in flight was answered")
	return nil
}

// drainHandler counts the requests in flight and, once draining, marks
// each request's context with server.Draining, so that /readyz answers 503,
// and closes each connection after its answer, so that clients and load
// balancers move to another replica.
type drainHandler struct {
	next     http.Handler
	draining atomic.Bool
	inFlight atomic.Int64
}

func (d *drainHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.inFlight.Add(1)
	defer d.inFlight.Add(-1)
	if d.draining.Load() {
		w.Header().Set("Connection", "close")
		r = r.WithContext(server.Draining(r.Context()))
	}
	d.next.ServeHTTP(w, r)
}
