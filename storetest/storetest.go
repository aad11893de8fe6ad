// Package storetest is the conformance suite for rechargekit.Store: one
// checker, run by the sqlite and postgres packages against their own store,
// in the manner of testing/fstest.TestFS. A store that passes behaves the
// same as every other store to the server, whatever the database.
//
// Run covers every method; RunPersistence checks that acknowledged writes
// survive closing and reopening; RunShared checks that two handles on one
// database (two processes, or two replicas) see each other's writes and
// still decide a link race with one winner.
package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
)

// Run runs the conformance suite against the stores that open returns. open
// must return a fresh, empty store each time and register its cleanup
// (closing it, dropping its database) with t.Cleanup. Every subtest opens
// its own store and runs in parallel with the others.
func Run(t *testing.T, open func(t *testing.T) rechargekit.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s rechargekit.Store)
	}{
		{"Profile/UpsertAndGet", testProfileUpsertAndGet},
		{"Profile/Replace", testProfileReplace},
		{"Profile/NotFound", testProfileNotFound},
		{"Profile/Invalid", testProfileInvalid},
		{"Profile/Search", testProfileSearch},
		{"Profile/SearchLimit", testProfileSearchLimit},
		{"Profile/UpsertReportsCreated", testProfileUpsertCreated},
		{"Profile/ConcurrentCreateHasOneCreator", testProfileUpsertRace},
		{"Profile/SummariesWithLinkState", testProfileSummaries},
		{"Link/CreateAndGet", testLinkCreateAndGet},
		{"Link/DefaultTime", testLinkDefaultTime},
		{"Link/TimesUTCMicroseconds", testLinkTimes},
		{"Link/SameCustomerIsNoOp", testLinkSameCustomer},
		{"Link/OtherCustomerConflicts", testLinkConflict},
		{"Link/NoSuchProfile", testLinkNoProfile},
		{"Link/Invalid", testLinkInvalid},
		{"Link/AutoRefusedAfterUnlink", testLinkAutoAfterUnlink},
		{"Link/ConcurrentRace", testLinkRace},
		{"Link/ConcurrentSameCustomer", testLinkRaceSameCustomer},
		{"Unlink/Tombstone", testUnlink},
		{"Unlink/NotLinked", testUnlinkNotLinked},
		{"Unlink/ConcurrentWithLink", testUnlinkRaceLink},
		{"Audit/NewestFirstFilterLimit", testAudit},
		{"Audit/DefaultLimit", testAuditDefaultLimit},
		{"Settings/Default", testSettingsDefault},
		{"Settings/Update", testSettingsUpdate},
		{"Settings/ConcurrentSameChangeAuditedOnce", testSettingsRace},
		{"Users/CreateAndGet", testUsers},
		{"Users/Invalid", testUsersInvalid},
		{"Users/DeleteCascadesSessions", testUserDelete},
		{"Sessions/CreateGetExpireDelete", testSessions},
		{"Sessions/Invalid", testSessionsInvalid},
		{"Sessions/PurgeExpired", testSessionsPurge},
		{"Sessions/RefusedCreateKeepsExpired", testSessionsRefusedKeepsExpired},
		{"Sessions/Touch", testSessionsTouch},
		{"Sessions/DeleteUserSessions", testDeleteUserSessions},
		{"Sessions/Flash", testSessionsFlash},
		{"Sessions/FlashTakenOnceByConcurrentTakers", testSessionsFlashRace},
		{"APITokens/CreateLookupRevoke", testAPITokens},
		{"APITokens/Invalid", testAPITokensInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// MustUpsertProfile stores p or fails the test.
func MustUpsertProfile(tb testing.TB, s rechargekit.Store, p *rechargekit.Profile) {
	tb.Helper()
	if _, err := s.UpsertProfile(context.Background(), p); err != nil {
		tb.Fatalf("UpsertProfile(%q): %v", p.ID, err)
	}
}

// MustCreateLink links a profile or fails the test.
func MustCreateLink(tb testing.TB, s rechargekit.Store, l *rechargekit.Link) {
	tb.Helper()
	if err := s.CreateLink(context.Background(), l); err != nil {
		tb.Fatalf("CreateLink(%q -> %d): %v", l.ProfileID, l.CustomerID, err)
	}
}

// MustCreateUser adds a user or fails the test.
func MustCreateUser(tb testing.TB, s rechargekit.Store, u *rechargekit.User) {
	tb.Helper()
	if err := s.CreateUser(context.Background(), u, "setup@example.com"); err != nil {
		tb.Fatalf("CreateUser(%q): %v", u.Email, err)
	}
}

// MustAudit returns the audit entries matching f or fails the test.
func MustAudit(tb testing.TB, s rechargekit.Store, f rechargekit.AuditFilter) []*rechargekit.AuditEntry {
	tb.Helper()
	entries, err := s.Audit(context.Background(), f)
	if err != nil {
		tb.Fatalf("Audit(%+v): %v", f, err)
	}
	return entries
}

// wantCode fails the test unless err carries the domain error code want.
func wantCode(tb testing.TB, what string, err error, want string) {
	tb.Helper()
	if got := rechargekit.ErrorCode(err); got != want {
		tb.Fatalf("%s: error %v has code %q, want %q", what, err, got, want)
	}
}

// mustOK fails the test on err.
func mustOK(tb testing.TB, what string, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

// step is the audit story the tests compare: what happened, by whom, to what.
type step struct {
	Action     string
	Actor      string
	ProfileID  string
	CustomerID int64
}

// story reduces audit entries to steps, checking the fields every entry must have.
func story(tb testing.TB, entries []*rechargekit.AuditEntry) []step {
	tb.Helper()
	out := []step{}
	for i, e := range entries {
		if e.ID <= 0 || e.At.IsZero() || e.At.Location() != time.UTC || e.Detail == "" {
			tb.Errorf("audit entry %d = %+v: want a positive ID, a UTC time and a detail", i, e)
		}
		if i > 0 && e.ID >= entries[i-1].ID {
			tb.Errorf("audit entry %d has ID %d after ID %d: want newest first", i, e.ID, entries[i-1].ID)
		}
		out = append(out, step{e.Action, e.Actor, e.ProfileID, e.CustomerID})
	}
	return out
}

func profile(id, name string) *rechargekit.Profile {
	return &rechargekit.Profile{ID: id, Name: name, Emails: []string{}, Phones: []string{}}
}

func testProfileUpsertAndGet(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	MustUpsertProfile(t, s, &rechargekit.Profile{
		ID:     "p-1",
		Name:   "  Ada Lovelace ",
		Emails: []string{" ada@example.com", "", "ADA@example.com", "ada.l@example.org"},
		Phones: []string{"+1 (555) 010-0", "  ", "+44 20 7946 0000"},
	})
	MustUpsertProfile(t, s, &rechargekit.Profile{ID: "p-2", Name: "Bea"})

	got, err := s.Profile(ctx, "p-1")
	mustOK(t, "Profile", err)
	want := &rechargekit.Profile{
		ID:     "p-1",
		Name:   "Ada Lovelace",
		Emails: []string{"ada@example.com", "ada.l@example.org"},
		Phones: []string{"+1 (555) 010-0", "+44 20 7946 0000"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Profile(p-1) mismatch (-want +got):\n%s", diff)
	}
	got, err = s.Profile(ctx, "p-2")
	mustOK(t, "Profile", err)
	if diff := cmp.Diff(profile("p-2", "Bea"), got); diff != "" {
		t.Errorf("Profile(p-2) mismatch (-want +got):\n%s", diff)
	}
}

func testProfileReplace(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	MustUpsertProfile(t, s, &rechargekit.Profile{ID: "p-1", Name: "Old Name", Emails: []string{"old@example.com"}, Phones: []string{"111-222"}})
	MustCreateLink(t, s, &rechargekit.Link{ProfileID: "p-1", CustomerID: 7, Method: rechargekit.LinkManual, By: "agent@example.com"})
	repl := &rechargekit.Profile{ID: "p-1", Name: "New Name", Emails: []string{"new@example.com"}, Phones: []string{"333-444"}}
	MustUpsertProfile(t, s, repl)

	got, err := s.Profile(ctx, "p-1")
	mustOK(t, "Profile", err)
	if diff := cmp.Diff(repl, got); diff != "" {
		t.Errorf("Profile after replace mismatch (-want +got):\n%s", diff)
	}
	for _, q := range []string{"old name", "old@example.com", "111-222"} {
		res, err := s.SearchProfiles(ctx, q, 10)
		mustOK(t, "SearchProfiles", err)
		if len(res) != 0 {
			t.Errorf("SearchProfiles(%q) after replace = %d profiles, want none", q, len(res))
		}
	}
	// Replacing a profile keeps its link.
	l, err := s.Link(ctx, "p-1")
	mustOK(t, "Link after replace", err)
	if l.CustomerID != 7 {
		t.Errorf("Link after replace = customer %d, want 7", l.CustomerID)
	}
}

func testProfileNotFound(t *testing.T, s rechargekit.Store) {
	_, err := s.Profile(t.Context(), "missing")
	wantCode(t, "Profile(missing)", err, rechargekit.ENOTFOUND)
}

func testProfileInvalid(t *testing.T, s rechargekit.Store) {
	many := make([]string, rechargekit.MaxProfileItems+1)
	for i := range many {
		many[i] = fmt.Sprintf("e%d@example.com", i)
	}
	long := strings.Repeat("x", rechargekit.MaxIDLength+1)
	tests := []struct {
		name string
		p    *rechargekit.Profile
	}{
		{"nil", nil},
		{"empty id", &rechargekit.Profile{Name: "No Id"}},
		{"blank id", &rechargekit.Profile{ID: "   "}},
		{"no name", &rechargekit.Profile{ID: "p"}},
		{"not an email", &rechargekit.Profile{ID: "p", Name: "Ada", Emails: []string{"not-an-email"}}},
		{"id too long", &rechargekit.Profile{ID: long}},
		{"invalid UTF-8 name", &rechargekit.Profile{ID: "p", Name: "bad \xff"}},
		{"NUL in email", &rechargekit.Profile{ID: "p", Emails: []string{"a\x00b@example.com"}}},
		{"control character in phone", &rechargekit.Profile{ID: "p", Phones: []string{"555\n0100"}}},
		{"too many emails", &rechargekit.Profile{ID: "p", Emails: many}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.UpsertProfile(t.Context(), tt.p)
			wantCode(t, "UpsertProfile", err, rechargekit.EINVALID)
		})
	}
	res, err := s.SearchProfiles(t.Context(), "", 100)
	mustOK(t, "SearchProfiles", err)
	if len(res) != 0 {
		t.Errorf("invalid profiles stored %d profiles, want none", len(res))
	}
}

func testProfileSearch(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	for _, p := range []*rechargekit.Profile{
		{ID: "p-bob", Name: "bob Stone", Emails: []string{"Bob@Example.com"}, Phones: []string{"+1 (555) 010-0"}},
		{ID: "p-alice-2", Name: "alice Jones", Emails: []string{"alice@work.example"}},
		{ID: "p-alice-1", Name: "Alice Smith", Emails: []string{"alice.smith@example.org", "as@shop.example"}, Phones: []string{"020 7946 0000"}},
		{ID: "p-elodie", Name: "Élodie Dubois", Emails: []string{"ELODIE@exemple.fr"}},
		{ID: "p-cotton", Name: "100% Cotton_Fan", Phones: []string{"ext. 42"}},
		{ID: "p-aaa", Name: "Alice Smith", Emails: []string{"other@example.net"}},
	} {
		MustUpsertProfile(t, s, p)
	}
	tests := []struct {
		name string
		q    string
		want []string
	}{
		{"empty lists all by name then id", "", []string{"p-cotton", "p-alice-2", "p-aaa", "p-alice-1", "p-bob", "p-elodie"}},
		{"blank is empty", "   ", []string{"p-cotton", "p-alice-2", "p-aaa", "p-alice-1", "p-bob", "p-elodie"}},
		{"name case-insensitive", "ALICE", []string{"p-alice-2", "p-aaa", "p-alice-1"}},
		{"name substring", "stone", []string{"p-bob"}},
		{"name non-ASCII case", "élodie", []string{"p-elodie"}},
		{"email case-insensitive", "bob@example.COM", []string{"p-bob"}},
		{"email domain", "example.org", []string{"p-alice-1"}},
		{"second email", "shop.example", []string{"p-alice-1"}},
		{"email non-ASCII domain upper", "EXEMPLE.FR", []string{"p-elodie"}},
		{"phone as stored", "010-0", []string{"p-bob"}},
		{"phone by digits", "555 0100", []string{"p-bob"}},
		{"phone with plus", "+15550100", []string{"p-bob"}},
		{"phone text", "EXT.", []string{"p-cotton"}},
		{"too few digits is text", "42", []string{"p-cotton"}},
		{"percent is literal", "%", []string{"p-cotton"}},
		{"underscore is literal", "_", []string{"p-cotton"}},
		{"trimmed", "  stone  ", []string{"p-bob"}},
		{"no match", "zebra", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := s.SearchProfiles(ctx, tt.q, 100)
			mustOK(t, "SearchProfiles", err)
			got := []string{}
			for _, p := range res {
				got = append(got, p.ID)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("SearchProfiles(%q) ids mismatch (-want +got):\n%s", tt.q, diff)
			}
		})
	}
	// Search results are whole profiles.
	res, err := s.SearchProfiles(ctx, "stone", 10)
	mustOK(t, "SearchProfiles", err)
	want := []*rechargekit.Profile{{ID: "p-bob", Name: "bob Stone", Emails: []string{"Bob@Example.com"}, Phones: []string{"+1 (555) 010-0"}}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("SearchProfiles(stone) mismatch (-want +got):\n%s", diff)
	}
}

func testProfileSearchLimit(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	for i := range 55 {
		MustUpsertProfile(t, s, profile(fmt.Sprintf("p-%02d", i), "Same Name"))
	}
	tests := []struct {
		name  string
		limit int
		want  int
	}{
		{"explicit", 3, 3},
		{"zero means 50", 0, 50},
		{"negative means 50", -1, 50},
		{"more than exist", 500, 55},
	}
	for _, tt := range tests {
		res, err := s.SearchProfiles(ctx, "same", tt.limit)
		mustOK(t, "SearchProfiles", err)
		if len(res) != tt.want {
			t.Errorf("%s: SearchProfiles(limit %d) = %d profiles, want %d", tt.name, tt.limit, len(res), tt.want)
		}
		if len(res) > 0 && res[0].ID != "p-00" {
			t.Errorf("%s: first profile %q, want p-00 (same names order by id)", tt.name, res[0].ID)
		}
	}
}

func testLinkCreateAndGet(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	MustUpsertProfile(t, s, profile("p-1", "Ada"))
	_, err := s.Link(ctx, "p-1")
	wantCode(t, "Link before linking", err, rechargekit.ENOTFOUND)

	at := time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)
	l := &rechargekit.Link{ProfileID: "p-1", CustomerID: 42, Method: rechargekit.LinkManual, By: "agent@example.com", At: at}
	MustCreateLink(t, s, l)
	want := &rechargekit.Link{ProfileID: "p-1", CustomerID: 42, Method: rechargekit.LinkManual, By: "agent@example.com", At: at}
	if diff := cmp.Diff(want, l); diff != "" {
		t.Errorf("CreateLink left the link as (-want +got):\n%s", diff)
	}
	got, err := s.Link(ctx, "p-1")
	mustOK(t, "Link", err)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Link mismatch (-want +got):\n%s", diff)
	}
	entries := MustAudit(t, s, rechargekit.AuditFilter{})
	if diff := cmp.Diff([]step{{rechargekit.AuditLink, "agent@example.com", "p-1", 42}}, story(t, entries)); diff != "" {
		t.Errorf("audit mismatch (-want +got):\n%s", diff)
	}
	if !entries[0].At.Equal(at) {
		t.Errorf("audit entry at %v, want the link's time %v", entries[0].At, at)
	}
	unlinked, err := s.WasUnlinked(ctx, "p-1")
	mustOK(t, "WasUnlinked", err)
	if unlinked {
		t.Error("WasUnlinked = true for a profile never unlinked")
	}
}

