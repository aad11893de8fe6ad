package storetest

import (
	"fmt"
	"github.com/rechargekit/rechargekit/internal/testkit"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
)

// Clock is the hand-moved clock the suite gives the stores it opens
// (testkit's, which every package's tests share).
type Clock = testkit.Clock

// NewClock returns a clock that reads t until it is moved.
func NewClock(t time.Time) *Clock { return testkit.NewClock(t) }

// OpenActionStore opens a fresh, empty action store for one test, whose
// clock is now, and registers its cleanup with t.Cleanup. It also returns
// another, which opens a second handle on the same database reading the
// same clock, as a second process or replica would (a store without
// handles, such as an in-memory fake, returns itself).
type OpenActionStore func(t *testing.T, now func() time.Time) (s rechargekit.ActionStore, another func() rechargekit.ActionStore)

// TwoHandles makes an OpenActionStore (or an OpenMirrorStore, or any
// opener of that shape) from a database's two parts: place makes a fresh
// database for one test and says where it is, and open opens a handle on
// it whose clock reads now; the second handle opens the same place again.
func TwoHandles[S any](place func(t *testing.T) string, open func(t *testing.T, where string, now func() time.Time) S) func(t *testing.T, now func() time.Time) (S, func() S) {
	return func(t *testing.T, now func() time.Time) (S, func() S) {
		where := place(t)
		return open(t, where, now), func() S { return open(t, where, now) }
	}
}

// RunActionStore runs the conformance suite for rechargekit.ActionStore
// against the stores that open returns: recording and completing attempts,
// the idempotency window and its races, the audit's filters and limits,
// and the action policy. A store that also implements rechargekit.AuditLog
// is checked to audit each policy change. Every subtest opens its own store
// and runs in parallel with the others.
func RunActionStore(t *testing.T, open OpenActionStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, c *Clock, s rechargekit.ActionStore, another func() rechargekit.ActionStore)
	}{
		{"BeginAndComplete", testActionBeginComplete},
		{"FinalOutcomeAtBegin", testActionFinalAtBegin},
		{"Invalid", testActionInvalid},
		{"IdempotencyKey/ReplayWritesNothing", testActionReplay},
		{"IdempotencyKey/OtherRequestConflicts", testActionKeyConflict},
		{"IdempotencyKey/ReusableAfterWindow", testActionKeyWindow},
		{"IdempotencyKey/ConcurrentOneWinner", func(t *testing.T, c *Clock, s rechargekit.ActionStore, _ func() rechargekit.ActionStore) {
			testActionKeyRace(t, s, s)
		}},
		{"IdempotencyKey/ConcurrentAcrossHandles", func(t *testing.T, c *Clock, s rechargekit.ActionStore, another func() rechargekit.ActionStore) {
			testActionKeyRace(t, s, another())
		}},
		{"Records/FiltersNewestFirst", testActionFilters},
		{"Records/Limits", testActionLimits},
		{"Policy/Default", testActionPolicyDefault},
		{"Policy/UpdateAudited", testActionPolicyUpdate},
		{"Policy/Invalid", testActionPolicyInvalid},
	}
	for _, tt := range tests {
		runClocked(t, tt.name, open, tt.fn)
	}
}

// runClocked runs fn as a parallel subtest on a store that open opens
// with a hand-moved clock, which fn gets too.
func runClocked[S any](t *testing.T, name string, open func(t *testing.T, now func() time.Time) (S, func() S), fn func(t *testing.T, c *Clock, s S, another func() S)) {
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		c := NewClock(time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC))
		s, another := open(t, c.Now)
		fn(t, c, s, another)
	})
}

