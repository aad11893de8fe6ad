// Command rechargekit brings Recharge subscription data into a support desk.
//
// Subcommands:
//
//	demo           run everything on the embedded demo store (no account or network needed)
//	serve          run the production server (configuration from flags and environment)
//	simulate       serve the Recharge API simulator alone
//	lookup         print a customer's Subscription card from Recharge
//	gladly-lookup  send a signed lookup to a Lookup Adaptor, as Gladly would
//	sync           fill the mirror (the local copy of the store's Recharge data) from Recharge
//	mirror         show the mirror's status, or purge it
//	version        print the version
//
// main stays thin: it handles signals and hands everything else to Main, so
// tests run each subcommand in-process.
package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := interruptContext()
	defer stop()
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Prog: progName(), stopSignals: stop}
	os.Exit(m.Run(ctx, os.Args[1:]))
}

// interruptContext returns a context that the first SIGINT or SIGTERM
// cancels: serve then stops taking connections and lets the requests in
// flight finish. The first signal also restores the default handling, so
// a second one ends the process at once, for an operator who will not
// wait for the drain; what was acknowledged is in the database either way.
// AfterFunc runs stop on its own goroutine, so a server also calls stop
// itself (Main.stopSignals) before it closes its listener: otherwise a
// second signal could arrive before the handling is restored, and be lost.
func interruptContext() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	return ctx, stop
}

// progName returns "go run ./cmd/rechargekit" when the binary was built by
// go run (it lives in a go-build temporary directory), else its base name.
func progName() string {
	exe, err := os.Executable()
	if err != nil {
		return "rechargekit"
	}
	if strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return "go run ./cmd/rechargekit"
	}
	return filepath.Base(exe)
}