func testLinkDefaultTime(t *testing.T, s rechargekit.Store) {
	MustUpsertProfile(t, s, profile("p-1", "Ada"))
	before := time.Now().UTC().Truncate(time.Microsecond)
	l := &rechargekit.Link{ProfileID: "p-1", CustomerID: 42, Method: rechargekit.LinkAuto, By: "auto"}
	MustCreateLink(t, s, l)
	after := time.Now().UTC()
	got, err := s.Link(t.Context(), "p-1")
	mustOK(t, "Link", err)
	if got.At.Before(before) || got.At.After(after) || got.At.Location() != time.UTC {
		t.Errorf("Link.At = %v, want the store's clock in UTC, between %v and %v", got.At, before, after)
	}
	if !l.At.Equal(got.At) || got.Method != rechargekit.LinkAuto {
		t.Errorf("CreateLink set At %v and the store holds %+v", l.At, got)
	}
}

func testLinkTimes(t *testing.T, s rechargekit.Store) {
	MustUpsertProfile(t, s, profile("p-1", "Ada"))
	zone := time.FixedZone("UTC-7", -7*3600)
	at := time.Date(2026, 1, 2, 3, 4, 5, 987654321, zone)
	MustCreateLink(t, s, &rechargekit.Link{ProfileID: "p-1", CustomerID: 1, Method: rechargekit.LinkManual, By: "a@example.com", At: at})
	got, err := s.Link(t.Context(), "p-1")
	mustOK(t, "Link", err)
	want := time.Date(2026, 1, 2, 10, 4, 5, 987654000, time.UTC)
	if !got.At.Equal(want) || got.At.Location() != time.UTC {
		t.Errorf("Link.At = %v (%v), want %v in UTC at microsecond precision", got.At, got.At.Location(), want)
	}
}