// at is a time as the stores keep it: UTC, in microseconds.
func at(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// attempt returns a pending attempt with every field set.
func attempt(key, hash string) *rechargekit.ActionRecord {
	return &rechargekit.ActionRecord{
		IdempotencyKey: key,
		RequestHash:    hash,
		ActorRole:      rechargekit.RoleAgent,
		ActorName:      "agent@example.com",
		Via:            rechargekit.ViaConsole,
		ProfileID:      "p-1",
		CustomerID:     183940021,
		SubscriptionID: 585062093,
		Action:         rechargekit.ActionCancel,
		Inputs:         `{"reason":"Moving abroad","sendEmail":true}`,
		Before:         &rechargekit.SubscriptionState{Status: "active", NextChargeDate: "2026-04-01", IntervalUnit: "month", IntervalFrequency: 1, Quantity: 1},
		Outcome:        rechargekit.OutcomePending,
	}
}

// MustBeginAction records rec, which must be new, or fails the test.
func MustBeginAction(tb testing.TB, s rechargekit.ActionStore, rec *rechargekit.ActionRecord) {
	tb.Helper()
	existing, err := s.BeginAction(tb.Context(), rec)
	if err != nil || existing != nil {
		tb.Fatalf("BeginAction(%s, key %q) = %+v, %v; want a new attempt", rec.Action, rec.IdempotencyKey, existing, err)
	}
	if rec.ID <= 0 || rec.At.IsZero() {
		tb.Fatalf("BeginAction set ID %d and At %v, want both", rec.ID, rec.At)
	}
}

// MustActionRecords returns the attempts matching f or fails the test.
func MustActionRecords(tb testing.TB, s rechargekit.ActionStore, f rechargekit.ActionFilter) []*rechargekit.ActionRecord {
	tb.Helper()
	recs, err := s.ActionRecords(tb.Context(), f)
	if err != nil {
		tb.Fatalf("ActionRecords(%+v): %v", f, err)
	}
	return recs
}

// ids returns the attempts' ids, in order.
func ids(recs []*rechargekit.ActionRecord) []int64 {
	return idsOf(recs, func(r *rechargekit.ActionRecord) int64 { return r.ID })
}

// idsOf returns id of each of xs, in order; never nil.
func idsOf[T any](xs []T, id func(T) int64) []int64 {
	out := make([]int64, 0, len(xs))
	for _, x := range xs {
		out = append(out, id(x))
	}
	return out
}

func testActionBeginComplete(t *testing.T, c *Clock, s rechargekit.ActionStore, _ func() rechargekit.ActionStore) {
	ctx := t.Context()
	rec := attempt("key-1", "hash-1")
	rec.At = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) // the store stamps its own time
	rec.CorrelationID = "corr-1"
	MustBeginAction(t, s, rec)
	begun := at(c.Now())
	if !rec.At.Equal(begun) || rec.At.Location() != time.UTC || rec.CompletedAt != nil {
		t.Errorf("BeginAction set At %v and CompletedAt %v, want the store's time %v and nil", rec.At, rec.CompletedAt, begun)
	}
	got := MustActionRecords(t, s, rechargekit.ActionFilter{})
	if diff := cmp.Diff([]*rechargekit.ActionRecord{rec}, got); diff != "" {
		t.Errorf("ActionRecords after BeginAction mismatch (-want +got):\n%s", diff)
	}

	c.Advance(1500 * time.Millisecond)
	after := &rechargekit.SubscriptionState{Status: "cancelled"}
	mustOK(t, "CompleteAction", s.CompleteAction(ctx, rec.ID, rechargekit.OutcomeDone, "", after))
	done := at(c.Now())
	want := *rec
	want.Outcome, want.After, want.CompletedAt = rechargekit.OutcomeDone, after, &done
	got = MustActionRecords(t, s, rechargekit.ActionFilter{})
	if diff := cmp.Diff([]*rechargekit.ActionRecord{&want}, got); diff != "" {
		t.Errorf("ActionRecords after CompleteAction mismatch (-want +got):\n%s", diff)
	}

	// Pending to final happens once; the record keeps the first outcome.
	wantCode(t, "CompleteAction twice", s.CompleteAction(ctx, rec.ID, rechargekit.OutcomeFailed, "timeout", nil), rechargekit.ECONFLICT)
	wantCode(t, "CompleteAction(unknown id)", s.CompleteAction(ctx, rec.ID+1000, rechargekit.OutcomeDone, "", nil), rechargekit.ENOTFOUND)
	got = MustActionRecords(t, s, rechargekit.ActionFilter{})
	if diff := cmp.Diff([]*rechargekit.ActionRecord{&want}, got); diff != "" {
		t.Errorf("ActionRecords after refused completions mismatch (-want +got):\n%s", diff)
	}

	// A refusal by Recharge keeps its message and has no state after.
	other := attempt("", "")
	MustBeginAction(t, s, other)
	for _, bad := range []string{rechargekit.OutcomePending, "maybe", ""} {
		wantCode(t, fmt.Sprintf("CompleteAction(outcome %q)", bad), s.CompleteAction(ctx, other.ID, bad, "", nil), rechargekit.EINVALID)
	}
	wantCode(t, "CompleteAction(message with a newline)", s.CompleteAction(ctx, other.ID, rechargekit.OutcomeFailed, "a\nb", nil), rechargekit.EINVALID)
	mustOK(t, "CompleteAction(refused)", s.CompleteAction(ctx, other.ID, rechargekit.OutcomeRefusedRecharge, "A cancellation reason is required.", nil))
	got = MustActionRecords(t, s, rechargekit.ActionFilter{})
	if len(got) != 2 || got[0].ID != other.ID || got[0].Outcome != rechargekit.OutcomeRefusedRecharge ||
		got[0].Message != "A cancellation reason is required." || got[0].After != nil || got[0].CompletedAt == nil {
		t.Errorf("ActionRecords after a refusal = %+v; want it first, refused with Recharge's message and no state after", got)
	}
}

