package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/recharge"
)

// This file fills the mirror: every resource read in cursor pages sorted
// by id, each page written before the checkpoint that moves past it, so a
// backfill stopped anywhere (a crash, a deploy, a lost lease) resumes by
// re-reading at most the page that was in flight.

// refusedCursor marks, in the Cursor of a done checkpoint, a resource
// Recharge refused to list (no scope, not on the store's plan), followed
// by the status: the mirror holds none of it and cards say why. A done
// checkpoint's cursor is otherwise unused.
const refusedCursor = "!refused "

// mayRefuse reports whether a card can do without the resource: the
// token may lack read_orders, read_payment_methods or read_events, but
// without customers, addresses and subscriptions there is no card.
func mayRefuse(resource string) bool {
	switch resource {
	case rechargekit.MirrorCharges, rechargekit.MirrorPaymentMethods, rechargekit.MirrorEvents:
		return true
	}
	return false
}

// refusal returns the status of a definite refusal of a list route (any
// 4xx but 409 and 429), 0 for anything else.
func refusal(err error) int {
	var e *recharge.ErrorResponse
	if !errors.As(err, &e) || e.StatusCode < 400 || e.StatusCode >= 500 ||
		e.StatusCode == http.StatusConflict || e.StatusCode == http.StatusTooManyRequests {
		return 0
	}
	return e.StatusCode
}

// refusedStatus returns the status a checkpoint records as refused, or 0.
func refusedStatus(cp *rechargekit.MirrorCheckpoint) int {
	s, ok := strings.CutPrefix(cp.Cursor, refusedCursor)
	if !cp.Done || !ok {
		return 0
	}
	n, _ := strconv.Atoi(s)
	return n
}

// Backfill fills the mirror, resuming each resource from its checkpoint,
// and returns nil when every resource is done. progress, when not nil,
// is called after every page. A resource the token may not read (charges,
// payment methods or events) is marked done and unavailable, and the
// cards say why; the others fail the backfill. Errors: EUPSTREAM
// (Recharge failed), EINTERNAL (the database failed), or ctx's error.
func (m *Mirror) Backfill(ctx context.Context, progress func(Progress)) error {
	cps, err := m.checkpoints(ctx, true)
	if err != nil {
		return err
	}
	run := &backfillRun{m: m, cps: cps, progress: progress, start: m.now()}
	for _, res := range rechargekit.MirrorResources {
		if err := run.start1(ctx, res); err != nil {
			return m.syncFailed(ctx, "start the backfill of "+res, err)
		}
	}
	for _, res := range rechargekit.MirrorResources {
		if err := run.resource(ctx, res); err != nil {
			return m.syncFailed(ctx, "mirror the Recharge "+res, err)
		}
	}
	m.mu.Lock()
	m.progress = Progress{Records: run.records, Percent: 100, Done: true}
	m.syncErr = ""
	m.mu.Unlock()
	if progress != nil {
		progress(m.progress)
	}
	return nil
}

// backfillRun is one call of Backfill.
type backfillRun struct {
	m        *Mirror
	cps      map[string]*rechargekit.MirrorCheckpoint
	progress func(Progress)
	start    time.Time
	records  int64   // written by this run
	percent0 float64 // where this run started
	started  bool
	recent   []mark // the last pages, for the rate
}

// mark is the records written by a run at a time.
type mark struct {
	at      time.Time
	records int64
}

// ratePages is how many pages the rate is measured over.
const ratePages = 10

// start1 sets a resource's StartedAt and MaxID when its backfill first
// starts: MaxID from one sort_by=id-desc&limit=1 call, but for events,
// whose first page comes newest first and gives it.
func (r *backfillRun) start1(ctx context.Context, res string) error {
	cp := r.cps[res]
	if cp.Done || !cp.StartedAt.IsZero() {
		return nil
	}
	cp.StartedAt = r.m.now()
	if res == rechargekit.MirrorEvents {
		return r.m.setCheckpoint(ctx, cp)
	}
	p, err := r.m.readPage(ctx, res, pageQuery{sortBy: sortIDDesc, limit: 1})
	switch {
	case err != nil && mayRefuse(res) && refusal(err) != 0:
		return r.refused(ctx, cp, err)
	case err != nil:
		return err
	}
	cp.MaxID = p.first
	if p.n == 0 {
		cp.Done, cp.SweptTo = true, cp.StartedAt
	}
	return r.m.setCheckpoint(ctx, cp)
}

// refused marks a resource done and unavailable, logged once.
func (r *backfillRun) refused(ctx context.Context, cp *rechargekit.MirrorCheckpoint, err error) error {
	cp.Done, cp.Cursor, cp.SweptTo = true, refusedCursor+strconv.Itoa(refusal(err)), cp.StartedAt
	r.m.log.LogAttrs(ctx, slog.LevelWarn, "mirror: Recharge refuses to list a resource; the cards say it is unavailable",
		slog.String("resource", cp.Resource), slog.String("error", err.Error()))
	return r.m.setCheckpoint(ctx, cp)
}