func testLinkSameCustomer(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	MustUpsertProfile(t, s, profile("p-1", "Ada"))
	first := &rechargekit.Link{ProfileID: "p-1", CustomerID: 42, Method: rechargekit.LinkManual, By: "one@example.com"}
	MustCreateLink(t, s, first)
	again := &rechargekit.Link{ProfileID: "p-1", CustomerID: 42, Method: rechargekit.LinkAuto, By: "auto"}
	MustCreateLink(t, s, again)
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("relinking to the same customer should report the existing link (-want +got):\n%s", diff)
	}
	got, err := s.Link(ctx, "p-1")
	mustOK(t, "Link", err)
	if diff := cmp.Diff(first, got); diff != "" {
		t.Errorf("Link changed by a no-op relink (-want +got):\n%s", diff)
	}
	if n := len(MustAudit(t, s, rechargekit.AuditFilter{})); n != 1 {
		t.Errorf("audit has %d entries after link and same-customer relink, want 1", n)
	}
}

func testLinkConflict(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	MustUpsertProfile(t, s, profile("p-1", "Ada"))
	MustCreateLink(t, s, &rechargekit.Link{ProfileID: "p-1", CustomerID: 42, Method: rechargekit.LinkManual, By: "one@example.com"})
	err := s.CreateLink(ctx, &rechargekit.Link{ProfileID: "p-1", CustomerID: 43, Method: rechargekit.LinkManual, By: "two@example.com"})
	wantCode(t, "CreateLink to another customer", err, rechargekit.ECONFLICT)
	got, err := s.Link(ctx, "p-1")
	mustOK(t, "Link", err)
	if got.CustomerID != 42 || got.By != "one@example.com" {
		t.Errorf("Link after a refused link = %+v, want the first link", got)
	}
	want := []step{
		{rechargekit.AuditLinkConflict, "two@example.com", "p-1", 43},
		{rechargekit.AuditLink, "one@example.com", "p-1", 42},
	}
	if diff := cmp.Diff(want, story(t, MustAudit(t, s, rechargekit.AuditFilter{}))); diff != "" {
		t.Errorf("audit mismatch (-want +got):\n%s", diff)
	}
}

func testLinkNoProfile(t *testing.T, s rechargekit.Store) {
	err := s.CreateLink(t.Context(), &rechargekit.Link{ProfileID: "missing", CustomerID: 1, Method: rechargekit.LinkManual, By: "a@example.com"})
	wantCode(t, "CreateLink(missing profile)", err, rechargekit.ENOTFOUND)
	if n := len(MustAudit(t, s, rechargekit.AuditFilter{})); n != 0 {
		t.Errorf("audit has %d entries after a refused link of a missing profile, want 0", n)
	}
}

func testLinkInvalid(t *testing.T, s rechargekit.Store) {
	MustUpsertProfile(t, s, profile("p-1", "Ada"))
	ok := rechargekit.Link{ProfileID: "p-1", CustomerID: 1, Method: rechargekit.LinkManual, By: "a@example.com"}
	tests := []struct {
		name string
		edit func(l *rechargekit.Link)
	}{
		{"empty profile", func(l *rechargekit.Link) { l.ProfileID = "" }},
		{"zero customer", func(l *rechargekit.Link) { l.CustomerID = 0 }},
		{"negative customer", func(l *rechargekit.Link) { l.CustomerID = -5 }},
		{"unknown method", func(l *rechargekit.Link) { l.Method = "magic" }},
		{"empty method", func(l *rechargekit.Link) { l.Method = "" }},
		{"empty by", func(l *rechargekit.Link) { l.By = "" }},
		{"control character in by", func(l *rechargekit.Link) { l.By = "a\x00b" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := ok
			tt.edit(&l)
			wantCode(t, "CreateLink", s.CreateLink(t.Context(), &l), rechargekit.EINVALID)
		})
	}
	wantCode(t, "CreateLink(nil)", s.CreateLink(t.Context(), nil), rechargekit.EINVALID)
	_, err := s.Link(t.Context(), "p-1")
	wantCode(t, "Link after invalid links", err, rechargekit.ENOTFOUND)
}

func testLinkAutoAfterUnlink(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	MustUpsertProfile(t, s, profile("p-1", "Ada"))
	MustUpsertProfile(t, s, profile("p-2", "Bea"))
	MustCreateLink(t, s, &rechargekit.Link{ProfileID: "p-1", CustomerID: 42, Method: rechargekit.LinkAuto, By: "auto"})
	mustOK(t, "DeleteLink", s.DeleteLink(ctx, "p-1", "agent@example.com"))

	err := s.CreateLink(ctx, &rechargekit.Link{ProfileID: "p-1", CustomerID: 42, Method: rechargekit.LinkAuto, By: "auto"})
	wantCode(t, "auto link after unlink", err, rechargekit.ECONFLICT)
	_, err = s.Link(ctx, "p-1")
	wantCode(t, "Link after refused auto link", err, rechargekit.ENOTFOUND)

	// An agent may still link it by hand, and it stays tombstoned.
	MustCreateLink(t, s, &rechargekit.Link{ProfileID: "p-1", CustomerID: 99, Method: rechargekit.LinkManual, By: "agent@example.com"})
	unlinked, err := s.WasUnlinked(ctx, "p-1")
	mustOK(t, "WasUnlinked", err)
	if !unlinked {
		t.Error("WasUnlinked = false after an unlink and a manual relink")
	}
	// Another profile is not affected by p-1's tombstone.
	MustCreateLink(t, s, &rechargekit.Link{ProfileID: "p-2", CustomerID: 42, Method: rechargekit.LinkAuto, By: "auto"})

	want := []step{
		{rechargekit.AuditLink, "auto", "p-2", 42},
		{rechargekit.AuditLink, "agent@example.com", "p-1", 99},
		{rechargekit.AuditUnlink, "agent@example.com", "p-1", 42},
		{rechargekit.AuditLink, "auto", "p-1", 42},
	}
	if diff := cmp.Diff(want, story(t, MustAudit(t, s, rechargekit.AuditFilter{}))); diff != "" {
		t.Errorf("audit mismatch (-want +got):\n%s", diff)
	}
}

