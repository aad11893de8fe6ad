package testkit

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// recordingTB is a testing.TB that records failures instead of reporting
// them, so that the helpers' own tests can check how they fail. Methods the
// helpers do not call are left to the embedded nil TB and would panic.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
	fatal  string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// Fatalf records the failure and ends the calling goroutine, as the real
// one does.
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recordingTB) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }

// runTB calls f with a recordingTB on a goroutine of its own, as the testing
// package runs a test, so that a Fatalf ends f and not the caller; it
// returns once f has ended.
func runTB(f func(tb testing.TB)) *recordingTB {
	r := &recordingTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}
