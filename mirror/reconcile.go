package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/recharge"
)

// This file keeps a complete mirror current whatever webhooks were lost:
// a sweep of each resource's changes since the last one, a daily count
// check, and the webhook registrations Recharge deletes after failed
// deliveries.

// sweepOverlap is how far before the last sweep's start a sweep reads
// again, for the clock skew between Recharge and this replica.
const sweepOverlap = 2 * time.Minute

// countEvery is how often the reconciliation compares subscription counts.
const countEvery = 24 * time.Hour

// Reconcile sweeps every resource the backfill has done for what changed
// since its SweptTo (minus a small overlap), sorted by updated_at
// (events by created_at), writes it and moves SweptTo to this sweep's
// start. Once a day it also checks the subscription counts, and with
// Options.WebhookURL it re-creates webhook registrations Recharge
// deleted. Errors: EUPSTREAM, those of the store, ctx's error.
func (m *Mirror) Reconcile(ctx context.Context) error {
	start := m.now()
	cps, err := m.checkpoints(ctx, true)
	if err != nil {
		return m.reconcileFailed(ctx, err)
	}
	var errs []error
	for _, res := range rechargekit.MirrorResources {
		cp := cps[res]
		if !cp.Done || refusedStatus(cp) != 0 {
			continue
		}
		if err := m.sweep(ctx, cp, start); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			errs = append(errs, fmt.Errorf("sweep %s: %w", res, err))
		}
	}
	if m.opts.WebhookURL != "" {
		if err := m.checkWebhooks(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if complete(cps) && m.countDue() {
		if err := m.countCheck(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return m.reconcileFailed(ctx, err)
	}
	m.mu.Lock()
	m.lastReconcile, m.reconcileErr = m.now(), ""
	m.mu.Unlock()
	return nil
}

// sweep reads one resource's changes since its SweptTo and advances it.
func (m *Mirror) sweep(ctx context.Context, cp *rechargekit.MirrorCheckpoint, start time.Time) error {
	since := cp.SweptTo.Add(-sweepOverlap)
	q := pageQuery{sortBy: sortUpdatedAsc, since: &since, limit: m.opts.PageSize}
	seen := map[string]bool{}
	for {
		p, err := m.readPage(ctx, cp.Resource, q)
		if err != nil {
			return err
		}
		if _, err := m.put(ctx, cp.Resource, p.recs); err != nil {
			return err
		}
		if p.next == "" || seen[p.next] {
			break
		}
		seen[p.next] = true
		q = pageQuery{cursor: p.next, limit: m.opts.PageSize}
	}
	// Read again: the backfill may have written it meanwhile on this
	// replica, and only SweptTo is the sweep's to change.
	cur, err := m.store.MirrorCheckpoint(ctx, cp.Resource)
	if err != nil {
		return err
	}
	cur.Resource = cp.Resource
	if start.After(cur.SweptTo) {
		cur.SweptTo = start
	}
	return m.setCheckpoint(ctx, cur)
}

// reconcileFailed records a failed reconciliation for Status (the mirror
// is behind until one succeeds) and returns it as a domain error.
func (m *Mirror) reconcileFailed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	m.log.LogAttrs(ctx, slog.LevelWarn, "mirror: reconciliation failed", slog.String("error", err.Error()))
	m.mu.Lock()
	m.reconcileErr = "the last reconciliation failed: " + err.Error()
	m.mu.Unlock()
	return domainError("The mirror could not reconcile with Recharge.", err)
}

// countDue reports whether the daily count check is due, and notes it.
func (m *Mirror) countDue() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if now := m.now(); m.lastCount.IsZero() || now.Sub(m.lastCount) >= countEvery {
		m.lastCount = now
		return true
	}
	return false
}