// race links profileID from two goroutines at once, to customers a and b,
// and returns their errors.
func race(ctx context.Context, s1, s2 rechargekit.Store, profileID string, a, b int64) [2]error {
	var errs [2]error
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, c := range []struct {
		s  rechargekit.Store
		id int64
	}{{s1, a}, {s2, b}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = c.s.CreateLink(ctx, &rechargekit.Link{
				ProfileID: profileID, CustomerID: c.id, Method: rechargekit.LinkManual, By: fmt.Sprintf("browser-%d@example.com", i),
			})
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// checkRace checks the outcome of race: one winner, one ECONFLICT, and an
// audit story of one link followed by one refused link.
func checkRace(t *testing.T, s rechargekit.Store, profileID string, a, b int64, errs [2]error) {
	t.Helper()
	win := -1
	switch {
	case errs[0] == nil && rechargekit.ErrorCode(errs[1]) == rechargekit.ECONFLICT:
		win = 0
	case errs[1] == nil && rechargekit.ErrorCode(errs[0]) == rechargekit.ECONFLICT:
		win = 1
	default:
		t.Fatalf("racing links of %s: errors %v and %v, want one nil and one conflict", profileID, errs[0], errs[1])
	}
	ids := [2]int64{a, b}
	lose := 1 - win
	l, err := s.Link(t.Context(), profileID)
	mustOK(t, "Link", err)
	if l.CustomerID != ids[win] {
		t.Errorf("%s linked to %d, want the winner's customer %d", profileID, l.CustomerID, ids[win])
	}
	want := []step{
		{rechargekit.AuditLinkConflict, fmt.Sprintf("browser-%d@example.com", lose), profileID, ids[lose]},
		{rechargekit.AuditLink, fmt.Sprintf("browser-%d@example.com", win), profileID, ids[win]},
	}
	if diff := cmp.Diff(want, story(t, MustAudit(t, s, rechargekit.AuditFilter{ProfileID: profileID}))); diff != "" {
		t.Errorf("%s: audit mismatch (-want +got):\n%s", profileID, diff)
	}
}

// RaceRounds is how many profiles the race tests link concurrently.
const RaceRounds = 20

func testLinkRace(t *testing.T, s rechargekit.Store) {
	for i := range RaceRounds {
		id := fmt.Sprintf("race-%02d", i)
		MustUpsertProfile(t, s, profile(id, "Racer"))
		a, b := int64(1000+i), int64(2000+i)
		checkRace(t, s, id, a, b, race(t.Context(), s, s, id, a, b))
	}
}

func testLinkRaceSameCustomer(t *testing.T, s rechargekit.Store) {
	for i := range 5 {
		id := fmt.Sprintf("same-%d", i)
		MustUpsertProfile(t, s, profile(id, "Racer"))
		errs := race(t.Context(), s, s, id, 77, 77)
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("racing links to the same customer: %v, %v; want both to succeed", errs[0], errs[1])
		}
		entries := MustAudit(t, s, rechargekit.AuditFilter{ProfileID: id})
		if len(entries) != 1 || entries[0].Action != rechargekit.AuditLink {
			t.Errorf("%s: audit %v, want exactly one link entry", id, story(t, entries))
		}
	}
}

func testUnlink(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	MustUpsertProfile(t, s, profile("p-1", "Ada"))
	MustCreateLink(t, s, &rechargekit.Link{ProfileID: "p-1", CustomerID: 42, Method: rechargekit.LinkManual, By: "one@example.com"})
	wantCode(t, "DeleteLink with empty by", s.DeleteLink(ctx, "p-1", ""), rechargekit.EINVALID)
	mustOK(t, "DeleteLink", s.DeleteLink(ctx, "p-1", "two@example.com"))

	_, err := s.Link(ctx, "p-1")
	wantCode(t, "Link after unlink", err, rechargekit.ENOTFOUND)
	unlinked, err := s.WasUnlinked(ctx, "p-1")
	mustOK(t, "WasUnlinked", err)
	if !unlinked {
		t.Error("WasUnlinked = false after unlink")
	}
	wantCode(t, "DeleteLink twice", s.DeleteLink(ctx, "p-1", "two@example.com"), rechargekit.ENOTFOUND)
	want := []step{
		{rechargekit.AuditUnlink, "two@example.com", "p-1", 42},
		{rechargekit.AuditLink, "one@example.com", "p-1", 42},
	}
	if diff := cmp.Diff(want, story(t, MustAudit(t, s, rechargekit.AuditFilter{}))); diff != "" {
		t.Errorf("audit mismatch (-want +got):\n%s", diff)
	}
}

func testUnlinkNotLinked(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	MustUpsertProfile(t, s, profile("p-1", "Ada"))
	wantCode(t, "DeleteLink(unlinked profile)", s.DeleteLink(ctx, "p-1", "a@example.com"), rechargekit.ENOTFOUND)
	wantCode(t, "DeleteLink(missing profile)", s.DeleteLink(ctx, "missing", "a@example.com"), rechargekit.ENOTFOUND)
	for _, id := range []string{"p-1", "missing"} {
		unlinked, err := s.WasUnlinked(ctx, id)
		mustOK(t, "WasUnlinked", err)
		if unlinked {
			t.Errorf("WasUnlinked(%s) = true after a refused unlink", id)
		}
	}
	if n := len(MustAudit(t, s, rechargekit.AuditFilter{})); n != 0 {
		t.Errorf("audit has %d entries after refused unlinks, want 0", n)
	}
}

func testAudit(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	MustUpsertProfile(t, s, profile("p-1", "Ada"))
	MustUpsertProfile(t, s, profile("p-2", "Bea"))
	MustCreateLink(t, s, &rechargekit.Link{ProfileID: "p-1", CustomerID: 1, Method: rechargekit.LinkAuto, By: "auto"})
	MustCreateLink(t, s, &rechargekit.Link{ProfileID: "p-2", CustomerID: 2, Method: rechargekit.LinkManual, By: "agent@example.com"})
	mustOK(t, "UpdateSettings", s.UpdateSettings(ctx, &rechargekit.Settings{AutoLink: !rechargekit.DefaultSettings().AutoLink}, "admin@example.com"))
	mustOK(t, "DeleteLink", s.DeleteLink(ctx, "p-1", "agent@example.com"))
	wantCode(t, "conflicting link", s.CreateLink(ctx, &rechargekit.Link{ProfileID: "p-2", CustomerID: 3, Method: rechargekit.LinkManual, By: "other@example.com"}), rechargekit.ECONFLICT)

	all := []step{
		{rechargekit.AuditLinkConflict, "other@example.com", "p-2", 3},
		{rechargekit.AuditUnlink, "agent@example.com", "p-1", 1},
		{rechargekit.AuditSettingChange, "admin@example.com", "", 0},
		{rechargekit.AuditLink, "agent@example.com", "p-2", 2},
		{rechargekit.AuditLink, "auto", "p-1", 1},
	}
	tests := []struct {
		name   string
		filter rechargekit.AuditFilter
		want   []step
	}{
		{"all", rechargekit.AuditFilter{}, all},
		{"limit", rechargekit.AuditFilter{Limit: 2}, all[:2]},
		{"profile", rechargekit.AuditFilter{ProfileID: "p-1"}, []step{all[1], all[4]}},
		{"profile and limit", rechargekit.AuditFilter{ProfileID: "p-2", Limit: 1}, all[:1]},
		{"unknown profile", rechargekit.AuditFilter{ProfileID: "p-9"}, []step{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, story(t, MustAudit(t, s, tt.filter))); diff != "" {
				t.Errorf("Audit(%+v) mismatch (-want +got):\n%s", tt.filter, diff)
			}
		})
	}
}

func testAuditDefaultLimit(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	// Each settings flip is one audit entry.
	auto := rechargekit.DefaultSettings().AutoLink
	for range 101 {
		auto = !auto
		mustOK(t, "UpdateSettings", s.UpdateSettings(ctx, &rechargekit.Settings{AutoLink: auto}, "admin@example.com"))
	}
	if n := len(MustAudit(t, s, rechargekit.AuditFilter{})); n != 100 {
		t.Errorf("Audit with zero limit returned %d entries, want the default 100", n)
	}
	if n := len(MustAudit(t, s, rechargekit.AuditFilter{Limit: 500})); n != 101 {
		t.Errorf("Audit with limit 500 returned %d entries, want all 101", n)
	}
}

func testSettingsDefault(t *testing.T, s rechargekit.Store) {
	got, err := s.Settings(t.Context())
	mustOK(t, "Settings", err)
	if diff := cmp.Diff(rechargekit.DefaultSettings(), got); diff != "" {
		t.Errorf("Settings of a new store mismatch (-want +got):\n%s", diff)
	}
}

func testSettingsUpdate(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	def := rechargekit.DefaultSettings().AutoLink
	wantCode(t, "UpdateSettings(nil)", s.UpdateSettings(ctx, nil, "admin@example.com"), rechargekit.EINVALID)
	wantCode(t, "UpdateSettings without by", s.UpdateSettings(ctx, &rechargekit.Settings{AutoLink: !def}, ""), rechargekit.EINVALID)

	mustOK(t, "UpdateSettings", s.UpdateSettings(ctx, &rechargekit.Settings{AutoLink: !def}, "admin@example.com"))
	got, err := s.Settings(ctx)
	mustOK(t, "Settings", err)
	if got.AutoLink != !def {
		t.Errorf("Settings().AutoLink = %v after setting it to %v", got.AutoLink, !def)
	}
	// Saving unchanged settings audits nothing.
	mustOK(t, "UpdateSettings unchanged", s.UpdateSettings(ctx, &rechargekit.Settings{AutoLink: !def}, "admin@example.com"))
	mustOK(t, "UpdateSettings back", s.UpdateSettings(ctx, &rechargekit.Settings{AutoLink: def}, "root@example.com"))
	got, err = s.Settings(ctx)
	mustOK(t, "Settings", err)
	if got.AutoLink != def {
		t.Errorf("Settings().AutoLink = %v after setting it back to %v", got.AutoLink, def)
	}

	entries := MustAudit(t, s, rechargekit.AuditFilter{})
	want := []step{
		{rechargekit.AuditSettingChange, "root@example.com", "", 0},
		{rechargekit.AuditSettingChange, "admin@example.com", "", 0},
	}
	if diff := cmp.Diff(want, story(t, entries)); diff != "" {
		t.Fatalf("audit mismatch (-want +got):\n%s", diff)
	}
	onOff := map[bool]string{true: "on", false: "off"}
	if w := fmt.Sprintf("auto_link: %s -> %s", onOff[def], onOff[!def]); entries[1].Detail != w {
		t.Errorf("setting audit detail %q, want %q", entries[1].Detail, w)
	}
}

