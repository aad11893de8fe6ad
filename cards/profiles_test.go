package cards_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/cards"
	"github.com/rechargekit/rechargekit/sqlite"
)

// newProfiles returns a Profiles over the fake Recharge source and a fresh
// SQLite store holding the given profiles.
func newProfiles(t *testing.T, profiles ...*rechargekit.Profile) (*cards.Profiles, *fakeSource, rechargekit.Store) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "rk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for _, p := range profiles {
		if _, err := store.UpsertProfile(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	src := newFake()
	return &cards.Profiles{Cards: cards.New(src), Store: store}, src, store
}

func TestOpenAutoLinksUniqueEmailMatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, _, store := newProfiles(t, &rechargekit.Profile{ID: "p1", Name: "Sam", Emails: []string{"nobody@x.com", "SAM@example.com"}})

	v, err := svc.Open(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if !v.AutoLinked || v.Link == nil || v.Link.CustomerID != 300 || v.Link.Method != rechargekit.LinkAuto || v.Link.By != cards.ActorAuto {
		t.Fatalf("view = %+v, link %+v; want an auto link to 300", v, v.Link)
	}
	if v.Card == nil || v.Card.Customer.ID != 300 || v.CardErr != nil {
		t.Errorf("card = %v, %v", v.Card, v.CardErr)
	}
	audit, err := store.Audit(ctx, rechargekit.AuditFilter{ProfileID: "p1"})
	if err != nil || len(audit) != 1 || audit[0].Action != rechargekit.AuditLink || audit[0].Actor != cards.ActorAuto {
		t.Errorf("audit = %+v, %v", audit, err)
	}

	// Opening again shows the stored link; it does not link twice.
	v, err = svc.Open(ctx, "p1")
	if err != nil || v.AutoLinked || v.Link == nil || v.Candidates != nil {
		t.Errorf("second open = %+v, %v", v, err)
	}
}

func TestOpenDoesNotAutoLink(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		profile        *rechargekit.Profile
		setup          func(t *testing.T, store rechargekit.Store)
		wantCandidates int
		wantBlocked    bool
	}{
		{"two accounts", &rechargekit.Profile{ID: "p", Name: "Sam Taylor", Emails: []string{"sam@example.com", "sam.t@example.org"}}, nil, 2, true},
		{"no match", &rechargekit.Profile{ID: "p", Name: "Nobody", Emails: []string{"nobody@example.com"}}, nil, 0, false},
		{"no email", &rechargekit.Profile{ID: "p", Name: "Walk-in", Phones: []string{"+15551234567"}}, nil, 0, false},
		{"auto-linking off", &rechargekit.Profile{ID: "p", Name: "Sam", Emails: []string{"sam@example.com"}}, func(t *testing.T, store rechargekit.Store) {
			if err := store.UpdateSettings(context.Background(), &rechargekit.Settings{AutoLink: false}, "admin@example.com"); err != nil {
				t.Fatal(err)
			}
		}, 1, true},
		{"unlinked before", &rechargekit.Profile{ID: "p", Name: "Sam", Emails: []string{"sam@example.com"}}, func(t *testing.T, store rechargekit.Store) {
			ctx := context.Background()
			if err := store.CreateLink(ctx, &rechargekit.Link{ProfileID: "p", CustomerID: 100, Method: rechargekit.LinkManual, By: "agent@example.com"}); err != nil {
				t.Fatal(err)
			}
			if err := store.DeleteLink(ctx, "p", "agent@example.com"); err != nil {
				t.Fatal(err)
			}
		}, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, _, store := newProfiles(t, tt.profile)
			if tt.setup != nil {
				tt.setup(t, store)
			}
			v, err := svc.Open(context.Background(), "p")
			if err != nil {
				t.Fatal(err)
			}
			if v.Link != nil || v.AutoLinked || v.Card != nil {
				t.Errorf("linked: %+v", v.Link)
			}
			if len(v.Candidates) != tt.wantCandidates {
				t.Errorf("candidates = %d, want %d", len(v.Candidates), tt.wantCandidates)
			}
			if (v.AutoLinkBlocked != "") != tt.wantBlocked {
				t.Errorf("AutoLinkBlocked = %q, want blocked %v", v.AutoLinkBlocked, tt.wantBlocked)
			}
		})
	}
}

