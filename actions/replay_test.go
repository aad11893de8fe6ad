package actions_test

import (
	"context"
	"testing"

	"github.com/rechargekit/rechargekit"
)

// TestReplayAfterThePolicyChanged: a submit whose key was applied is
// answered with that outcome even after an admin has since withdrawn the
// permission: the caller (say, a client retrying a request whose answer it
// lost) learns that the change was made, rather than a refusal for a
// change that is in fact done, and nothing is sent or audited again.
func TestReplayAfterThePolicyChanged(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	req := &rechargekit.ActionRequest{Action: rechargekit.ActionSkip, SubscriptionID: shirt}
	first := h.do(agent, req, "retry-me")

	pol := rechargekit.DefaultActionPolicy()
	pol[rechargekit.RoleAgent][rechargekit.ActionSkip] = false
	if err := h.store.UpdateActionPolicy(context.Background(), pol, "admin@brand.com"); err != nil {
		t.Fatal(err)
	}
	writes := h.writes()
	res, err := h.svc.Do(context.Background(), target, agent, req, "retry-me")
	if err != nil {
		t.Fatalf("the retry of an applied skip: %v", err)
	}
	if !res.Replayed || res.Record.ID != first.Record.ID || res.Record.Outcome != rechargekit.OutcomeDone {
		t.Errorf("the retry answered %+v (replayed %v), want the first attempt's outcome", res.Record, res.Replayed)
	}
	if n := h.writes() - writes; n != 0 {
		t.Errorf("the retry sent %d writes", n)
	}
	if rs := h.records(rechargekit.ActionFilter{}); len(rs) != 1 {
		t.Errorf("%d audit records, want the first attempt's only: %+v", len(rs), rs)
	}
	// A new submit is refused by the new policy, and audited.
	_, err = h.svc.Do(context.Background(), target, agent, req, "new-key")
	wantCode(t, err, rechargekit.EFORBIDDEN)
	if rs := h.records(rechargekit.ActionFilter{Outcome: rechargekit.OutcomeRefusedPolicy}); len(rs) != 1 {
		t.Errorf("%d policy refusals audited, want 1", len(rs))
	}
}