func testUsers(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	created := time.Date(2026, 2, 3, 4, 5, 6, 7000, time.UTC)
	admin := &rechargekit.User{Email: "Admin@Example.com", Role: rechargekit.RoleAdmin, PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA", CreatedAt: created}
	agent := &rechargekit.User{Email: "bob@example.com", Role: rechargekit.RoleAgent, PasswordHash: "$argon2id$x"}
	carol := &rechargekit.User{Email: "carol@example.com", Role: rechargekit.RoleAgent, PasswordHash: "$argon2id$y"}
	before := time.Now().UTC().Truncate(time.Microsecond)
	for _, u := range []*rechargekit.User{carol, admin, agent} {
		mustOK(t, "CreateUser", s.CreateUser(ctx, u, "setup@example.com"))
	}
	if admin.ID <= 0 || agent.ID <= 0 || admin.ID == agent.ID || carol.ID == agent.ID {
		t.Errorf("CreateUser gave ids %d, %d, %d: want distinct positive ids", carol.ID, admin.ID, agent.ID)
	}
	if !admin.CreatedAt.Equal(created) {
		t.Errorf("CreateUser changed a given CreatedAt to %v", admin.CreatedAt)
	}
	if agent.CreatedAt.Before(before) || agent.CreatedAt.Location() != time.UTC {
		t.Errorf("CreateUser set CreatedAt %v, want the store's clock in UTC", agent.CreatedAt)
	}

	dup := &rechargekit.User{Email: "ADMIN@example.COM", Role: rechargekit.RoleAgent, PasswordHash: "h"}
	wantCode(t, "CreateUser(duplicate email)", s.CreateUser(ctx, dup, "setup@example.com"), rechargekit.ECONFLICT)

	got, err := s.UserByEmail(ctx, "admin@EXAMPLE.com")
	mustOK(t, "UserByEmail", err)
	if diff := cmp.Diff(admin, got); diff != "" {
		t.Errorf("UserByEmail mismatch (-want +got):\n%s", diff)
	}
	got, err = s.UserByID(ctx, agent.ID)
	mustOK(t, "UserByID", err)
	if diff := cmp.Diff(agent, got); diff != "" {
		t.Errorf("UserByID mismatch (-want +got):\n%s", diff)
	}
	_, err = s.UserByEmail(ctx, "nobody@example.com")
	wantCode(t, "UserByEmail(unknown)", err, rechargekit.ENOTFOUND)
	_, err = s.UserByID(ctx, agent.ID+carol.ID+admin.ID)
	wantCode(t, "UserByID(unknown)", err, rechargekit.ENOTFOUND)

	users, err := s.Users(ctx)
	mustOK(t, "Users", err)
	if diff := cmp.Diff([]*rechargekit.User{admin, agent, carol}, users); diff != "" {
		t.Errorf("Users mismatch (-want +got):\n%s", diff)
	}
	want := []step{
		{rechargekit.AuditUserChange, "setup@example.com", "", 0},
		{rechargekit.AuditUserChange, "setup@example.com", "", 0},
		{rechargekit.AuditUserChange, "setup@example.com", "", 0},
	}
	if diff := cmp.Diff(want, story(t, MustAudit(t, s, rechargekit.AuditFilter{}))); diff != "" {
		t.Errorf("audit mismatch (-want +got):\n%s", diff)
	}
}

func testUsersInvalid(t *testing.T, s rechargekit.Store) {
	ok := rechargekit.User{Email: "a@example.com", Role: rechargekit.RoleAgent, PasswordHash: "hash"}
	tests := []struct {
		name string
		edit func(u *rechargekit.User)
		by   string
	}{
		{"empty email", func(u *rechargekit.User) { u.Email = "" }, "x"},
		{"no at sign", func(u *rechargekit.User) { u.Email = "example.com" }, "x"},
		{"no domain", func(u *rechargekit.User) { u.Email = "a@" }, "x"},
		{"space in email", func(u *rechargekit.User) { u.Email = "a b@example.com" }, "x"},
		{"unknown role", func(u *rechargekit.User) { u.Role = "root" }, "x"},
		{"empty password hash", func(u *rechargekit.User) { u.PasswordHash = "" }, "x"},
		{"empty by", func(u *rechargekit.User) {}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := ok
			tt.edit(&u)
			wantCode(t, "CreateUser", s.CreateUser(t.Context(), &u, tt.by), rechargekit.EINVALID)
		})
	}
	wantCode(t, "CreateUser(nil)", s.CreateUser(t.Context(), nil, "x"), rechargekit.EINVALID)
	users, err := s.Users(t.Context())
	mustOK(t, "Users", err)
	if len(users) != 0 {
		t.Errorf("invalid users stored %d users, want none", len(users))
	}
}

func testUserDelete(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	u := &rechargekit.User{Email: "gone@example.com", Role: rechargekit.RoleAgent, PasswordHash: "h"}
	keep := &rechargekit.User{Email: "kept@example.com", Role: rechargekit.RoleAdmin, PasswordHash: "h"}
	MustCreateUser(t, s, u)
	MustCreateUser(t, s, keep)
	now := time.Now()
	for _, sess := range []*rechargekit.Session{
		{TokenHash: "h-gone-1", UserID: u.ID, CSRFToken: "c1", ExpiresAt: now.Add(time.Hour)},
		{TokenHash: "h-gone-2", UserID: u.ID, CSRFToken: "c2", ExpiresAt: now.Add(time.Hour)},
		{TokenHash: "h-kept", UserID: keep.ID, CSRFToken: "c3", ExpiresAt: now.Add(time.Hour)},
	} {
		mustOK(t, "CreateSession", s.CreateSession(ctx, sess))
	}
	wantCode(t, "DeleteUser without by", s.DeleteUser(ctx, u.ID, ""), rechargekit.EINVALID)
	mustOK(t, "DeleteUser", s.DeleteUser(ctx, u.ID, "kept@example.com"))

	_, err := s.UserByID(ctx, u.ID)
	wantCode(t, "UserByID(deleted)", err, rechargekit.ENOTFOUND)
	for _, h := range []string{"h-gone-1", "h-gone-2"} {
		_, err := s.Session(ctx, h, now)
		wantCode(t, "Session of a deleted user", err, rechargekit.ENOTFOUND)
	}
	if _, err := s.Session(ctx, "h-kept", now); err != nil {
		t.Errorf("Session of another user after DeleteUser: %v", err)
	}
	wantCode(t, "DeleteUser twice", s.DeleteUser(ctx, u.ID, "kept@example.com"), rechargekit.ENOTFOUND)
	entries := MustAudit(t, s, rechargekit.AuditFilter{Limit: 1})
	if diff := cmp.Diff([]step{{rechargekit.AuditUserChange, "kept@example.com", "", 0}}, story(t, entries)); diff != "" {
		t.Errorf("audit mismatch (-want +got):\n%s", diff)
	}
	// The email is free again.
	MustCreateUser(t, s, &rechargekit.User{Email: "GONE@example.com", Role: rechargekit.RoleAgent, PasswordHash: "h"})
}

// testSessionsTouch: a valid session's expiry moves to the time given,
// later or earlier, and an expired one cannot be brought back.
func testSessionsTouch(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	u := &rechargekit.User{Email: "x@example.com", Role: rechargekit.RoleAgent, PasswordHash: "h"}
	MustCreateUser(t, s, u)
	created := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	sess := &rechargekit.Session{TokenHash: "hash-x", UserID: u.ID, CSRFToken: "c", CreatedAt: created, ExpiresAt: created.Add(time.Hour)}
	mustOK(t, "CreateSession", s.CreateSession(ctx, sess))
	expiry := func(now time.Time) time.Time {
		t.Helper()
		got, err := s.Session(ctx, "hash-x", now)
		mustOK(t, "Session", err)
		return got.ExpiresAt
	}

	now := created.Add(50 * time.Minute)
	mustOK(t, "TouchSession(later)", s.TouchSession(ctx, "hash-x", now, now.Add(time.Hour)))
	if got := expiry(created.Add(90 * time.Minute)); !got.Equal(now.Add(time.Hour)) { // past the first expiry
		t.Errorf("ExpiresAt after TouchSession = %v, want %v", got, now.Add(time.Hour))
	}
	mustOK(t, "TouchSession(earlier)", s.TouchSession(ctx, "hash-x", now, now.Add(time.Minute)))
	if got := expiry(now); !got.Equal(now.Add(time.Minute)) {
		t.Errorf("ExpiresAt after TouchSession to an earlier time = %v, want %v", got, now.Add(time.Minute))
	}
	wantCode(t, "TouchSession(until not after now)", s.TouchSession(ctx, "hash-x", now, now), rechargekit.EINVALID)
	wantCode(t, "TouchSession(unknown)", s.TouchSession(ctx, "hash-none", now, now.Add(time.Hour)), rechargekit.ENOTFOUND)
	// Expired by now: not brought back.
	late := now.Add(2 * time.Hour)
	wantCode(t, "TouchSession(expired)", s.TouchSession(ctx, "hash-x", late, late.Add(time.Hour)), rechargekit.ENOTFOUND)
	_, err := s.Session(ctx, "hash-x", late)
	wantCode(t, "Session after touching an expired one", err, rechargekit.ENOTFOUND)
}

