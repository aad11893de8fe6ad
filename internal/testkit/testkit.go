// Package testkit holds the helpers that the tests of every package share,
// so that each is written, documented and tested once: golden files
// refreshed with one -update flag (Golden, GoldenJSON), polling with a
// deadline for what happens on another goroutine (WaitFor), and a clock a
// test moves by hand (Clock).
//
// Only tests import it. Importing it registers the -update flag, so a test
// binary must not define its own.
package testkit
