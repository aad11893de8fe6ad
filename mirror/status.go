package mirror

import (
	"context"
	"log/slog"
	"time"

	"github.com/rechargekit/rechargekit"
)

// This file holds what the mirror knows of its own state: the checkpoints
// (cached briefly, as every card asks whether the mirror is complete),
// Status and Purge.

// stateTTL is how long a replica trusts its copy of the checkpoints; the
// replica syncing updates its own copy as it writes them.
const stateTTL = 2 * time.Second

// checkpoints returns a copy of every resource's checkpoint, from the
// store when fresh or when the cached copy is older than stateTTL.
func (m *Mirror) checkpoints(ctx context.Context, fresh bool) (map[string]*rechargekit.MirrorCheckpoint, error) {
	m.mu.Lock()
	if !fresh && m.cps != nil && m.now().Sub(m.cpsAt) < stateTTL {
		out := copyCheckpoints(m.cps)
		m.mu.Unlock()
		return out, nil
	}
	m.mu.Unlock()
	cps := make(map[string]*rechargekit.MirrorCheckpoint, len(rechargekit.MirrorResources))
	for _, res := range rechargekit.MirrorResources {
		cp, err := m.store.MirrorCheckpoint(ctx, res)
		if err != nil {
			return nil, err
		}
		cp.Resource = res
		cps[res] = cp
	}
	m.mu.Lock()
	m.cps, m.cpsAt = copyCheckpoints(cps), m.now()
	m.mu.Unlock()
	return cps, nil
}

// setCheckpoint writes a checkpoint and keeps it in the cached copy.
func (m *Mirror) setCheckpoint(ctx context.Context, cp *rechargekit.MirrorCheckpoint) error {
	if err := m.store.SetMirrorCheckpoint(ctx, cp); err != nil {
		return err
	}
	m.mu.Lock()
	if m.cps != nil {
		c := *cp
		m.cps[cp.Resource] = &c
	}
	m.mu.Unlock()
	return nil
}

func copyCheckpoints(in map[string]*rechargekit.MirrorCheckpoint) map[string]*rechargekit.MirrorCheckpoint {
	out := make(map[string]*rechargekit.MirrorCheckpoint, len(in))
	for k, v := range in {
		c := *v
		out[k] = &c
	}
	return out
}

// complete reports whether every resource's backfill is done.
func complete(cps map[string]*rechargekit.MirrorCheckpoint) bool {
	for _, res := range rechargekit.MirrorResources {
		if cp := cps[res]; cp == nil || !cp.Done {
			return false
		}
	}
	return true
}

// sweptTo returns the time up to which every resource is in the mirror:
// the earliest SweptTo.
func sweptTo(cps map[string]*rechargekit.MirrorCheckpoint) time.Time {
	var t time.Time
	for _, res := range rechargekit.MirrorResources {
		// A resource Recharge refused to list is never swept: it would
		// hold the mirror at its backfill's start for good.
		if cp := cps[res]; cp != nil && refusedStatus(cp) == 0 && (t.IsZero() || cp.SweptTo.Before(t)) {
			t = cp.SweptTo
		}
	}
	return t
}

// mirrorState says whether cards may come from the mirror: usable when
// the backfill is complete, behind when the last reconciliation is more
// than two intervals old (on whichever replica ran it) or failed here.
func (m *Mirror) mirrorState(ctx context.Context) (usable, behind bool, swept time.Time) {
	cps, err := m.checkpoints(ctx, false)
	if err != nil {
		m.log.LogAttrs(ctx, slog.LevelWarn, "mirror: checkpoints unreadable; cards are read live", slog.String("error", err.Error()))
		return false, true, time.Time{}
	}
	if !complete(cps) {
		return false, true, time.Time{}
	}
	swept = sweptTo(cps)
	m.mu.Lock()
	failed := m.reconcileErr != ""
	m.mu.Unlock()
	return true, failed || m.now().Sub(swept) > 2*m.opts.ReconcileInterval, swept
}

// Status returns the mirror's state for /readyz, the metrics and the
// admin page.
func (m *Mirror) Status(ctx context.Context) Status {
	m.mu.Lock()
	st := Status{
		Leader:          m.leader,
		LastReconcile:   m.lastReconcile,
		Drift:           m.drift,
		WebhooksMissing: append([]string(nil), m.webhooksMissing...),
		Err:             m.syncErr,
	}
	if m.reconcileErr != "" {
		st.Err = m.reconcileErr
	}
	m.mu.Unlock()
	stats, err := m.store.MirrorStats(ctx)
	if err != nil {
		st.State, st.Err = rechargekit.MirrorBehind, "the mirror's database could not be read: "+err.Error()
		return st
	}
	st.Records = stats.Records
	if l := stats.Lease; l != nil && l.Expires.After(m.now()) {
		st.Holder = l.Holder
	}
	cps := make(map[string]*rechargekit.MirrorCheckpoint, len(stats.Checkpoints))
	for _, res := range rechargekit.MirrorResources {
		cp := stats.Checkpoints[res]
		if cp == nil {
			cp = &rechargekit.MirrorCheckpoint{Resource: res}
		}
		cps[res] = cp
	}
	if !complete(cps) {
		st.State, st.Percent = rechargekit.MirrorSyncing, m.percent(cps)
		return st
	}
	st.Percent, st.Reconciled = 100, sweptTo(cps)
	st.State = rechargekit.MirrorReady
	if st.Err != "" || m.now().Sub(st.Reconciled) > 2*m.opts.ReconcileInterval {
		st.State = rechargekit.MirrorBehind
	}
	return st
}

// Purge deletes every mirrored record and checkpoint and forgets what
// this Mirror knew of them; the next backfill starts over. Errors: those
// of the store.
func (m *Mirror) Purge(ctx context.Context) error {
	if err := m.store.PurgeMirror(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	m.cps, m.cpsAt = nil, time.Time{}
	m.progress = Progress{}
	m.minIDs = map[string]int64{}
	m.lastReconcile, m.reconcileErr, m.syncErr = time.Time{}, "", ""
	m.lastCount, m.drift = time.Time{}, ""
	m.mu.Unlock()
	return nil
}