// testDeleteUserSessions: every session of one user ends, and only theirs.
func testDeleteUserSessions(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	a := &rechargekit.User{Email: "a@example.com", Role: rechargekit.RoleAgent, PasswordHash: "h"}
	b := &rechargekit.User{Email: "b@example.com", Role: rechargekit.RoleAgent, PasswordHash: "h"}
	MustCreateUser(t, s, a)
	MustCreateUser(t, s, b)
	now := time.Now().UTC()
	for _, sess := range []*rechargekit.Session{
		{TokenHash: "a-1", UserID: a.ID, CSRFToken: "c"}, {TokenHash: "a-2", UserID: a.ID, CSRFToken: "c"},
		{TokenHash: "b-1", UserID: b.ID, CSRFToken: "c"},
	} {
		sess.CreatedAt, sess.ExpiresAt = now, now.Add(time.Hour)
		mustOK(t, "CreateSession", s.CreateSession(ctx, sess))
	}
	n, err := s.DeleteUserSessions(ctx, a.ID, "admin@example.com")
	mustOK(t, "DeleteUserSessions", err)
	if n != 2 {
		t.Errorf("DeleteUserSessions = %d, want 2", n)
	}
	entries, err := s.Audit(ctx, rechargekit.AuditFilter{})
	mustOK(t, "Audit", err)
	if len(entries) == 0 || entries[0].Action != rechargekit.AuditUserChange || entries[0].Actor != "admin@example.com" ||
		!strings.Contains(entries[0].Detail, "a@example.com") || !strings.Contains(entries[0].Detail, "2 sessions") {
		t.Errorf("newest audit entry after DeleteUserSessions = %+v, want a user change by admin@example.com naming a@example.com and 2 sessions", entries)
	}
	_, err = s.DeleteUserSessions(ctx, a.ID, "")
	wantCode(t, "DeleteUserSessions(no actor)", err, rechargekit.EINVALID)
	_, err = s.DeleteUserSessions(ctx, 987654, "admin@example.com")
	wantCode(t, "DeleteUserSessions(unknown user)", err, rechargekit.ENOTFOUND)
	for _, h := range []string{"a-1", "a-2"} {
		_, err := s.Session(ctx, h, now)
		wantCode(t, "Session "+h+" after DeleteUserSessions", err, rechargekit.ENOTFOUND)
	}
	if _, err := s.Session(ctx, "b-1", now); err != nil {
		t.Errorf("another user's session after DeleteUserSessions: %v", err)
	}
	if n, err := s.DeleteUserSessions(ctx, a.ID, "admin@example.com"); err != nil || n != 0 {
		t.Errorf("DeleteUserSessions again = %d, %v; want 0, nil", n, err)
	}
}

func testSessions(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	u := &rechargekit.User{Email: "a@example.com", Role: rechargekit.RoleAgent, PasswordHash: "h"}
	MustCreateUser(t, s, u)
	created := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	expires := created.Add(8 * time.Hour)
	sess := &rechargekit.Session{TokenHash: "hash-1", UserID: u.ID, CSRFToken: "csrf-1", CreatedAt: created, ExpiresAt: expires}
	mustOK(t, "CreateSession", s.CreateSession(ctx, sess))
	wantCode(t, "CreateSession(duplicate hash)", s.CreateSession(ctx, &rechargekit.Session{
		TokenHash: "hash-1", UserID: u.ID, CSRFToken: "other", CreatedAt: created, ExpiresAt: expires,
	}), rechargekit.ECONFLICT)

	tests := []struct {
		name string
		hash string
		now  time.Time
		want string // error code, "" for found
	}{
		{"fresh", "hash-1", created.Add(time.Minute), ""},
		{"just before expiry", "hash-1", expires.Add(-time.Microsecond), ""},
		{"at expiry", "hash-1", expires, rechargekit.ENOTFOUND},
		{"after expiry", "hash-1", expires.Add(time.Hour), rechargekit.ENOTFOUND},
		{"unknown hash", "hash-2", created, rechargekit.ENOTFOUND},
	}
	for _, tt := range tests {
		got, err := s.Session(ctx, tt.hash, tt.now)
		wantCode(t, "Session("+tt.name+")", err, tt.want)
		if tt.want == "" {
			if diff := cmp.Diff(sess, got); diff != "" {
				t.Errorf("Session(%s) mismatch (-want +got):\n%s", tt.name, diff)
			}
		}
	}
	mustOK(t, "DeleteSession", s.DeleteSession(ctx, "hash-1"))
	_, err := s.Session(ctx, "hash-1", created)
	wantCode(t, "Session after DeleteSession", err, rechargekit.ENOTFOUND)
	mustOK(t, "DeleteSession(missing)", s.DeleteSession(ctx, "hash-1"))

	// A zero CreatedAt takes the store's clock.
	before := time.Now().UTC().Truncate(time.Microsecond)
	auto := &rechargekit.Session{TokenHash: "hash-3", UserID: u.ID, CSRFToken: "c", ExpiresAt: time.Now().Add(time.Hour)}
	mustOK(t, "CreateSession", s.CreateSession(ctx, auto))
	if auto.CreatedAt.Before(before) || auto.CreatedAt.Location() != time.UTC {
		t.Errorf("CreateSession set CreatedAt %v, want the store's clock in UTC", auto.CreatedAt)
	}
}

func testSessionsInvalid(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	u := &rechargekit.User{Email: "a@example.com", Role: rechargekit.RoleAgent, PasswordHash: "h"}
	MustCreateUser(t, s, u)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	ok := rechargekit.Session{TokenHash: "h", UserID: u.ID, CSRFToken: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	tests := []struct {
		name string
		edit func(s *rechargekit.Session)
		want string
	}{
		{"empty hash", func(s *rechargekit.Session) { s.TokenHash = "" }, rechargekit.EINVALID},
		{"empty csrf", func(s *rechargekit.Session) { s.CSRFToken = "" }, rechargekit.EINVALID},
		{"zero user", func(s *rechargekit.Session) { s.UserID = 0 }, rechargekit.EINVALID},
		{"no expiry", func(s *rechargekit.Session) { s.ExpiresAt = time.Time{} }, rechargekit.EINVALID},
		{"expires before created", func(s *rechargekit.Session) { s.ExpiresAt = now.Add(-time.Hour) }, rechargekit.EINVALID},
		{"expires when created", func(s *rechargekit.Session) { s.ExpiresAt = now }, rechargekit.EINVALID},
		{"unknown user", func(s *rechargekit.Session) { s.UserID = u.ID + 1000 }, rechargekit.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sess := ok
			tt.edit(&sess)
			wantCode(t, "CreateSession", s.CreateSession(ctx, &sess), tt.want)
			_, err := s.Session(ctx, sess.TokenHash, now)
			wantCode(t, "Session after a refused CreateSession", err, rechargekit.ENOTFOUND)
		})
	}
	wantCode(t, "CreateSession(nil)", s.CreateSession(ctx, nil), rechargekit.EINVALID)
}