func testActionFinalAtBegin(t *testing.T, c *Clock, s rechargekit.ActionStore, _ func() rechargekit.ActionStore) {
	rec := attempt("key-1", "hash-1")
	rec.ActorRole, rec.Via, rec.ActorName = rechargekit.RoleGladly, rechargekit.ViaGladly, "Gladly"
	rec.Action = rechargekit.ActionChangeFrequency
	rec.Outcome, rec.Message = rechargekit.OutcomeRefusedPolicy, "Your role may not change a subscription's frequency."
	MustBeginAction(t, s, rec)
	if rec.CompletedAt == nil || !rec.CompletedAt.Equal(rec.At) {
		t.Errorf("BeginAction(refused by policy) set CompletedAt %v, want its At %v", rec.CompletedAt, rec.At)
	}
	wantCode(t, "CompleteAction(already final)", s.CompleteAction(t.Context(), rec.ID, rechargekit.OutcomeDone, "", nil), rechargekit.ECONFLICT)
	if diff := cmp.Diff([]*rechargekit.ActionRecord{rec}, MustActionRecords(t, s, rechargekit.ActionFilter{})); diff != "" {
		t.Errorf("ActionRecords mismatch (-want +got):\n%s", diff)
	}
	// The refusal holds its key like any attempt.
	again := attempt("key-1", "hash-1")
	existing, err := s.BeginAction(t.Context(), again)
	if err != nil || existing == nil || existing.ID != rec.ID || existing.Outcome != rechargekit.OutcomeRefusedPolicy {
		t.Errorf("BeginAction(same key) = %+v, %v; want the refusal", existing, err)
	}
}

func testActionInvalid(t *testing.T, c *Clock, s rechargekit.ActionStore, _ func() rechargekit.ActionStore) {
	tests := []struct {
		name string
		edit func(r *rechargekit.ActionRecord)
	}{
		{"unknown action", func(r *rechargekit.ActionRecord) { r.Action = "refund" }},
		{"no outcome", func(r *rechargekit.ActionRecord) { r.Outcome = "" }},
		{"unknown outcome", func(r *rechargekit.ActionRecord) { r.Outcome = "maybe" }},
		{"unknown role", func(r *rechargekit.ActionRecord) { r.ActorRole = "root" }},
		{"unknown via", func(r *rechargekit.ActionRecord) { r.Via = "fax" }},
		{"no actor name", func(r *rechargekit.ActionRecord) { r.ActorName = " " }},
		{"key without request hash", func(r *rechargekit.ActionRecord) { r.IdempotencyKey, r.RequestHash = "k", "" }},
		{"inputs not JSON", func(r *rechargekit.ActionRecord) { r.Inputs = "{reason" }},
		{"NUL in message", func(r *rechargekit.ActionRecord) { r.Message = "a\x00b" }},
		{"invalid UTF-8 in key", func(r *rechargekit.ActionRecord) { r.IdempotencyKey = "k\xff" }},
		{"negative customer", func(r *rechargekit.ActionRecord) { r.CustomerID = -1 }},
	}
	for _, tt := range tests {
		rec := attempt("key", "hash")
		tt.edit(rec)
		existing, err := s.BeginAction(t.Context(), rec)
		if existing != nil || rechargekit.ErrorCode(err) != rechargekit.EINVALID {
			t.Errorf("BeginAction(%s) = %+v, %v; want EINVALID", tt.name, existing, err)
		}
	}
	_, err := s.BeginAction(t.Context(), nil)
	wantCode(t, "BeginAction(nil)", err, rechargekit.EINVALID)
	if got := MustActionRecords(t, s, rechargekit.ActionFilter{}); len(got) != 0 {
		t.Errorf("invalid attempts stored %d records, want none", len(got))
	}
	for _, f := range []rechargekit.ActionFilter{{Action: "refund"}, {Outcome: "maybe"}, {CustomerID: -1}} {
		_, err := s.ActionRecords(t.Context(), f)
		wantCode(t, fmt.Sprintf("ActionRecords(%+v)", f), err, rechargekit.EINVALID)
	}
}