// countCheck reads every customer from Recharge (refreshing the mirror's
// copy) and compares its subscriptions_total_count with the subscriptions
// the mirror holds for it. Differences are drift: a lost deletion, which
// no updated_at sweep sees. It records the finding for Status and logs it.
func (m *Mirror) countCheck(ctx context.Context) error {
	var (
		differ  int
		example string
	)
	q := pageQuery{sortBy: sortIDAsc, limit: m.opts.PageSize}
	seen := map[string]bool{}
	for {
		p, err := m.readPage(ctx, rechargekit.MirrorCustomers, q)
		if err != nil {
			return fmt.Errorf("count check: %w", err)
		}
		if _, err := m.put(ctx, rechargekit.MirrorCustomers, p.recs); err != nil {
			return fmt.Errorf("count check: %w", err)
		}
		for _, rec := range p.recs {
			want, got, err := m.subscriptionCounts(ctx, rec)
			if err != nil {
				return fmt.Errorf("count check: %w", err)
			}
			if want >= 0 && want != got {
				differ++
				if example == "" {
					example = fmt.Sprintf("customer %d: Recharge counts %d subscriptions, the mirror holds %d", rec.CustomerID, want, got)
				}
			}
		}
		if p.next == "" || seen[p.next] {
			break
		}
		seen[p.next] = true
		q = pageQuery{cursor: p.next, limit: m.opts.PageSize}
	}
	drift := ""
	if differ > 0 {
		drift = fmt.Sprintf("%d customers' subscription counts differ from Recharge's (%s); a purge and a new backfill repair it.", differ, example)
		m.log.LogAttrs(ctx, slog.LevelWarn, "mirror: drift", slog.Int("customers", differ), slog.String("example", example))
	}
	m.mu.Lock()
	m.drift = drift
	m.mu.Unlock()
	return nil
}

// subscriptionCounts returns a customer's subscriptions_total_count (-1
// when Recharge sent none) and the subscriptions the mirror holds for it.
func (m *Mirror) subscriptionCounts(ctx context.Context, rec *rechargekit.MirrorRecord) (want, got int, err error) {
	recs, err := m.store.MirroredCustomer(ctx, rec.CustomerID)
	if err != nil {
		return 0, 0, err
	}
	want = -1
	for _, r := range recs {
		switch r.Resource {
		case rechargekit.MirrorSubscriptions:
			got++
		case rechargekit.MirrorCustomers:
			var c struct {
				Total *recharge.Int `json:"subscriptions_total_count"`
			}
			if err := json.Unmarshal(r.Doc, &c); err != nil {
				return 0, 0, fmt.Errorf("decode customer %d: %w", r.ID, err)
			}
			if c.Total != nil {
				want = int(*c.Total)
			}
		}
	}
	return want, got, nil
}

// checkWebhooks re-creates the card topics' registrations to
// Options.WebhookURL that Recharge has deleted (it does after 20 failed
// deliveries), logs and counts them.
func (m *Mirror) checkWebhooks(ctx context.Context) error {
	hooks, err := recharge.ListWebhooks(ctx, m.client, m.opts.WebhookURL)
	if err != nil {
		return fmt.Errorf("check webhooks: %w", err)
	}
	have := map[string]bool{}
	for _, h := range hooks {
		have[strings.ToLower(h.Topic)] = true
	}
	var missing []string
	for _, t := range recharge.CardTopics {
		if !have[t] {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	created, err := recharge.InstallWebhooks(ctx, m.client, m.opts.WebhookURL, missing)
	for _, h := range created {
		m.log.LogAttrs(ctx, slog.LevelWarn, "mirror: a webhook registration was missing and is re-created", slog.String("topic", h.Topic))
		if m.opts.Metrics != nil {
			m.opts.Metrics.MirrorWebhookRecreated(h.Topic)
		}
		m.mu.Lock()
		if !slices.Contains(m.webhooksMissing, h.Topic) {
			m.webhooksMissing = append(m.webhooksMissing, h.Topic)
		}
		m.mu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("check webhooks: %w", err)
	}
	return nil
}