func testSessionsPurge(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	u := &rechargekit.User{Email: "a@example.com", Role: rechargekit.RoleAgent, PasswordHash: "h"}
	MustCreateUser(t, s, u)
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	mustOK(t, "CreateSession", s.CreateSession(ctx, &rechargekit.Session{TokenHash: "old", UserID: u.ID, CSRFToken: "c", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	mustOK(t, "CreateSession", s.CreateSession(ctx, &rechargekit.Session{TokenHash: "long", UserID: u.ID, CSRFToken: "c", CreatedAt: t0, ExpiresAt: t0.Add(48 * time.Hour)}))
	// A session created after "old" expired removes it.
	t1 := t0.Add(2 * time.Hour)
	mustOK(t, "CreateSession", s.CreateSession(ctx, &rechargekit.Session{TokenHash: "new", UserID: u.ID, CSRFToken: "c", CreatedAt: t1, ExpiresAt: t1.Add(time.Hour)}))
	_, err := s.Session(ctx, "old", t0) // asked as of a time it was valid
	wantCode(t, "Session(purged)", err, rechargekit.ENOTFOUND)
	for _, h := range []string{"long", "new"} {
		if _, err := s.Session(ctx, h, t1); err != nil {
			t.Errorf("Session(%s): %v; unexpired sessions must stay", h, err)
		}
	}
}

// mustFlashSession creates a user and a session valid for an hour from
// created, for the flash tests.
func mustFlashSession(t *testing.T, s rechargekit.Store, hash string, created time.Time) {
	t.Helper()
	u := &rechargekit.User{Email: hash + "@example.com", Role: rechargekit.RoleAgent, PasswordHash: "h"}
	MustCreateUser(t, s, u)
	mustOK(t, "CreateSession", s.CreateSession(t.Context(), &rechargekit.Session{
		TokenHash: hash, UserID: u.ID, CSRFToken: "c", CreatedAt: created, ExpiresAt: created.Add(time.Hour)}))
}

// testSessionsFlash: a flash set on a session is read with it and taken
// once; a newer one replaces one not yet taken; unknown and expired
// sessions take none; bad keys are refused.
func testSessionsFlash(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	created := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	now := created.Add(time.Minute)
	mustFlashSession(t, s, "hash-f", created)
	take := func(what string, want string) {
		t.Helper()
		got, err := s.TakeSessionFlash(ctx, "hash-f", now)
		mustOK(t, what, err)
		if got != want {
			t.Errorf("%s = %q, want %q", what, got, want)
		}
	}
	pending := func(what string, want string) {
		t.Helper()
		sess, err := s.Session(ctx, "hash-f", now)
		mustOK(t, what, err)
		if sess.Flash != want {
			t.Errorf("%s: Session().Flash = %q, want %q", what, sess.Flash, want)
		}
	}

	pending("before any flash", "")
	take("TakeSessionFlash(none set)", "")
	mustOK(t, "SetSessionFlash", s.SetSessionFlash(ctx, "hash-f", "linked", now))
	pending("after SetSessionFlash", "linked")
	take("TakeSessionFlash", "linked")
	take("TakeSessionFlash(second)", "")
	pending("after TakeSessionFlash", "")

	// A newer notice replaces one not yet taken.
	mustOK(t, "SetSessionFlash", s.SetSessionFlash(ctx, "hash-f", "linked", now))
	mustOK(t, "SetSessionFlash(again)", s.SetSessionFlash(ctx, "hash-f", "unlinked", now))
	take("TakeSessionFlash(replaced)", "unlinked")

	for _, tt := range []struct{ name, key string }{
		{"empty key", ""},
		{"control characters", "linked\n"},
		{"too long", strings.Repeat("k", rechargekit.MaxIDLength+1)},
		{"not UTF-8", "\xff"},
	} {
		wantCode(t, "SetSessionFlash("+tt.name+")", s.SetSessionFlash(ctx, "hash-f", tt.key, now), rechargekit.EINVALID)
	}
	take("TakeSessionFlash after refused keys", "")

	wantCode(t, "SetSessionFlash(unknown session)", s.SetSessionFlash(ctx, "hash-none", "linked", now), rechargekit.ENOTFOUND)
	_, err := s.TakeSessionFlash(ctx, "hash-none", now)
	wantCode(t, "TakeSessionFlash(unknown session)", err, rechargekit.ENOTFOUND)

	// An expired session neither takes a notice nor gives one up.
	mustOK(t, "SetSessionFlash", s.SetSessionFlash(ctx, "hash-f", "linked", now))
	expired := created.Add(time.Hour)
	wantCode(t, "SetSessionFlash(expired session)", s.SetSessionFlash(ctx, "hash-f", "unlinked", expired), rechargekit.ENOTFOUND)
	_, err = s.TakeSessionFlash(ctx, "hash-f", expired)
	wantCode(t, "TakeSessionFlash(expired session)", err, rechargekit.ENOTFOUND)
	take("TakeSessionFlash while still valid", "linked")

	// A session created with a notice waiting gives it up on the first take.
	u := &rechargekit.User{Email: "created-with-flash@example.com", Role: rechargekit.RoleAgent, PasswordHash: "h"}
	MustCreateUser(t, s, u)
	mustOK(t, "CreateSession(with a flash)", s.CreateSession(ctx, &rechargekit.Session{
		TokenHash: "hash-c", UserID: u.ID, CSRFToken: "c", CreatedAt: created, ExpiresAt: created.Add(time.Hour), Flash: "settings_saved"}))
	got, err := s.TakeSessionFlash(ctx, "hash-c", now)
	mustOK(t, "TakeSessionFlash(created with a flash)", err)
	if got != "settings_saved" {
		t.Errorf("TakeSessionFlash of a session created with a flash = %q, want %q", got, "settings_saved")
	}
	wantCode(t, "CreateSession(bad flash key)", s.CreateSession(ctx, &rechargekit.Session{
		TokenHash: "hash-bad", UserID: u.ID, CSRFToken: "c", CreatedAt: created, ExpiresAt: created.Add(time.Hour), Flash: "a\x00b"}), rechargekit.EINVALID)
}

// testSessionsFlashRace: of several callers taking one notice at once
// (two tabs, two replicas), exactly one gets it.
func testSessionsFlashRace(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	now := time.Now().UTC()
	mustFlashSession(t, s, "hash-r", now)
	for round := range 5 {
		mustOK(t, "SetSessionFlash", s.SetSessionFlash(ctx, "hash-r", "linked", now))
		const n = 4
		got := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = s.TakeSessionFlash(ctx, "hash-r", now)
			}()
		}
		wg.Wait()
		taken := 0
		for i := range n {
			mustOK(t, "TakeSessionFlash", errs[i])
			if got[i] == "linked" {
				taken++
			}
		}
		if taken != 1 {
			t.Errorf("round %d: %d of %d concurrent takers got the notice (%q), want exactly 1", round, taken, n, got)
		}
	}
}

// checkSharedFlash: a notice set through one handle is taken through the
// other, once, as when a replica redirects to a page another one serves.
func checkSharedFlash(t *testing.T, a, b rechargekit.Store) {
	t.Helper()
	ctx := t.Context()
	now := time.Now().UTC()
	mustFlashSession(t, a, "hash-shared", now)
	mustOK(t, "SetSessionFlash through one handle", a.SetSessionFlash(ctx, "hash-shared", "linked", now))
	sess, err := b.Session(ctx, "hash-shared", now)
	mustOK(t, "Session through the other handle", err)
	if sess.Flash != "linked" {
		t.Errorf("the other handle reads the session's flash as %q, want %q", sess.Flash, "linked")
	}
	got, err := b.TakeSessionFlash(ctx, "hash-shared", now)
	mustOK(t, "TakeSessionFlash through the other handle", err)
	if got != "linked" {
		t.Errorf("TakeSessionFlash through the other handle = %q, want %q", got, "linked")
	}
	if got, err := a.TakeSessionFlash(ctx, "hash-shared", now); err != nil || got != "" {
		t.Errorf("TakeSessionFlash again through the first handle = %q, %v; want it taken already", got, err)
	}
}

func testAPITokens(t *testing.T, s rechargekit.Store) {
	ctx := t.Context()
	zapier := &rechargekit.APIToken{Name: "zapier", Hash: "sha256:aaaa"}
	desk := &rechargekit.APIToken{Name: "Desk", Role: rechargekit.RoleAdmin, Hash: "sha256:bbbb"}
	mustOK(t, "CreateAPIToken", s.CreateAPIToken(ctx, zapier, "admin@example.com"))
	mustOK(t, "CreateAPIToken", s.CreateAPIToken(ctx, desk, "admin@example.com"))
	if zapier.ID <= 0 || desk.ID <= 0 || zapier.ID == desk.ID || zapier.CreatedAt.IsZero() || zapier.CreatedAt.Location() != time.UTC {
		t.Errorf("CreateAPIToken set %+v and %+v: want distinct ids and a UTC creation time", zapier, desk)
	}
	// A token without a role is an agent's; an admin token stays admin.
	if zapier.Role != rechargekit.RoleAgent || desk.Role != rechargekit.RoleAdmin {
		t.Errorf("CreateAPIToken set roles %q and %q, want %q and %q", zapier.Role, desk.Role, rechargekit.RoleAgent, rechargekit.RoleAdmin)
	}
	wantCode(t, "CreateAPIToken(duplicate name)", s.CreateAPIToken(ctx, &rechargekit.APIToken{Name: "zapier", Hash: "sha256:cccc"}, "admin@example.com"), rechargekit.ECONFLICT)
	wantCode(t, "CreateAPIToken(duplicate hash)", s.CreateAPIToken(ctx, &rechargekit.APIToken{Name: "other", Hash: "sha256:aaaa"}, "admin@example.com"), rechargekit.ECONFLICT)

	got, err := s.APITokenByHash(ctx, "sha256:aaaa")
	mustOK(t, "APITokenByHash", err)
	if diff := cmp.Diff(zapier, got); diff != "" {
		t.Errorf("APITokenByHash mismatch (-want +got):\n%s", diff)
	}
	_, err = s.APITokenByHash(ctx, "sha256:zzzz")
	wantCode(t, "APITokenByHash(unknown)", err, rechargekit.ENOTFOUND)
	list, err := s.APITokens(ctx)
	mustOK(t, "APITokens", err)
	if diff := cmp.Diff([]*rechargekit.APIToken{desk, zapier}, list); diff != "" {
		t.Errorf("APITokens mismatch (-want +got):\n%s", diff)
	}

	wantCode(t, "DeleteAPIToken without by", s.DeleteAPIToken(ctx, zapier.ID, ""), rechargekit.EINVALID)
	mustOK(t, "DeleteAPIToken", s.DeleteAPIToken(ctx, zapier.ID, "root@example.com"))
	_, err = s.APITokenByHash(ctx, "sha256:aaaa")
	wantCode(t, "APITokenByHash(revoked)", err, rechargekit.ENOTFOUND)
	wantCode(t, "DeleteAPIToken twice", s.DeleteAPIToken(ctx, zapier.ID, "root@example.com"), rechargekit.ENOTFOUND)
	want := []step{
		{rechargekit.AuditTokenChange, "root@example.com", "", 0},
		{rechargekit.AuditTokenChange, "admin@example.com", "", 0},
		{rechargekit.AuditTokenChange, "admin@example.com", "", 0},
	}
	if diff := cmp.Diff(want, story(t, MustAudit(t, s, rechargekit.AuditFilter{}))); diff != "" {
		t.Errorf("audit mismatch (-want +got):\n%s", diff)
	}
	// The name is free again after revocation.
	mustOK(t, "CreateAPIToken(reused name)", s.CreateAPIToken(ctx, &rechargekit.APIToken{Name: "zapier", Hash: "sha256:dddd"}, "admin@example.com"))
}

func testAPITokensInvalid(t *testing.T, s rechargekit.Store) {
	tests := []struct {
		name string
		tok  *rechargekit.APIToken
		by   string
	}{
		{"nil", nil, "x"},
		{"empty name", &rechargekit.APIToken{Hash: "h"}, "x"},
		{"control character in name", &rechargekit.APIToken{Name: "a\tb", Hash: "h"}, "x"},
		{"empty hash", &rechargekit.APIToken{Name: "n"}, "x"},
		{"gladly role", &rechargekit.APIToken{Name: "n", Hash: "h", Role: rechargekit.RoleGladly}, "x"},
		{"unknown role", &rechargekit.APIToken{Name: "n", Hash: "h", Role: "root"}, "x"},
		{"empty by", &rechargekit.APIToken{Name: "n", Hash: "h"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, "CreateAPIToken", s.CreateAPIToken(t.Context(), tt.tok, tt.by), rechargekit.EINVALID)
		})
	}
	list, err := s.APITokens(t.Context())
	mustOK(t, "APITokens", err)
	if len(list) != 0 {
		t.Errorf("invalid tokens stored %d tokens, want none", len(list))
	}
}

