package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"
)

// Main runs one subcommand. Its writers and environment are injected so that
// tests can run the binary's commands in-process.
type Main struct {
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	Prog   string // how to invoke the program in printed examples; "rechargekit" when empty

	// ready, when set, receives the base URL of a server started by demo,
	// serve or simulate once it listens. Tests use it instead of sleeping.
	ready func(name, url string)

	// stopSignals, when set, restores the default handling of SIGINT and
	// SIGTERM (interruptContext's stop). A server calls it as soon as its
	// drain begins, before it stops taking connections, so that a second
	// signal during the drain ends the process.
	stopSignals func()
}

// command is one subcommand: it parses its own flags and runs.
type command interface {
	// parseFlags parses args; it returns flag.ErrHelp after printing usage.
	parseFlags(args []string) error
	run(ctx context.Context) error
}

// commands lists the subcommands with one line of help each.
var commands = []struct {
	name, help string
	new        func(m *Main) command
}{
	{"demo", "run the demo: simulated Recharge store, Lookup Adaptor and console on 127.0.0.1", func(m *Main) command { return &demoCommand{m: m} }},
	{"serve", "run the server against a real Recharge store", func(m *Main) command { return &serveCommand{m: m} }},
	{"simulate", "serve the Recharge API simulator alone", func(m *Main) command { return &simulateCommand{m: m} }},
	{"lookup", "print a customer's Subscription card from Recharge", func(m *Main) command { return &lookupCommand{m: m} }},
	{"gladly-lookup", "send a signed lookup to a Lookup Adaptor, as Gladly would", func(m *Main) command { return &gladlyLookupCommand{m: m} }},
	{"sync", "fill the mirror from Recharge, resuming where a stopped run left off (needs DATABASE_URL)", func(m *Main) command { return &syncCommand{m: m} }},
	{"mirror", "the mirror in DATABASE_URL: mirror status (counts, checkpoints, lease) or mirror purge (delete every mirrored record)", func(m *Main) command { return &mirrorCommand{m: m} }},
	{"webhooks", "register the Recharge webhooks that keep cards fresh: webhooks install --url URL [--uninstall]", func(m *Main) command { return &webhooksCommand{m: m} }},
	{"bench", "measure lookups against the simulator: naive, cold, warm, bursts and the mirror side by side", func(m *Main) command { return &benchCommand{m: m} }},
	{"user", "add a console user: user add --email E --role admin|agent", func(m *Main) command { return &userCommand{m: m} }},
	{"token", "add a JSON API token: token add --name NAME [--role agent|admin]", func(m *Main) command { return &tokenCommand{m: m} }},
	{"migrate", "bring the database schema up to date", func(m *Main) command { return &migrateCommand{m: m} }},
	{"version", "print the version", func(m *Main) command { return &versionCommand{m: m} }},
}

// errUsage marks an error in the command line; it exits with status 2.
var errUsage = errors.New("usage")

// Run runs the subcommand named by args[0] and returns the exit status.
func (m *Main) Run(ctx context.Context, args []string) int {
	if m.Getenv == nil {
		m.Getenv = os.Getenv
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		m.usage()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		cmd := c.new(m)
		if err := cmd.parseFlags(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			fmt.Fprintf(m.Stderr, "rechargekit %s: %v\n", c.name, err)
			return 2
		}
		if err := cmd.run(ctx); err != nil {
			if errors.Is(err, context.Canceled) && ctx.Err() != nil {
				return 0 // interrupted: a normal way to stop a server
			}
			fmt.Fprintf(m.Stderr, "rechargekit %s: %s\n", c.name, oneLine(err))
			if errors.Is(err, errUsage) {
				return 2
			}
			return 1
		}
		return 0
	}
	fmt.Fprintf(m.Stderr, "rechargekit: unknown command %q\n\n", args[0])
	m.usage()
	return 2
}

func (m *Main) usage() {
	fmt.Fprintln(m.Stderr, "usage: rechargekit <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(m.Stderr, "  %-14s %s\n", c.name, c.help)
	}
	fmt.Fprintln(m.Stderr, "\nrun 'rechargekit <command> -h' for a command's flags")
}

// newFlagSet returns a flag set that reports errors instead of exiting and
// prints its usage to the injected stderr.
func (m *Main) newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(m.Stderr, "usage: rechargekit %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// oneLine flattens an error to a single line for the terminal.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// envOr returns the environment variable's value, or def when it is empty.
func (m *Main) envOr(name, def string) string {
	if v := m.Getenv(name); v != "" {
		return v
	}
	return def
}

type versionCommand struct{ m *Main }

func (c *versionCommand) parseFlags(args []string) error {
	return c.m.newFlagSet("version", "").Parse(args)
}

func (c *versionCommand) run(context.Context) error {
	fmt.Fprintln(c.m.Stdout, "rechargekit", version())
	return nil
}

// version returns the module version and VCS revision the binary was built from.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := info.Main.Version
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " " + rev
		if settings["vcs.modified"] == "true" {
			v += "+dirty"
		}
	}
	return v
}

// prog returns how to invoke this program in printed examples: the binary's
// name, or "go run ./cmd/rechargekit" when started that way.
func (m *Main) prog() string {
	if m.Prog != "" {
		return m.Prog
	}
	return "rechargekit"
}

// durationFlag defines a duration flag whose default comes from an
// environment variable when it is set, so that flags and environment
// configure the same setting.
func (m *Main) durationFlag(fs *flag.FlagSet, p *time.Duration, name, env string, def time.Duration, usage string) error {
	if v := m.Getenv(env); v != "" {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%s must be a duration such as 90s, 5m or 1h30m, not %q", env, v)
		}
		def = d
	}
	fs.DurationVar(p, name, def, usage+" ($"+env+")")
	return nil
}
