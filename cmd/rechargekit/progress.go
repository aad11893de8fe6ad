package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/rechargekit/rechargekit/mirror"
)

// progressPrinter shows a backfill's progress (mirror.Progress). On a
// terminal it is one line redrawn in place with \r: a bar, the percent,
// the records written, the rate and the time left. Elsewhere (a log, a
// pipe, a test) it writes a plain line each time the whole percent or the
// resource changes, so that a log holds at most about a hundred of them
// whatever the store's size.
type progressPrinter struct {
	w   io.Writer
	tty bool

	drawn    int    // the width of the line on the terminal, to blank what a shorter one leaves
	lastKey  string // the resource and whole percent of the last plain line
	lastLine string
}

// barWidth is the bar's number of cells: the whole line stays within 80
// columns.
const barWidth = 24

// newProgressPrinter returns a printer for w, redrawing in place when w is
// a terminal.
func newProgressPrinter(w io.Writer) *progressPrinter {
	return &progressPrinter{w: w, tty: isTerminal(w)}
}

// isTerminal reports whether w is a terminal. go-isatty is already in the
// module graph (through the SQLite driver's dependencies), so telling a
// terminal from a pipe costs no new module.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// update shows p.
func (pp *progressPrinter) update(p mirror.Progress) {
	if pp.tty {
		line := progressBar(p)
		pad := ""
		if n := len([]rune(line)); n < pp.drawn {
			pad = strings.Repeat(" ", pp.drawn-n)
		}
		pp.drawn = len([]rune(line))
		fmt.Fprint(pp.w, "\r"+line+pad)
		return
	}
	key := p.Resource + " " + strconv.Itoa(int(clampPercent(p.Percent)))
	switch {
	case p.Done:
		key = "done"
	case p.Percent >= 100:
		return // the estimate reached 100 before the last page: the done line follows
	}
	if key == pp.lastKey {
		return
	}
	pp.lastKey = key
	pp.lastLine = progressLine(p)
	fmt.Fprintln(pp.w, pp.lastLine)
}

// finish ends the line a terminal bar was drawn on.
func (pp *progressPrinter) finish() {
	if pp.tty && pp.drawn > 0 {
		fmt.Fprintln(pp.w)
		pp.drawn = 0
	}
}

// progressBar is the terminal's line:
// "[#########---------------]  37.5%  12,345 records  480/s  2m10s left  subscriptions".
func progressBar(p mirror.Progress) string {
	filled := int(clampPercent(p.Percent) / 100 * barWidth)
	bar := "[" + strings.Repeat("#", filled) + strings.Repeat("-", barWidth-filled) + "]"
	return fmt.Sprintf("%s %5.1f%%  %s", bar, clampPercent(p.Percent), progressFigures(p))
}

// progressLine is a plain line: "sync 37% 12,345 records 480/s 2m10s left (subscriptions)".
func progressLine(p mirror.Progress) string {
	if p.Done {
		return fmt.Sprintf("sync 100%%  %s records  complete", thousands(p.Records))
	}
	return fmt.Sprintf("sync %3d%%  %s", int(clampPercent(p.Percent)), progressFigures(p))
}

// progressFigures are the records, the rate, the time left and the
// resource being read.
func progressFigures(p mirror.Progress) string {
	parts := []string{thousands(p.Records) + " records"}
	if p.Rate > 0 {
		parts = append(parts, fmt.Sprintf("%.0f/s", p.Rate))
	}
	switch {
	case p.Done:
		parts = append(parts, "complete")
	case p.Left > 0:
		parts = append(parts, p.Left.Round(time.Second).String()+" left")
	}
	if p.Resource != "" && !p.Done {
		parts = append(parts, strings.ReplaceAll(p.Resource, "_", " "))
	}
	return strings.Join(parts, "  ")
}

func clampPercent(p float64) float64 {
	return min(max(p, 0), 100)
}

// thousands writes n with a comma between groups of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