func TestOpenReportsRechargeProblems(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, src, store := newProfiles(t, &rechargekit.Profile{ID: "gone", Name: "Gone"}, &rechargekit.Profile{ID: "down", Name: "Sam", Emails: []string{"sam@example.com"}})
	if err := store.CreateLink(ctx, &rechargekit.Link{ProfileID: "gone", CustomerID: 555, Method: rechargekit.LinkManual, By: "a@example.com"}); err != nil {
		t.Fatal(err)
	}
	v, err := svc.Open(ctx, "gone")
	if err != nil {
		t.Fatal(err)
	}
	if v.Card != nil || rechargekit.ErrorCode(v.CardErr) != rechargekit.ENOTFOUND {
		t.Errorf("deleted customer: card %v, err %v; want ENOTFOUND", v.Card, v.CardErr)
	}

	src.fail["email:sam@example.com"] = rechargekit.Errorf(rechargekit.EUPSTREAM, "recharge is unavailable")
	v, err = svc.Open(ctx, "down")
	if err != nil {
		t.Fatal(err)
	}
	if v.Link != nil || rechargekit.ErrorCode(v.CandidatesErr) != rechargekit.EUPSTREAM {
		t.Errorf("Recharge down: link %v, candidates err %v", v.Link, v.CandidatesErr)
	}

	if _, err := svc.Open(ctx, "missing"); rechargekit.ErrorCode(err) != rechargekit.ENOTFOUND {
		t.Errorf("unknown profile: %v", err)
	}
}

func TestManualLinkAndUnlink(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, _, store := newProfiles(t, &rechargekit.Profile{ID: "p", Name: "Sam", Emails: []string{"sam@example.com"}})

	if _, err := svc.Link(ctx, "p", 999, "agent@example.com"); rechargekit.ErrorCode(err) != rechargekit.ENOTFOUND {
		t.Errorf("link to unknown customer: %v", err)
	}
	if _, err := svc.Link(ctx, "nope", 200, "agent@example.com"); rechargekit.ErrorCode(err) != rechargekit.ENOTFOUND {
		t.Errorf("link unknown profile: %v", err)
	}
	l, err := svc.Link(ctx, "p", 200, "agent@example.com")
	if err != nil || l.Method != rechargekit.LinkManual || l.By != "agent@example.com" {
		t.Fatalf("link = %+v, %v", l, err)
	}
	if _, err := svc.Link(ctx, "p", 100, "other@example.com"); rechargekit.ErrorCode(err) != rechargekit.ECONFLICT {
		t.Errorf("link to another customer: %v, want ECONFLICT", err)
	}
	if err := svc.Unlink(ctx, "p", "agent@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := svc.Unlink(ctx, "p", "agent@example.com"); rechargekit.ErrorCode(err) != rechargekit.ENOTFOUND {
		t.Errorf("second unlink: %v", err)
	}
	// Unlinked by an agent: the unique match is shown, never auto-linked.
	v, err := svc.Open(ctx, "p")
	if err != nil || v.Link != nil || len(v.Candidates) != 1 || !v.WasUnlinked {
		t.Errorf("after unlink: %+v, %v", v, err)
	}
	audit, _ := store.Audit(ctx, rechargekit.AuditFilter{ProfileID: "p"})
	var actions []string
	for _, e := range audit {
		actions = append(actions, e.Action)
	}
	want := []string{rechargekit.AuditUnlink, rechargekit.AuditLinkConflict, rechargekit.AuditLink}
	if len(actions) != len(want) {
		t.Fatalf("audit = %v, want %v", actions, want)
	}
	for i := range want {
		if actions[i] != want[i] {
			t.Errorf("audit = %v, want %v", actions, want)
		}
	}
}

func TestSaveProfile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, _, store := newProfiles(t)
	in := &rechargekit.Profile{ID: "p1", Name: "  Sam ", Emails: []string{"sam@example.com", "SAM@example.com", ""}}
	want := &rechargekit.Profile{ID: "p1", Name: "Sam", Emails: []string{"sam@example.com"}, Phones: []string{}}
	for i, wantCreated := range []bool{true, false} {
		saved, created, err := svc.SaveProfile(ctx, in)
		if err != nil || created != wantCreated {
			t.Fatalf("SaveProfile #%d = created %v, %v; want created %v", i+1, created, err, wantCreated)
		}
		if diff := cmp.Diff(want, saved); diff != "" {
			t.Errorf("SaveProfile #%d returned (-want +got):\n%s", i+1, diff)
		}
		stored, err := store.Profile(ctx, "p1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(saved, stored); diff != "" {
			t.Errorf("SaveProfile #%d returned what it did not store (-returned +stored):\n%s", i+1, diff)
		}
	}
	if _, _, err := svc.SaveProfile(ctx, &rechargekit.Profile{ID: "bad\x00id"}); rechargekit.ErrorCode(err) != rechargekit.EINVALID {
		t.Errorf("SaveProfile(NUL in id) = %v, want EINVALID", err)
	}
}