// RunPersistence checks that everything a store acknowledged is there,
// unchanged, after the store is closed and the same database reopened.
// open returns a fresh, empty store and a function that closes that store
// and opens the same database again.
func RunPersistence(t *testing.T, open func(t *testing.T) (rechargekit.Store, func() rechargekit.Store)) {
	ctx := t.Context()
	s, reopen := open(t)

	p := &rechargekit.Profile{ID: "p-1", Name: "Ada", Emails: []string{"ada@example.com"}, Phones: []string{"+1 555 0100"}}
	MustUpsertProfile(t, s, p)
	MustUpsertProfile(t, s, profile("p-2", "Bea"))
	link := &rechargekit.Link{ProfileID: "p-1", CustomerID: 42, Method: rechargekit.LinkManual, By: "agent@example.com"}
	MustCreateLink(t, s, link)
	MustCreateLink(t, s, &rechargekit.Link{ProfileID: "p-2", CustomerID: 43, Method: rechargekit.LinkAuto, By: "auto"})
	mustOK(t, "DeleteLink", s.DeleteLink(ctx, "p-2", "agent@example.com"))
	settings := &rechargekit.Settings{AutoLink: !rechargekit.DefaultSettings().AutoLink}
	mustOK(t, "UpdateSettings", s.UpdateSettings(ctx, settings, "admin@example.com"))
	u := &rechargekit.User{Email: "admin@example.com", Role: rechargekit.RoleAdmin, PasswordHash: "h"}
	MustCreateUser(t, s, u)
	sess := &rechargekit.Session{TokenHash: "sh", UserID: u.ID, CSRFToken: "c", ExpiresAt: time.Now().Add(time.Hour)}
	mustOK(t, "CreateSession", s.CreateSession(ctx, sess))
	tok := &rechargekit.APIToken{Name: "desk", Role: rechargekit.RoleAdmin, Hash: "th"}
	mustOK(t, "CreateAPIToken", s.CreateAPIToken(ctx, tok, "admin@example.com"))
	policy := rechargekit.DefaultActionPolicy()
	policy[rechargekit.RoleAgent][rechargekit.ActionChangeQuantity] = true
	mustOK(t, "UpdateActionPolicy", s.UpdateActionPolicy(ctx, policy, "admin@example.com"))
	done, pending := attempt("key-1", "hash-1"), attempt("key-2", "hash-2")
	MustBeginAction(t, s, done)
	mustOK(t, "CompleteAction", s.CompleteAction(ctx, done.ID, rechargekit.OutcomeDone, "", &rechargekit.SubscriptionState{Status: "cancelled"}))
	MustBeginAction(t, s, pending)
	actions := MustActionRecords(t, s, rechargekit.ActionFilter{})
	audit := MustAudit(t, s, rechargekit.AuditFilter{})

	s = reopen()

	gotP, err := s.Profile(ctx, "p-1")
	mustOK(t, "Profile after reopen", err)
	if diff := cmp.Diff(p, gotP); diff != "" {
		t.Errorf("Profile after reopen (-want +got):\n%s", diff)
	}
	gotL, err := s.Link(ctx, "p-1")
	mustOK(t, "Link after reopen", err)
	if diff := cmp.Diff(link, gotL); diff != "" {
		t.Errorf("Link after reopen (-want +got):\n%s", diff)
	}
	_, err = s.Link(ctx, "p-2")
	wantCode(t, "Link of the unlinked profile after reopen", err, rechargekit.ENOTFOUND)
	unlinked, err := s.WasUnlinked(ctx, "p-2")
	mustOK(t, "WasUnlinked after reopen", err)
	if !unlinked {
		t.Error("the unlink tombstone was lost on reopen")
	}
	gotS, err := s.Settings(ctx)
	mustOK(t, "Settings after reopen", err)
	if diff := cmp.Diff(settings, gotS); diff != "" {
		t.Errorf("Settings after reopen (-want +got):\n%s", diff)
	}
	gotU, err := s.UserByEmail(ctx, "admin@example.com")
	mustOK(t, "UserByEmail after reopen", err)
	if diff := cmp.Diff(u, gotU); diff != "" {
		t.Errorf("User after reopen (-want +got):\n%s", diff)
	}
	gotSess, err := s.Session(ctx, "sh", time.Now())
	mustOK(t, "Session after reopen", err)
	if diff := cmp.Diff(sess, gotSess); diff != "" {
		t.Errorf("Session after reopen (-want +got):\n%s", diff)
	}
	gotT, err := s.APITokenByHash(ctx, "th")
	mustOK(t, "APITokenByHash after reopen", err)
	if diff := cmp.Diff(tok, gotT); diff != "" {
		t.Errorf("APIToken after reopen (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(audit, MustAudit(t, s, rechargekit.AuditFilter{})); diff != "" {
		t.Errorf("audit after reopen (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(actions, MustActionRecords(t, s, rechargekit.ActionFilter{})); diff != "" {
		t.Errorf("action records after reopen (-want +got):\n%s", diff)
	}
	gotPolicy, err := s.ActionPolicy(ctx)
	mustOK(t, "ActionPolicy after reopen", err)
	if !gotPolicy.Allows(rechargekit.RoleAgent, rechargekit.ActionChangeQuantity) {
		t.Error("the action policy change was lost on reopen")
	}
	// The idempotency keys survive too: the same key is still its attempt,
	// and the pending one can still be completed.
	existing, err := s.BeginAction(ctx, attempt("key-1", "hash-1"))
	if err != nil || existing == nil || existing.ID != done.ID {
		t.Errorf("BeginAction(key-1) after reopen = %+v, %v; want attempt %d", existing, err, done.ID)
	}
	mustOK(t, "CompleteAction(pending) after reopen", s.CompleteAction(ctx, pending.ID, rechargekit.OutcomeFailed, "timeout", nil))
	// The reopened store keeps working, and ids keep increasing.
	MustCreateLink(t, s, &rechargekit.Link{ProfileID: "p-2", CustomerID: 44, Method: rechargekit.LinkManual, By: "agent@example.com"})
	if got := MustAudit(t, s, rechargekit.AuditFilter{Limit: 1}); len(got) != 1 || got[0].ID <= audit[0].ID {
		t.Errorf("audit after reopen and a new link = %v, want a new entry with an id above %d", got, audit[0].ID)
	}
}

// RunShared checks two handles on one database, as two processes or two
// replicas have: each sees the other's writes, racing links from the two
// still leave one link and a two-entry audit story, and of racing creators
// of one profile exactly one is told it created it. open returns two
// stores on the same fresh, empty database.
func RunShared(t *testing.T, open func(t *testing.T) (a, b rechargekit.Store)) {
	ctx := t.Context()
	a, b := open(t)

	MustUpsertProfile(t, a, profile("p-1", "Ada"))
	if _, err := b.Profile(ctx, "p-1"); err != nil {
		t.Fatalf("a profile written through one handle is not visible through the other: %v", err)
	}
	MustCreateLink(t, b, &rechargekit.Link{ProfileID: "p-1", CustomerID: 42, Method: rechargekit.LinkManual, By: "agent@example.com"})
	l, err := a.Link(ctx, "p-1")
	mustOK(t, "Link through the other handle", err)
	if l.CustomerID != 42 {
		t.Errorf("Link through the other handle = %d, want 42", l.CustomerID)
	}
	wantCode(t, "conflicting link through the other handle",
		a.CreateLink(ctx, &rechargekit.Link{ProfileID: "p-1", CustomerID: 43, Method: rechargekit.LinkManual, By: "x@example.com"}),
		rechargekit.ECONFLICT)

	for i := range RaceRounds {
		id := fmt.Sprintf("race-%02d", i)
		MustUpsertProfile(t, a, profile(id, "Racer"))
		x, y := int64(1000+i), int64(2000+i)
		errs := race(ctx, a, b, id, x, y)
		checkRace(t, a, id, x, y, errs)
		checkRace(t, b, id, x, y, errs)
	}
	checkSharedFlash(t, a, b)
	// Replicas creating one profile at once: one of them created it.
	for i := range 5 {
		CheckOneCreator(t, fmt.Sprintf("shared-new-%d", i), a, b)
	}
	if t.Failed() {
		return
	}
	if diff := cmp.Diff(MustAudit(t, a, rechargekit.AuditFilter{Limit: 1000}), MustAudit(t, b, rechargekit.AuditFilter{Limit: 1000})); diff != "" {
		t.Errorf("the two handles disagree on the audit log (-a +b):\n%s", diff)
	}
}