func testActionReplay(t *testing.T, c *Clock, s rechargekit.ActionStore, _ func() rechargekit.ActionStore) {
	ctx := t.Context()
	first := attempt("key-1", "hash-1")
	MustBeginAction(t, s, first)

	// The same key and request within the window, even from someone else
	// and about another state, returns the first attempt and writes nothing.
	c.Advance(time.Hour)
	again := attempt("key-1", "hash-1")
	again.ActorName, again.Before = "other@example.com", &rechargekit.SubscriptionState{Status: "cancelled"}
	sent := *again
	existing, err := s.BeginAction(ctx, again)
	mustOK(t, "BeginAction(same key)", err)
	if diff := cmp.Diff(first, existing); diff != "" {
		t.Errorf("BeginAction(same key) returned another attempt (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&sent, again); diff != "" {
		t.Errorf("BeginAction(same key) changed the caller's record (-sent +after):\n%s", diff)
	}
	// It also returns the first outcome once there is one.
	after := &rechargekit.SubscriptionState{Status: "cancelled"}
	mustOK(t, "CompleteAction", s.CompleteAction(ctx, first.ID, rechargekit.OutcomeDone, "", after))
	c.Advance(22 * time.Hour)
	existing, err = s.BeginAction(ctx, attempt("key-1", "hash-1"))
	mustOK(t, "BeginAction(same key, completed)", err)
	if existing == nil || existing.ID != first.ID || existing.Outcome != rechargekit.OutcomeDone || !cmp.Equal(existing.After, after) {
		t.Errorf("BeginAction(same key, completed) = %+v; want the first attempt, done", existing)
	}
	if got := ids(MustActionRecords(t, s, rechargekit.ActionFilter{})); !cmp.Equal(got, []int64{first.ID}) {
		t.Errorf("records after replays = %v, want only the first attempt %d", got, first.ID)
	}
	// Attempts without a key are never de-duplicated.
	MustBeginAction(t, s, attempt("", ""))
	MustBeginAction(t, s, attempt("", ""))
	if got := MustActionRecords(t, s, rechargekit.ActionFilter{}); len(got) != 3 {
		t.Errorf("records after two attempts without a key = %d, want 3", len(got))
	}
}

func testActionKeyConflict(t *testing.T, c *Clock, s rechargekit.ActionStore, _ func() rechargekit.ActionStore) {
	first := attempt("key-1", "hash-1")
	MustBeginAction(t, s, first)
	c.Advance(time.Minute)
	existing, err := s.BeginAction(t.Context(), attempt("key-1", "hash-2"))
	wantCode(t, "BeginAction(same key, other request)", err, rechargekit.ECONFLICT)
	if existing != nil && existing.ID != first.ID {
		t.Errorf("BeginAction(same key, other request) returned attempt %d, want the first one %d (or none)", existing.ID, first.ID)
	}
	if got := ids(MustActionRecords(t, s, rechargekit.ActionFilter{})); !cmp.Equal(got, []int64{first.ID}) {
		t.Errorf("records after a conflicting key = %v, want only %d", got, first.ID)
	}
}

func testActionKeyWindow(t *testing.T, c *Clock, s rechargekit.ActionStore, _ func() rechargekit.ActionStore) {
	ctx := t.Context()
	first := attempt("key-1", "hash-1")
	MustBeginAction(t, s, first)
	mustOK(t, "CompleteAction", s.CompleteAction(ctx, first.ID, rechargekit.OutcomeDone, "", nil))

	// One microsecond before the window ends the key is still held.
	c.Advance(rechargekit.IdempotencyWindow - time.Microsecond)
	existing, err := s.BeginAction(ctx, attempt("key-1", "hash-1"))
	if err != nil || existing == nil || existing.ID != first.ID {
		t.Fatalf("BeginAction(key, just inside the window) = %+v, %v; want the first attempt", existing, err)
	}
	// From the window's end it is a new attempt, even with another request,
	// and the first attempt keeps its key in the audit.
	c.Advance(time.Microsecond)
	second := attempt("key-1", "hash-2")
	MustBeginAction(t, s, second)
	if second.ID == first.ID || !second.At.Equal(at(c.Now())) {
		t.Errorf("BeginAction(key after the window) = attempt %d at %v; want a new one at %v", second.ID, second.At, at(c.Now()))
	}
	recs := MustActionRecords(t, s, rechargekit.ActionFilter{})
	if len(recs) != 2 || recs[0].ID != second.ID || recs[1].ID != first.ID || recs[1].IdempotencyKey != "key-1" || recs[1].Outcome != rechargekit.OutcomeDone {
		t.Errorf("records after reusing an expired key = %+v; want the new attempt, then the first one unchanged", recs)
	}
	// The key is now the second attempt's, for a new window.
	c.Advance(time.Hour)
	existing, err = s.BeginAction(ctx, attempt("key-1", "hash-2"))
	if err != nil || existing == nil || existing.ID != second.ID {
		t.Errorf("BeginAction(key within the new window) = %+v, %v; want the second attempt %d", existing, err, second.ID)
	}
	_, err = s.BeginAction(ctx, attempt("key-1", "hash-1"))
	wantCode(t, "BeginAction(the first request within the new window)", err, rechargekit.ECONFLICT)
}

// testActionKeyRace begins attempts with one key from several goroutines,
// alternating between two handles (which may be one): exactly one is
// recorded and every other caller gets it back; with different requests,
// every other caller gets ECONFLICT.
func testActionKeyRace(t *testing.T, a, b rechargekit.ActionStore) {
	for _, sameRequest := range []bool{true, false} {
		key := fmt.Sprintf("race-%v", sameRequest)
		recs := make([]*rechargekit.ActionRecord, RacingWriters)
		existing := make([]*rechargekit.ActionRecord, RacingWriters)
		errs := make([]error, RacingWriters)
		concurrently(RacingWriters, func(i int) {
			hash := "hash"
			if !sameRequest {
				hash = fmt.Sprintf("hash-%d", i)
			}
			recs[i] = attempt(key, hash)
			s := a
			if i%2 == 1 {
				s = b
			}
			existing[i], errs[i] = s.BeginAction(t.Context(), recs[i])
		})
		var winners []int
		for i := range RacingWriters {
			if errs[i] == nil && existing[i] == nil {
				winners = append(winners, i)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("%d racing BeginAction with key %q: %d recorded a new attempt (errors %v), want exactly one", RacingWriters, key, len(winners), errs)
		}
		w := recs[winners[0]]
		for i := range RacingWriters {
			switch {
			case i == winners[0]:
			case sameRequest && (errs[i] != nil || existing[i].ID != w.ID):
				t.Errorf("racer %d: BeginAction = %+v, %v; want the winner's attempt %d", i, existing[i], errs[i], w.ID)
			case !sameRequest && rechargekit.ErrorCode(errs[i]) != rechargekit.ECONFLICT:
				t.Errorf("racer %d with another request: BeginAction error %v, want ECONFLICT", i, errs[i])
			}
		}
		for _, s := range []rechargekit.ActionStore{a, b} {
			got := MustActionRecords(t, s, rechargekit.ActionFilter{})
			n := 0
			for _, r := range got {
				if r.IdempotencyKey == key {
					n++
				}
			}
			if n != 1 {
				t.Errorf("records with key %q after the race = %d, want 1", key, n)
			}
		}
	}
}

func testActionFilters(t *testing.T, c *Clock, s rechargekit.ActionStore, _ func() rechargekit.ActionStore) {
	mk := func(action, actor string, customer int64, profileID, outcome string) *rechargekit.ActionRecord {
		r := attempt("", "")
		r.Action, r.ActorName, r.CustomerID, r.ProfileID, r.Outcome = action, actor, customer, profileID, outcome
		c.Advance(time.Second)
		MustBeginAction(t, s, r)
		return r
	}
	r1 := mk(rechargekit.ActionCancel, "ada@example.com", 1, "p-1", rechargekit.OutcomePending)
	r2 := mk(rechargekit.ActionSkip, "bob@example.com", 1, "p-1", rechargekit.OutcomeRefusedPolicy)
	r3 := mk(rechargekit.ActionCancel, "bob@example.com", 2, "p-2", rechargekit.OutcomeFailed)
	r4 := mk(rechargekit.ActionReactivate, "ada@example.com", 2, "", rechargekit.OutcomePending)
	mustOK(t, "CompleteAction", s.CompleteAction(t.Context(), r1.ID, rechargekit.OutcomeDone, "", nil))

	tests := []struct {
		f    rechargekit.ActionFilter
		want []*rechargekit.ActionRecord
	}{
		{rechargekit.ActionFilter{}, []*rechargekit.ActionRecord{r4, r3, r2, r1}},
		{rechargekit.ActionFilter{Action: rechargekit.ActionCancel}, []*rechargekit.ActionRecord{r3, r1}},
		{rechargekit.ActionFilter{ActorName: "bob@example.com"}, []*rechargekit.ActionRecord{r3, r2}},
		{rechargekit.ActionFilter{CustomerID: 2}, []*rechargekit.ActionRecord{r4, r3}},
		{rechargekit.ActionFilter{ProfileID: "p-1"}, []*rechargekit.ActionRecord{r2, r1}},
		{rechargekit.ActionFilter{Outcome: rechargekit.OutcomeDone}, []*rechargekit.ActionRecord{r1}},
		{rechargekit.ActionFilter{Outcome: rechargekit.OutcomePending}, []*rechargekit.ActionRecord{r4}},
		{rechargekit.ActionFilter{Action: rechargekit.ActionCancel, ActorName: "bob@example.com", CustomerID: 2, ProfileID: "p-2",
			Outcome: rechargekit.OutcomeFailed}, []*rechargekit.ActionRecord{r3}},
		{rechargekit.ActionFilter{Action: rechargekit.ActionCancel, CustomerID: 1}, []*rechargekit.ActionRecord{r1}},
		{rechargekit.ActionFilter{Action: rechargekit.ActionChangeQuantity}, []*rechargekit.ActionRecord{}},
	}
	for _, tt := range tests {
		got := MustActionRecords(t, s, tt.f)
		if diff := cmp.Diff(ids(tt.want), ids(got)); diff != "" {
			t.Errorf("ActionRecords(%+v) ids mismatch (-want +got):\n%s", tt.f, diff)
		}
		for i, r := range got {
			if i > 0 && !r.At.Before(got[i-1].At) {
				t.Errorf("ActionRecords(%+v): attempt %d at %v after attempt %d at %v; want newest first", tt.f, r.ID, r.At, got[i-1].ID, got[i-1].At)
			}
		}
	}
}

func testActionLimits(t *testing.T, c *Clock, s rechargekit.ActionStore, _ func() rechargekit.ActionStore) {
	const n = 101
	var last int64
	for range n {
		r := attempt("", "")
		MustBeginAction(t, s, r)
		last = r.ID
	}
	for _, tt := range []struct{ limit, want int }{{0, 100}, {-1, 100}, {3, 3}, {5000, n}} {
		got := MustActionRecords(t, s, rechargekit.ActionFilter{Limit: tt.limit})
		if len(got) != tt.want || got[0].ID != last {
			t.Errorf("ActionRecords(Limit %d) = %d records starting with %d; want %d, newest (%d) first", tt.limit, len(got), got[0].ID, tt.want, last)
		}
	}
}

func testActionPolicyDefault(t *testing.T, c *Clock, s rechargekit.ActionStore, _ func() rechargekit.ActionStore) {
	got, err := s.ActionPolicy(t.Context())
	mustOK(t, "ActionPolicy", err)
	if diff := cmp.Diff(rechargekit.DefaultActionPolicy(), got); diff != "" {
		t.Errorf("ActionPolicy of a new store mismatch (-want +got):\n%s", diff)
	}
}

// policyChanges returns the details of the audit's setting changes, newest
// first, when the store keeps an audit log.
func policyChanges(t *testing.T, s rechargekit.ActionStore) ([]string, bool) {
	log, ok := s.(rechargekit.AuditLog)
	if !ok {
		return nil, false
	}
	entries, err := log.Audit(t.Context(), rechargekit.AuditFilter{})
	mustOK(t, "Audit", err)
	out := []string{}
	for _, e := range entries {
		if e.Action != rechargekit.AuditSettingChange || e.Actor != "admin@example.com" || e.ID <= 0 || e.At.IsZero() {
			t.Errorf("audit entry %+v: want a setting change by admin@example.com", e)
		}
		out = append(out, e.Detail)
	}
	return out, true
}

func testActionPolicyUpdate(t *testing.T, c *Clock, s rechargekit.ActionStore, _ func() rechargekit.ActionStore) {
	ctx := t.Context()
	p := rechargekit.DefaultActionPolicy()
	p[rechargekit.RoleAgent][rechargekit.ActionChangeFrequency] = true
	p[rechargekit.RoleGladly][rechargekit.ActionCancel] = false
	mustOK(t, "UpdateActionPolicy", s.UpdateActionPolicy(ctx, p, "admin@example.com"))
	got, err := s.ActionPolicy(ctx)
	mustOK(t, "ActionPolicy", err)
	// The policy read back says every pair; compare what it allows.
	for _, role := range []string{rechargekit.RoleAdmin, rechargekit.RoleAgent, rechargekit.RoleGladly} {
		for _, a := range rechargekit.AllActions() {
			if got.Allows(role, a) != p.Allows(role, a) {
				t.Errorf("after UpdateActionPolicy, %s may %s: %v, want %v", role, a, got.Allows(role, a), p.Allows(role, a))
			}
		}
	}
	want := []string{"action policy gladly cancel: on -> off", "action policy agent change_frequency: off -> on"}
	if changes, ok := policyChanges(t, s); ok {
		if len(changes) != 2 || !(cmp.Equal(changes, want) || cmp.Equal(changes, []string{want[1], want[0]})) {
			t.Errorf("audit after changing two permissions = %q, want one entry each: %q", changes, want)
		}
	}
	// Saving the same policy again, from several admins at once, changes
	// nothing and audits nothing.
	errs := make([]error, RacingWriters)
	concurrently(RacingWriters, func(i int) { errs[i] = s.UpdateActionPolicy(ctx, p, "admin@example.com") })
	for _, err := range errs {
		mustOK(t, "UpdateActionPolicy(unchanged)", err)
	}
	if changes, ok := policyChanges(t, s); ok && len(changes) != 2 {
		t.Errorf("audit after saving an unchanged policy = %q, want still the two changes", changes)
	}
	// A role left out allows nothing.
	mustOK(t, "UpdateActionPolicy(no gladly)", s.UpdateActionPolicy(ctx, rechargekit.ActionPolicy{
		rechargekit.RoleAdmin: p[rechargekit.RoleAdmin], rechargekit.RoleAgent: p[rechargekit.RoleAgent]}, "admin@example.com"))
	got, err = s.ActionPolicy(ctx)
	mustOK(t, "ActionPolicy", err)
	for _, a := range rechargekit.AllActions() {
		if got.Allows(rechargekit.RoleGladly, a) {
			t.Errorf("after a policy without gladly, gladly may %s", a)
		}
	}
	if changes, ok := policyChanges(t, s); ok && len(changes) != 2+4 {
		t.Errorf("audit after revoking gladly's four remaining actions = %d entries, want 6: %q", len(changes), changes)
	}
}

func testActionPolicyInvalid(t *testing.T, c *Clock, s rechargekit.ActionStore, _ func() rechargekit.ActionStore) {
	ctx := t.Context()
	tests := []struct {
		name string
		p    rechargekit.ActionPolicy
		by   string
	}{
		{"unknown role", rechargekit.ActionPolicy{"root": {rechargekit.ActionCancel: true}}, "admin@example.com"},
		{"unknown action", rechargekit.ActionPolicy{rechargekit.RoleAgent: {"refund": true}}, "admin@example.com"},
		{"empty by", rechargekit.DefaultActionPolicy(), ""},
		{"nil", nil, "admin@example.com"},
	}
	for _, tt := range tests {
		wantCode(t, "UpdateActionPolicy("+tt.name+")", s.UpdateActionPolicy(ctx, tt.p, tt.by), rechargekit.EINVALID)
	}
	got, err := s.ActionPolicy(ctx)
	mustOK(t, "ActionPolicy", err)
	if diff := cmp.Diff(rechargekit.DefaultActionPolicy(), got); diff != "" {
		t.Errorf("ActionPolicy after refused updates mismatch (-want +got):\n%s", diff)
	}
	if changes, ok := policyChanges(t, s); ok && len(changes) != 0 {
		t.Errorf("refused updates audited %q", changes)
	}
}