// resource reads a resource's pages from its checkpoint to the end.
func (r *backfillRun) resource(ctx context.Context, res string) error {
	cp := r.cps[res]
	if !cp.Done {
		r.learnMinID(ctx, cp)
	}
	for !cp.Done {
		q := pageQuery{cursor: cp.Cursor, sortBy: sortIDAsc, limit: r.m.opts.PageSize}
		p, err := r.m.readPage(ctx, res, q)
		if err != nil {
			if mayRefuse(res) && refusal(err) != 0 {
				return r.refused(ctx, cp, err)
			}
			return err
		}
		if _, err := r.m.put(ctx, res, p.recs); err != nil {
			return err
		}
		switch {
		case cp.Cursor != "" || p.n == 0:
		case res == rechargekit.MirrorEvents:
			cp.MaxID = p.first
		default:
			r.m.setMinID(res, p.first)
		}
		cp.Cursor = p.next
		cp.Records += int64(len(p.recs))
		if p.n > 0 {
			cp.LastID = p.last
		}
		if p.next == "" {
			cp.Done, cp.SweptTo = true, cp.StartedAt
		}
		if err := r.m.setCheckpoint(ctx, cp); err != nil {
			return err
		}
		r.records += int64(len(p.recs))
		r.report(res)
	}
	return nil
}

// learnMinID asks for a resumed resource's lowest id, which progress
// measures from; a failure only makes the percentage rougher.
func (r *backfillRun) learnMinID(ctx context.Context, cp *rechargekit.MirrorCheckpoint) {
	if cp.Cursor == "" || cp.Resource == rechargekit.MirrorEvents || r.progress == nil {
		return
	}
	r.m.mu.Lock()
	_, ok := r.m.minIDs[cp.Resource]
	r.m.mu.Unlock()
	if ok {
		return
	}
	if p, err := r.m.readPage(ctx, cp.Resource, pageQuery{sortBy: sortIDAsc, limit: 1}); err == nil && p.n > 0 {
		r.m.setMinID(cp.Resource, p.first)
	}
}

func (m *Mirror) setMinID(res string, id int64) {
	m.mu.Lock()
	m.minIDs[res] = id
	m.mu.Unlock()
}

// report updates the progress after a page.
func (r *backfillRun) report(res string) {
	pct := r.m.percent(r.cps)
	if !r.started {
		r.started, r.percent0 = true, pct
	}
	now := r.m.now()
	if len(r.recent) == 0 {
		r.recent = append(r.recent, mark{r.start, 0})
	}
	r.recent = append(r.recent, mark{now, r.records})
	if len(r.recent) > ratePages+1 {
		r.recent = r.recent[1:]
	}
	p := Progress{Resource: res, Records: r.records, Percent: pct}
	if first := r.recent[0]; now.After(first.at) {
		p.Rate = float64(r.records-first.records) / now.Sub(first.at).Seconds()
	}
	if elapsed, done := now.Sub(r.start), pct-r.percent0; elapsed > 0 && done > 0 {
		p.Left = time.Duration(float64(elapsed) * (100 - pct) / done)
	}
	r.m.mu.Lock()
	r.m.progress = p
	r.m.mu.Unlock()
	if r.progress != nil {
		r.progress(p)
	}
}

// percent estimates how far the backfill is, 0..100: per resource, the
// ids read against its id range (events, read newest first, from the
// highest id down), averaged over the resources.
func (m *Mirror) percent(cps map[string]*rechargekit.MirrorCheckpoint) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var sum float64
	for _, res := range rechargekit.MirrorResources {
		cp := cps[res]
		switch {
		case cp == nil:
		case cp.Done:
			sum++
		case cp.LastID == 0 || cp.MaxID <= 0:
		case res == rechargekit.MirrorEvents:
			sum += clamp01(float64(cp.MaxID-cp.LastID) / float64(cp.MaxID))
		default:
			lo := m.minIDs[res]
			if lo <= 0 || lo >= cp.MaxID {
				lo = 0
			}
			sum += clamp01(float64(cp.LastID-lo) / float64(cp.MaxID-lo))
		}
	}
	return 100 * sum / float64(len(rechargekit.MirrorResources))
}

func clamp01(f float64) float64 { return min(max(f, 0), 1) }

// syncFailed records a backfill's failure for Status and returns it as a
// domain error.
func (m *Mirror) syncFailed(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	m.log.LogAttrs(ctx, slog.LevelWarn, "mirror: backfill failed", slog.String("op", what), slog.String("error", err.Error()))
	m.mu.Lock()
	m.syncErr = fmt.Sprintf("could not %s: %v", what, err)
	m.mu.Unlock()
	return domainError("The mirror could not "+what+".", err)
}

// domainError keeps a domain error (the store's) and makes anything else
// (the Recharge client's errors) EUPSTREAM with msg.
func domainError(msg string, err error) error {
	var e *rechargekit.Error
	if errors.As(err, &e) {
		return err
	}
	return rechargekit.WrapError(rechargekit.EUPSTREAM, msg, err)
}
