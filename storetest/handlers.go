package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
)

// This file checks what the handlers rely on the store to decide, and the
// cases where the SQLite and PostgreSQL stores once behaved differently.

// RacingWriters is how many goroutines the concurrent-write tests start.
const RacingWriters = 8

// concurrently runs fn(i) for i in [0, n) from n goroutines released at once.
func concurrently(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

func testProfileUpsertCreated(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	for i, want := range []bool{true, false, false} {
		created, err := s.UpsertProfile(ctx, profile("p-1", fmt.Sprintf("Name %d", i)))
		mustOK(t, "UpsertProfile", err)
		if created != want {
			t.Errorf("UpsertProfile #%d reported created = %v, want %v", i+1, created, want)
		}
	}
	_, err := s.UpsertProfile(ctx, &rechargekit.Profile{ID: "p-2", Name: "bad \xff"})
	wantCode(t, "UpsertProfile(invalid)", err, rechargekit.EINVALID)
	if created, err := s.UpsertProfile(ctx, profile("p-2", "Bea")); err != nil || !created {
		t.Errorf("UpsertProfile after a refused one = %v, %v; want created", created, err)
	}
}

// CheckOneCreator upserts one new profile from RacingWriters goroutines
// spread over the stores and checks that exactly one is told it created it.
func CheckOneCreator(t *testing.T, id string, stores ...rechargekit.Store) {
	t.Helper()
	var mu sync.Mutex
	creators, errs := 0, []error{}
	concurrently(RacingWriters, func(i int) {
		created, err := stores[i%len(stores)].UpsertProfile(context.Background(), profile(id, fmt.Sprintf("Writer %d", i)))
		mu.Lock()
		defer mu.Unlock()
		if created {
			creators++
		}
		if err != nil {
			errs = append(errs, err)
		}
	})
	if len(errs) > 0 || creators != 1 {
		t.Errorf("%d racing upserts of new profile %s: %d reported creating it, errors %v; want exactly one and no errors",
			RacingWriters, id, creators, errs)
	}
}

func testProfileUpsertRace(t *testing.T, s rechargekit.Store) {
	for i := range 5 {
		CheckOneCreator(t, fmt.Sprintf("new-%d", i), s)
	}
}

func testProfileSummaries(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	at := time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)
	ada := &rechargekit.Profile{ID: "p-ada", Name: "Ada", Emails: []string{"ada@example.com"}, Phones: []string{"+1 555 0100"}}
	for _, p := range []*rechargekit.Profile{ada, profile("p-bea", "Bea"), profile("p-cy", "Cy"), profile("p-di", "Di")} {
		MustUpsertProfile(t, s, p)
	}
	link := &rechargekit.Link{ProfileID: "p-ada", CustomerID: 42, Method: rechargekit.LinkManual, By: "agent@example.com", At: at}
	MustCreateLink(t, s, link)
	MustCreateLink(t, s, &rechargekit.Link{ProfileID: "p-bea", CustomerID: 43, Method: rechargekit.LinkAuto, By: "auto"})
	mustOK(t, "DeleteLink", s.DeleteLink(ctx, "p-bea", "agent@example.com"))
	relinked := &rechargekit.Link{ProfileID: "p-cy", CustomerID: 44, Method: rechargekit.LinkAuto, By: "auto", At: at}
	MustCreateLink(t, s, relinked)
	mustOK(t, "DeleteLink", s.DeleteLink(ctx, "p-cy", "agent@example.com"))
	relinked.CustomerID, relinked.Method, relinked.By = 45, rechargekit.LinkManual, "agent@example.com"
	MustCreateLink(t, s, relinked)

	got, err := s.SearchProfileSummaries(ctx, "", 0)
	mustOK(t, "SearchProfileSummaries", err)
	want := []*rechargekit.ProfileSummary{
		{Profile: ada, Link: link},
		{Profile: profile("p-bea", "Bea"), WasUnlinked: true},
		{Profile: profile("p-cy", "Cy"), Link: relinked, WasUnlinked: true},
		{Profile: profile("p-di", "Di")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SearchProfileSummaries mismatch (-want +got):\n%s", diff)
	}
	// It finds what SearchProfiles finds, in the same order, with the same limits.
	for _, tt := range []struct {
		q     string
		limit int
	}{{"", 2}, {"ada@", 0}, {"555 0100", 10}, {"c", 10}, {"zebra", 10}} {
		profiles, err := s.SearchProfiles(ctx, tt.q, tt.limit)
		mustOK(t, "SearchProfiles", err)
		summaries, err := s.SearchProfileSummaries(ctx, tt.q, tt.limit)
		mustOK(t, "SearchProfileSummaries", err)
		got := []*rechargekit.Profile{}
		for _, f := range summaries {
			got = append(got, f.Profile)
		}
		if diff := cmp.Diff(profiles, got); diff != "" {
			t.Errorf("SearchProfileSummaries(%q, %d) profiles differ from SearchProfiles (-profiles +summaries):\n%s", tt.q, tt.limit, diff)
		}
	}
}

// testUnlinkRaceLink unlinks a linked profile while another caller links
// it to another customer. Either order is right, but the two must take
// effect one after the other: the link is refused as a conflict with the
// old link (then unlinked), or made after the unlink; and the audit log
// tells the same order.
func testUnlinkRaceLink(t *testing.T, s rechargekit.Store) {
	for i := range RaceRounds {
		ctx := t.Context()
		id := fmt.Sprintf("unlink-race-%02d", i)
		MustUpsertProfile(t, s, profile(id, "Racer"))
		MustCreateLink(t, s, &rechargekit.Link{ProfileID: id, CustomerID: 1, Method: rechargekit.LinkManual, By: "first@example.com"})
		var linkErr, unlinkErr error
		concurrently(2, func(i int) {
			if i == 0 {
				linkErr = s.CreateLink(ctx, &rechargekit.Link{ProfileID: id, CustomerID: 2, Method: rechargekit.LinkManual, By: "linker@example.com"})
			} else {
				unlinkErr = s.DeleteLink(ctx, id, "unlinker@example.com")
			}
		})
		mustOK(t, "DeleteLink racing a link", unlinkErr)
		got := story(t, MustAudit(t, s, rechargekit.AuditFilter{ProfileID: id}))
		l, err := s.Link(ctx, id)
		var want []step
		switch rechargekit.ErrorCode(linkErr) {
		case rechargekit.ECONFLICT: // linked first, refused, then unlinked
			wantCode(t, "Link after a refused link and an unlink", err, rechargekit.ENOTFOUND)
			want = []step{
				{rechargekit.AuditUnlink, "unlinker@example.com", id, 1},
				{rechargekit.AuditLinkConflict, "linker@example.com", id, 2},
				{rechargekit.AuditLink, "first@example.com", id, 1},
			}
		case "": // unlinked first, then linked
			mustOK(t, "Link after an unlink and a link", err)
			if l.CustomerID != 2 {
				t.Errorf("%s linked to %d after an unlink and a link to 2", id, l.CustomerID)
			}
			want = []step{
				{rechargekit.AuditLink, "linker@example.com", id, 2},
				{rechargekit.AuditUnlink, "unlinker@example.com", id, 1},
				{rechargekit.AuditLink, "first@example.com", id, 1},
			}
		default:
			t.Fatalf("CreateLink racing an unlink: %v, want success or a conflict", linkErr)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: audit does not tell the order the link (%v) and the unlink took effect in (-want +got):\n%s", id, linkErr, diff)
		}
	}
}

// testSessionsRefusedKeepsExpired checks that a refused CreateSession (no
// such user, a hash already stored) rolls back its purge of expired
// sessions, on every store: a refused write changes nothing.
func testSessionsRefusedKeepsExpired(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	u := &rechargekit.User{Email: "a@example.com", Role: rechargekit.RoleAgent, PasswordHash: "h"}
	MustCreateUser(t, s, u)
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	mustOK(t, "CreateSession", s.CreateSession(ctx, &rechargekit.Session{TokenHash: "old", UserID: u.ID, CSRFToken: "c", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	mustOK(t, "CreateSession", s.CreateSession(ctx, &rechargekit.Session{TokenHash: "live", UserID: u.ID, CSRFToken: "c", CreatedAt: t0, ExpiresAt: t0.Add(48 * time.Hour)}))
	t1 := t0.Add(2 * time.Hour) // "old" has expired by then, "live" has not
	for _, tt := range []struct {
		name string
		sess rechargekit.Session
		want string
	}{
		{"no such user", rechargekit.Session{TokenHash: "new", UserID: u.ID + 1000, CSRFToken: "c", CreatedAt: t1, ExpiresAt: t1.Add(time.Hour)}, rechargekit.ENOTFOUND},
		{"hash already stored", rechargekit.Session{TokenHash: "live", UserID: u.ID, CSRFToken: "c", CreatedAt: t1, ExpiresAt: t1.Add(time.Hour)}, rechargekit.ECONFLICT},
	} {
		wantCode(t, "CreateSession("+tt.name+")", s.CreateSession(ctx, &tt.sess), tt.want)
		if _, err := s.Session(ctx, "old", t0); err != nil {
			t.Errorf("after a refused CreateSession (%s), the expired session is gone: %v; want it purged only by a stored one", tt.name, err)
		}
	}
}

// testSettingsRace saves the same change from several goroutines: it is
// made, and audited, once.
func testSettingsRace(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	off := !rechargekit.DefaultSettings().AutoLink
	errs := make([]error, RacingWriters)
	concurrently(RacingWriters, func(i int) {
		errs[i] = s.UpdateSettings(ctx, &rechargekit.Settings{AutoLink: off}, fmt.Sprintf("admin-%d@example.com", i))
	})
	for _, err := range errs {
		mustOK(t, "UpdateSettings", err)
	}
	got, err := s.Settings(ctx)
	mustOK(t, "Settings", err)
	if got.AutoLink != off {
		t.Errorf("Settings after racing saves = %+v, want AutoLink %v", got, off)
	}
	if entries := MustAudit(t, s, rechargekit.AuditFilter{}); len(entries) != 1 || entries[0].Action != rechargekit.AuditSettingChange {
		t.Errorf("audit after %d racing saves of one change = %v, want one setting change", RacingWriters, story(t, entries))
	}
}
