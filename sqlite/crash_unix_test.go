//go:build unix

package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/sqlite"
)

// TestCrashDurability links a profile in a child process that then kills
// itself without closing the store, and checks that the acknowledged link
// and its audit entry are in the database afterwards.
func TestCrashDurability(t *testing.T) {
	if path := os.Getenv("RECHARGEKIT_SQLITE_CRASH_CHILD"); path != "" {
		crashChild(path)
		return
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCrashDurability$", "-test.count=1")
	cmd.Env = append(os.Environ(), "RECHARGEKIT_SQLITE_CRASH_CHILD="+path)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child process: %v, want it killed by SIGKILL after linking; output:\n%s", err, out)
	}

	s := MustOpen(t, path)
	l, err := s.Link(t.Context(), "p-1")
	if err != nil {
		t.Fatalf("Link after the crash: %v; an acknowledged link was lost", err)
	}
	if l.CustomerID != 42 {
		t.Errorf("Link after the crash = %d, want 42", l.CustomerID)
	}
	entries, err := s.Audit(t.Context(), rechargekit.AuditFilter{ProfileID: "p-1"})
	if err != nil || len(entries) != 1 || entries[0].Action != rechargekit.AuditLink {
		t.Errorf("audit after the crash = %v, %v; want the link's entry", entries, err)
	}
}

// crashChild acknowledges a link and dies at once, without Close.
func crashChild(path string) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if _, err := s.UpsertProfile(ctx, &rechargekit.Profile{ID: "p-1", Name: "Ada"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := s.CreateLink(ctx, &rechargekit.Link{ProfileID: "p-1", CustomerID: 42, Method: rechargekit.LinkManual, By: "a@example.com"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal ends the process
}
