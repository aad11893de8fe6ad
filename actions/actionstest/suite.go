package actionstest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/internal/testkit"
)

// Open returns a new, empty ActionStore whose clock is now, for one subtest.
type Open func(t *testing.T, now func() time.Time) rechargekit.ActionStore

// RunStore checks an ActionStore against the contract documented on
// rechargekit.ActionStore: intents and completions, the idempotency window,
// the request-hash conflict, filters and the per-role policy. Every subtest
// opens its own store.
func RunStore(t *testing.T, open Open) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	newStore := func(t *testing.T) (rechargekit.ActionStore, *testkit.Clock) {
		t.Helper()
		clock := testkit.NewClock(t0)
		return open(t, clock.Now), clock
	}
	ctx := context.Background()

	t.Run("BeginThenComplete", func(t *testing.T) {
		st, clock := newStore(t)
		before := &rechargekit.SubscriptionState{Status: "active", NextChargeDate: "2026-12-24", IntervalUnit: "month", IntervalFrequency: 1, Quantity: 1}
		rec := record("k1", "h1")
		rec.Before = before
		if prev, err := st.BeginAction(ctx, rec); err != nil || prev != nil {
			t.Fatalf("BeginAction = %v, %v; want nil, nil", prev, err)
		}
		if rec.ID == 0 || !rec.At.Equal(t0) {
			t.Fatalf("after BeginAction: ID %d, At %v; want an id and %v", rec.ID, rec.At, t0)
		}
		got := mustRecords(t, st, rechargekit.ActionFilter{})
		if len(got) != 1 || got[0].Outcome != rechargekit.OutcomePending || got[0].CompletedAt != nil {
			t.Fatalf("records after BeginAction: %+v; want one pending, not completed", got)
		}
		if diff := cmp.Diff(rec, got[0]); diff != "" {
			t.Errorf("stored record differs from the one begun (-begun +stored):\n%s", diff)
		}
		clock.Advance(2 * time.Second)
		after := &rechargekit.SubscriptionState{Status: "cancelled"}
		if err := st.CompleteAction(ctx, rec.ID, rechargekit.OutcomeDone, "", after); err != nil {
			t.Fatalf("CompleteAction: %v", err)
		}
		got = mustRecords(t, st, rechargekit.ActionFilter{})
		if got[0].Outcome != rechargekit.OutcomeDone || got[0].CompletedAt == nil || !got[0].CompletedAt.Equal(t0.Add(2*time.Second)) {
			t.Fatalf("completed record: outcome %q, completed at %v", got[0].Outcome, got[0].CompletedAt)
		}
		if diff := cmp.Diff(after, got[0].After); diff != "" {
			t.Errorf("state after (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(before, got[0].Before); diff != "" {
			t.Errorf("state before changed on completion (-want +got):\n%s", diff)
		}
		wantCode(t, "completing twice", st.CompleteAction(ctx, rec.ID, rechargekit.OutcomeFailed, "", nil), rechargekit.ECONFLICT)
		wantCode(t, "completing as pending", st.CompleteAction(ctx, rec.ID, rechargekit.OutcomePending, "", nil), rechargekit.EINVALID)
		wantCode(t, "completing an unknown outcome", st.CompleteAction(ctx, rec.ID, "maybe", "", nil), rechargekit.EINVALID)
		wantCode(t, "completing an unknown attempt", st.CompleteAction(ctx, rec.ID+1000, rechargekit.OutcomeDone, "", nil), rechargekit.ENOTFOUND)
	})

	t.Run("CompleteKeepsRechargeMessage", func(t *testing.T) {
		st, _ := newStore(t)
		rec := record("", "h")
		mustBegin(t, st, rec)
		msg := "Recharge refused to skip the charge: status: Only charges with status queued and error can be skipped"
		if err := st.CompleteAction(ctx, rec.ID, rechargekit.OutcomeRefusedRecharge, msg, nil); err != nil {
			t.Fatal(err)
		}
		got := mustRecords(t, st, rechargekit.ActionFilter{})
		if got[0].Outcome != rechargekit.OutcomeRefusedRecharge || got[0].Message != msg || got[0].After != nil {
			t.Errorf("record: outcome %q, message %q, after %v", got[0].Outcome, got[0].Message, got[0].After)
		}
	})

	t.Run("SameKeyWithinWindowReturnsFirst", func(t *testing.T) {
		st, clock := newStore(t)
		first := record("key", "hash")
		mustBegin(t, st, first)
		clock.Advance(rechargekit.IdempotencyWindow - time.Second)
		again := record("key", "hash")
		prev, err := st.BeginAction(ctx, again)
		if err != nil || prev == nil || prev.ID != first.ID || prev.Outcome != rechargekit.OutcomePending {
			t.Fatalf("same key again: %+v, %v; want the first (pending) attempt", prev, err)
		}
		if again.ID != 0 {
			t.Errorf("the repeated attempt got id %d; nothing should have been written", again.ID)
		}
		if n := len(mustRecords(t, st, rechargekit.ActionFilter{})); n != 1 {
			t.Errorf("%d records after a repeated key, want 1", n)
		}
		// Another request under the same key is a conflict that still
		// names the first attempt.
		prev, err = st.BeginAction(ctx, record("key", "other"))
		wantCode(t, "same key, other request", err, rechargekit.ECONFLICT)
		if prev == nil || prev.ID != first.ID {
			t.Errorf("conflict returned %+v; want the first attempt", prev)
		}
		// A completed first attempt comes back completed.
		if err := st.CompleteAction(ctx, first.ID, rechargekit.OutcomeDone, "", nil); err != nil {
			t.Fatal(err)
		}
		prev, err = st.BeginAction(ctx, record("key", "hash"))
		if err != nil || prev == nil || prev.Outcome != rechargekit.OutcomeDone {
			t.Fatalf("after completion: %+v, %v; want the done attempt", prev, err)
		}
	})

	t.Run("ConcurrentSameKeyBeginsOnce", func(t *testing.T) {
		st, _ := newStore(t)
		const n = 8
		type out struct {
			rec  *rechargekit.ActionRecord
			prev *rechargekit.ActionRecord
			err  error
		}
		results := make(chan out, n)
		for range n {
			go func() {
				rec := record("double-click", "hash")
				prev, err := st.BeginAction(ctx, rec)
				results <- out{rec, prev, err}
			}()
		}
		var begun int64
		var replays int
		for range n {
			o := <-results
			switch {
			case o.err != nil:
				t.Errorf("BeginAction: %v", o.err)
			case o.prev == nil:
				if begun != 0 {
					t.Errorf("two attempts begun with one key: %d and %d", begun, o.rec.ID)
				}
				begun = o.rec.ID
			default:
				replays++
			}
		}
		if begun == 0 || replays != n-1 {
			t.Fatalf("begun %d, %d answered with it; want one and %d", begun, replays, n-1)
		}
		if got := len(mustRecords(t, st, rechargekit.ActionFilter{})); got != 1 {
			t.Errorf("%d records, want 1", got)
		}
	})

	t.Run("KeyExpiresAfterWindow", func(t *testing.T) {
		st, clock := newStore(t)
		first := record("key", "hash")
		mustBegin(t, st, first)
		clock.Advance(rechargekit.IdempotencyWindow + time.Second)
		second := record("key", "other")
		if prev, err := st.BeginAction(ctx, second); err != nil || prev != nil {
			t.Fatalf("same key after the window: %+v, %v; want a new attempt", prev, err)
		}
		if second.ID == first.ID || second.ID == 0 {
			t.Fatalf("new attempt id %d (first %d)", second.ID, first.ID)
		}
		if n := len(mustRecords(t, st, rechargekit.ActionFilter{})); n != 2 {
			t.Errorf("%d records, want 2", n)
		}
	})

	t.Run("NoKeyNeverDeduplicates", func(t *testing.T) {
		st, _ := newStore(t)
		mustBegin(t, st, record("", "hash"))
		mustBegin(t, st, record("", "hash"))
		if n := len(mustRecords(t, st, rechargekit.ActionFilter{})); n != 2 {
			t.Errorf("%d records, want 2", n)
		}
	})

	t.Run("ActionByKey", func(t *testing.T) {
		st, clock := newStore(t)
		_, err := st.ActionByKey(ctx, "", t0)
		wantCode(t, "empty key", err, rechargekit.EINVALID)
		_, err = st.ActionByKey(ctx, "nope", t0.Add(-time.Hour))
		wantCode(t, "unknown key", err, rechargekit.ENOTFOUND)
		rec := record("key", "hash")
		mustBegin(t, st, rec)
		got, err := st.ActionByKey(ctx, "key", t0.Add(-rechargekit.IdempotencyWindow))
		if err != nil || got.ID != rec.ID || got.RequestHash != "hash" {
			t.Fatalf("ActionByKey = %+v, %v", got, err)
		}
		clock.Advance(time.Minute)
		_, err = st.ActionByKey(ctx, "key", t0.Add(time.Second))
		wantCode(t, "a key begun before since", err, rechargekit.ENOTFOUND)
	})

	t.Run("RefusedByPolicyBeginsCompleted", func(t *testing.T) {
		st, _ := newStore(t)
		rec := record("", "hash")
		rec.Outcome, rec.Message = rechargekit.OutcomeRefusedPolicy, "The agent role may not change the quantity."
		mustBegin(t, st, rec)
		got := mustRecords(t, st, rechargekit.ActionFilter{Outcome: rechargekit.OutcomeRefusedPolicy})
		if len(got) != 1 || got[0].CompletedAt == nil || got[0].Message != rec.Message {
			t.Fatalf("refused attempt: %+v", got)
		}
		wantCode(t, "completing a refused attempt", st.CompleteAction(ctx, rec.ID, rechargekit.OutcomeDone, "", nil), rechargekit.ECONFLICT)
	})

	t.Run("BeginRejectsBadRecords", func(t *testing.T) {
		st, _ := newStore(t)
		for name, mutate := range map[string]func(r *rechargekit.ActionRecord){
			"unknown action":    func(r *rechargekit.ActionRecord) { r.Action = "refund" },
			"done outcome":      func(r *rechargekit.ActionRecord) { r.Outcome = rechargekit.OutcomeDone },
			"unknown outcome":   func(r *rechargekit.ActionRecord) { r.Outcome = "maybe" },
			"no actor name":     func(r *rechargekit.ActionRecord) { r.ActorName = "" },
			"no actor role":     func(r *rechargekit.ActionRecord) { r.ActorRole = "" },
			"empty action name": func(r *rechargekit.ActionRecord) { r.Action = "" },
		} {
			rec := record("", "h")
			mutate(rec)
			_, err := st.BeginAction(ctx, rec)
			wantCode(t, name, err, rechargekit.EINVALID)
		}
		if n := len(mustRecords(t, st, rechargekit.ActionFilter{})); n != 0 {
			t.Errorf("%d records after invalid attempts, want 0", n)
		}
	})

	t.Run("RecordsFilterAndOrder", func(t *testing.T) {
		st, clock := newStore(t)
		var ids []int64
		for i, spec := range []struct {
			action, actor, profile string
			customer               int64
		}{
			{rechargekit.ActionCancel, "a@x.com", "p1", 1},
			{rechargekit.ActionSkip, "b@x.com", "p1", 1},
			{rechargekit.ActionSkip, "a@x.com", "p2", 2},
		} {
			rec := record("", "h")
			rec.Action, rec.ActorName, rec.ProfileID, rec.CustomerID = spec.action, spec.actor, spec.profile, spec.customer
			mustBegin(t, st, rec)
			ids = append(ids, rec.ID)
			if i == 0 {
				if err := st.CompleteAction(ctx, rec.ID, rechargekit.OutcomeDone, "", nil); err != nil {
					t.Fatal(err)
				}
			}
			clock.Advance(time.Second)
		}
		idsOf := func(rs []*rechargekit.ActionRecord) []int64 {
			var out []int64
			for _, r := range rs {
				out = append(out, r.ID)
			}
			return out
		}
		for name, tc := range map[string]struct {
			f    rechargekit.ActionFilter
			want []int64
		}{
			"all, newest first": {rechargekit.ActionFilter{}, []int64{ids[2], ids[1], ids[0]}},
			"by action":         {rechargekit.ActionFilter{Action: rechargekit.ActionSkip}, []int64{ids[2], ids[1]}},
			"by actor":          {rechargekit.ActionFilter{ActorName: "a@x.com"}, []int64{ids[2], ids[0]}},
			"by customer":       {rechargekit.ActionFilter{CustomerID: 1}, []int64{ids[1], ids[0]}},
			"by profile":        {rechargekit.ActionFilter{ProfileID: "p2"}, []int64{ids[2]}},
			"by outcome":        {rechargekit.ActionFilter{Outcome: rechargekit.OutcomePending}, []int64{ids[2], ids[1]}},
			"limit":             {rechargekit.ActionFilter{Limit: 1}, []int64{ids[2]}},
			"negative limit":    {rechargekit.ActionFilter{Limit: -5}, []int64{ids[2], ids[1], ids[0]}},
		} {
			if diff := cmp.Diff(tc.want, idsOf(mustRecords(t, st, tc.f))); diff != "" {
				t.Errorf("%s (-want +got):\n%s", name, diff)
			}
		}
		_, err := st.ActionRecords(ctx, rechargekit.ActionFilter{Outcome: "maybe"})
		wantCode(t, "unknown outcome filter", err, rechargekit.EINVALID)
	})

	t.Run("Policy", func(t *testing.T) {
		st, _ := newStore(t)
		p, err := st.ActionPolicy(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, role := range []string{rechargekit.RoleAdmin, rechargekit.RoleAgent, rechargekit.RoleGladly} {
			for _, a := range rechargekit.AllActions() {
				if got, want := p.Allows(role, a), rechargekit.DefaultActionPolicy().Allows(role, a); got != want {
					t.Errorf("default policy: %s may %s = %v, want %v", role, a, got, want)
				}
			}
		}
		p[rechargekit.RoleAgent][rechargekit.ActionChangeQuantity] = true // a copy: the store must not change
		if p2, _ := st.ActionPolicy(ctx); p2.Allows(rechargekit.RoleAgent, rechargekit.ActionChangeQuantity) {
			t.Fatal("changing the returned policy changed the store's")
		}
		next := rechargekit.DefaultActionPolicy()
		next[rechargekit.RoleAgent][rechargekit.ActionChangeQuantity] = true
		delete(next[rechargekit.RoleGladly], rechargekit.ActionCancel)
		if err := st.UpdateActionPolicy(ctx, next, "admin@brand.com"); err != nil {
			t.Fatal(err)
		}
		got, _ := st.ActionPolicy(ctx)
		if !got.Allows(rechargekit.RoleAgent, rechargekit.ActionChangeQuantity) || got.Allows(rechargekit.RoleGladly, rechargekit.ActionCancel) ||
			!got.Allows(rechargekit.RoleAdmin, rechargekit.ActionChangeFrequency) {
			t.Errorf("policy after update: %v", got)
		}
		if log, ok := st.(rechargekit.AuditLog); ok {
			entries, err := log.Audit(ctx, rechargekit.AuditFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 2 {
				t.Fatalf("%d audit entries for two changed permissions, want 2: %+v", len(entries), entries)
			}
			for _, e := range entries {
				if e.Action != rechargekit.AuditSettingChange || e.Actor != "admin@brand.com" {
					t.Errorf("audit entry %+v", e)
				}
			}
		}
		bad := rechargekit.DefaultActionPolicy()
		bad["owner"] = map[string]bool{rechargekit.ActionCancel: true}
		wantCode(t, "unknown role", st.UpdateActionPolicy(ctx, bad, "admin@brand.com"), rechargekit.EINVALID)
		bad = rechargekit.ActionPolicy{rechargekit.RoleAgent: {"refund": true}}
		wantCode(t, "unknown action", st.UpdateActionPolicy(ctx, bad, "admin@brand.com"), rechargekit.EINVALID)
		wantCode(t, "empty by", st.UpdateActionPolicy(ctx, next, ""), rechargekit.EINVALID)
	})
}

// record returns a pending attempt with the given key and request hash.
func record(key, hash string) *rechargekit.ActionRecord {
	return &rechargekit.ActionRecord{
		IdempotencyKey: key, RequestHash: hash,
		ActorRole: rechargekit.RoleAgent, ActorName: "agent@brand.com", Via: rechargekit.ViaConsole,
		ProfileID: "p1", CustomerID: 183940021, SubscriptionID: 585062093,
		Action: rechargekit.ActionCancel, Inputs: `{"reason":"Too expensive"}`,
		Outcome: rechargekit.OutcomePending,
	}
}

func mustBegin(t *testing.T, st rechargekit.ActionStore, rec *rechargekit.ActionRecord) {
	t.Helper()
	if prev, err := st.BeginAction(context.Background(), rec); err != nil || prev != nil {
		t.Fatalf("BeginAction = %+v, %v; want a new attempt", prev, err)
	}
}

func mustRecords(t *testing.T, st rechargekit.ActionStore, f rechargekit.ActionFilter) []*rechargekit.ActionRecord {
	t.Helper()
	rs, err := st.ActionRecords(context.Background(), f)
	if err != nil {
		t.Fatalf("ActionRecords(%+v): %v", f, err)
	}
	return rs
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := rechargekit.ErrorCode(err); got != code {
		t.Errorf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}
