package storetest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
)

// OpenMirrorStore opens a fresh, empty mirror store for one test, whose
// clock is now, and registers its cleanup with t.Cleanup. It also returns
// another, which opens a second handle on the same database reading the
// same clock, as a second replica would (TwoHandles makes one).
type OpenMirrorStore func(t *testing.T, now func() time.Time) (s rechargekit.MirrorStore, another func() rechargekit.MirrorStore)

// RunMirrorStore runs the conformance suite for rechargekit.MirrorStore
// against the stores that open returns: writing records (newer replaces,
// older is ignored, the same version is only seen again), the customers a
// write changed, deletions, reading a customer, searches, checkpoints,
// stats, purging, and the sync lease, with the races between two handles
// that replicas run into. Every subtest opens its own store and runs in
// parallel with the others.
func RunMirrorStore(t *testing.T, open OpenMirrorStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, c *Clock, s rechargekit.MirrorStore, another func() rechargekit.MirrorStore)
	}{
		{"Put/NewerReplacesOlderIgnoredEqualSeen", testMirrorPutVersions},
		{"Put/ChangedCustomers", testMirrorPutChanged},
		{"Put/Invalid", testMirrorPutInvalid},
		{"Put/ConcurrentOlderAndNewerAcrossHandles", testMirrorPutRace},
		{"Delete/Record", testMirrorDeleteRecord},
		{"Delete/CustomerRemovesItsRecords", testMirrorDeleteCustomer},
		{"Delete/Invalid", testMirrorDeleteInvalid},
		{"Customer/OrderAndNotFound", testMirrorCustomer},
		{"Search/ExactPerKindAndNamePrefix", testMirrorSearch},
		{"Search/OnceEachFirstKeyNewestFirst", testMirrorSearchDedup},
		{"Search/Limits", testMirrorSearchLimits},
		{"Search/Invalid", testMirrorSearchInvalid},
		{"Checkpoint/ZeroAndRoundTrip", testMirrorCheckpoint},
		{"Checkpoint/Invalid", testMirrorCheckpointInvalid},
		{"Stats", testMirrorStats},
		{"Purge", testMirrorPurge},
		{"Lease/TakeRenewRefuseExpireRelease", testMirrorLease},
		{"Lease/Invalid", testMirrorLeaseInvalid},
		{"Lease/ConcurrentAcrossHandlesOneWinner", testMirrorLeaseRace},
	}
	for _, tt := range tests {
		runClocked(t, tt.name, open, tt.fn)
	}
}

// mirrorT0 is when the suite's records were last updated in Recharge.
var mirrorT0 = time.Date(2026, 2, 1, 8, 30, 0, 987654321, time.UTC)

// rec returns a record updated at mirrorT0 plus age, with a document
// naming its version.
func rec(resource string, id, customerID int64, age time.Duration, version string, keys ...rechargekit.SearchKey) *rechargekit.MirrorRecord {
	return &rechargekit.MirrorRecord{
		Resource: resource, ID: id, CustomerID: customerID, UpdatedAt: mirrorT0.Add(age),
		Doc:  fmt.Appendf(nil, `{"id":%d,"version":%q}`, id, version),
		Keys: keys,
	}
}

// customer returns a customer record whose keys are its id and kv's
// pairs of kinds and values.
func customer(id int64, age time.Duration, version string, kv ...string) *rechargekit.MirrorRecord {
	keys := []rechargekit.SearchKey{{Kind: rechargekit.KeyCustomerID, Value: strconv.FormatInt(id, 10)}}
	for i := 0; i+1 < len(kv); i += 2 {
		keys = append(keys, rechargekit.SearchKey{Kind: kv[i], Value: kv[i+1]})
	}
	return rec(rechargekit.MirrorCustomers, id, id, age, version, keys...)
}

// MustPutMirror writes recs or fails the test, and returns the changed
// customer ids.
func MustPutMirror(tb testing.TB, s rechargekit.MirrorStore, recs ...*rechargekit.MirrorRecord) []int64 {
	tb.Helper()
	changed, err := s.PutMirror(tb.Context(), recs)
	if err != nil {
		tb.Fatalf("PutMirror(%d records): %v", len(recs), err)
	}
	return changed
}

// MustMirroredCustomer reads a customer's records or fails the test.
func MustMirroredCustomer(tb testing.TB, s rechargekit.MirrorStore, id int64) []*rechargekit.MirrorRecord {
	tb.Helper()
	recs, err := s.MirroredCustomer(tb.Context(), id)
	if err != nil {
		tb.Fatalf("MirroredCustomer(%d): %v", id, err)
	}
	return recs
}

// MustSearchMirror searches the mirror or fails the test.
func MustSearchMirror(tb testing.TB, s rechargekit.MirrorStore, limit int, keys ...rechargekit.SearchKey) []*rechargekit.MirrorHit {
	tb.Helper()
	hits, err := s.SearchMirror(tb.Context(), keys, limit)
	if err != nil {
		tb.Fatalf("SearchMirror(%v, %d): %v", keys, limit, err)
	}
	if hits == nil {
		tb.Fatalf("SearchMirror(%v, %d) = nil, want a slice", keys, limit)
	}
	return hits
}

// stored is what a read returns for a written record: its times as the
// store keeps them, seenAt when it had none, and no keys.
func stored(r *rechargekit.MirrorRecord, seenAt time.Time) *rechargekit.MirrorRecord {
	out := *r
	out.UpdatedAt, out.Keys = at(r.UpdatedAt), nil
	out.SeenAt = at(seenAt)
	if !r.SeenAt.IsZero() {
		out.SeenAt = at(r.SeenAt)
	}
	return &out
}

func key(kind, value string) rechargekit.SearchKey {
	return rechargekit.SearchKey{Kind: kind, Value: value}
}

// customersFound returns the customer ids of hits, in order.
func customersFound(hits []*rechargekit.MirrorHit) []int64 {
	return idsOf(hits, func(h *rechargekit.MirrorHit) int64 { return h.CustomerID })
}

func testMirrorPutVersions(t *testing.T, c *Clock, s rechargekit.MirrorStore, _ func() rechargekit.MirrorStore) {
	first := customer(1, 0, "first", rechargekit.KeyEmail, "ada@example.com")
	if got := MustPutMirror(t, s, first); !slices.Equal(got, []int64{1}) {
		t.Errorf("PutMirror(new customer) changed %v, want [1]", got)
	}
	want := []*rechargekit.MirrorRecord{stored(first, c.Now())}
	if diff := cmp.Diff(want, MustMirroredCustomer(t, s, 1)); diff != "" {
		t.Errorf("after the first write (-want +got):\n%s", diff)
	}

	// An older delivery changes nothing, keys included.
	c.Advance(time.Minute)
	older := customer(1, -time.Hour, "older", rechargekit.KeyEmail, "old@example.com")
	if got := MustPutMirror(t, s, older); len(got) != 0 {
		t.Errorf("PutMirror(older) changed %v, want none", got)
	}
	if diff := cmp.Diff(want, MustMirroredCustomer(t, s, 1)); diff != "" {
		t.Errorf("after an older write (-want +got):\n%s", diff)
	}
	if hits := MustSearchMirror(t, s, 0, key(rechargekit.KeyEmail, "old@example.com")); len(hits) != 0 {
		t.Errorf("an older write's key finds %v, want nothing", customersFound(hits))
	}

	// The same version again is seen again, not changed.
	c.Advance(time.Minute)
	again := customer(1, 0, "first", rechargekit.KeyEmail, "ada@example.com")
	if got := MustPutMirror(t, s, again); len(got) != 0 {
		t.Errorf("PutMirror(same version) changed %v, want none", got)
	}
	want = []*rechargekit.MirrorRecord{stored(first, c.Now())}
	if diff := cmp.Diff(want, MustMirroredCustomer(t, s, 1)); diff != "" {
		t.Errorf("after the same version again (-want +got):\n%s", diff)
	}
	// The same version with other keys (made by other rules) is not a
	// change, but its keys replace the old ones.
	rekeyed := customer(1, 0, "first", rechargekit.KeyEmail, "ada@example.com", rechargekit.KeyPhone, "+442079460000")
	if got := MustPutMirror(t, s, rekeyed); len(got) != 0 {
		t.Errorf("PutMirror(same version, other keys) changed %v, want none", got)
	}
	if got := customersFound(MustSearchMirror(t, s, 0, key(rechargekit.KeyPhone, "+442079460000"))); !slices.Equal(got, []int64{1}) {
		t.Errorf("the same version's new key finds %v, want [1]", got)
	}
	MustPutMirror(t, s, again)
	if got := customersFound(MustSearchMirror(t, s, 0, key(rechargekit.KeyPhone, "+442079460000"))); len(got) != 0 {
		t.Errorf("a key the same version no longer has finds %v, want nothing", got)
	}

	// An explicit SeenAt is kept; an equal updated_at with another
	// document is a change.
	c.Advance(time.Minute)
	sameTimeOtherDoc := customer(1, 0, "corrected", rechargekit.KeyEmail, "ada@example.com")
	sameTimeOtherDoc.SeenAt = c.Now().Add(-30 * time.Second)
	if got := MustPutMirror(t, s, sameTimeOtherDoc); !slices.Equal(got, []int64{1}) {
		t.Errorf("PutMirror(same time, other document) changed %v, want [1]", got)
	}
	want = []*rechargekit.MirrorRecord{stored(sameTimeOtherDoc, c.Now())}
	if diff := cmp.Diff(want, MustMirroredCustomer(t, s, 1)); diff != "" {
		t.Errorf("after the same time with another document (-want +got):\n%s", diff)
	}

	// A newer version replaces the record and its keys.
	c.Advance(time.Minute)
	newer := customer(1, time.Hour, "newer", rechargekit.KeyEmail, "ada.new@example.com")
	if got := MustPutMirror(t, s, newer); !slices.Equal(got, []int64{1}) {
		t.Errorf("PutMirror(newer) changed %v, want [1]", got)
	}
	want = []*rechargekit.MirrorRecord{stored(newer, c.Now())}
	if diff := cmp.Diff(want, MustMirroredCustomer(t, s, 1)); diff != "" {
		t.Errorf("after a newer write (-want +got):\n%s", diff)
	}
	if hits := MustSearchMirror(t, s, 0, key(rechargekit.KeyEmail, "ada@example.com")); len(hits) != 0 {
		t.Errorf("a replaced key finds %v, want nothing", customersFound(hits))
	}
	hits := MustSearchMirror(t, s, 0, key(rechargekit.KeyEmail, "ada.new@example.com"))
	if diff := cmp.Diff([]*rechargekit.MirrorHit{{CustomerID: 1, Key: key(rechargekit.KeyEmail, "ada.new@example.com")}}, hits); diff != "" {
		t.Errorf("the new key's search (-want +got):\n%s", diff)
	}
	for _, r := range MustMirroredCustomer(t, s, 1) {
		if r.UpdatedAt.Location() != time.UTC || r.SeenAt.Location() != time.UTC {
			t.Errorf("record times %v, %v: want UTC", r.UpdatedAt, r.SeenAt)
		}
	}
}

func testMirrorPutChanged(t *testing.T, c *Clock, s rechargekit.MirrorStore, _ func() rechargekit.MirrorStore) {
	MustPutMirror(t, s, customer(4, 0, "v1"), rec(rechargekit.MirrorSubscriptions, 40, 4, 0, "v1"))
	got := MustPutMirror(t, s,
		customer(3, 0, "v1"),
		rec(rechargekit.MirrorAddresses, 10, 1, 0, "v1"),
		customer(2, 0, "v1"),
		customer(1, 0, "v1"),
		rec(rechargekit.MirrorSubscriptions, 11, 1, 0, "v1"),
		customer(4, 0, "v1"),                                            // seen again
		rec(rechargekit.MirrorSubscriptions, 40, 4, -time.Second, "v0"), // older
	)
	if want := []int64{1, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("PutMirror changed %v, want %v (distinct, ascending, without the unchanged customer 4)", got, want)
	}
	if got := MustPutMirror(t, s); got == nil || len(got) != 0 {
		t.Errorf("PutMirror() = %#v, want an empty slice", got)
	}
	// One record given twice in a batch is written in the order given.
	got = MustPutMirror(t, s, rec(rechargekit.MirrorCharges, 50, 4, time.Hour, "late"), rec(rechargekit.MirrorCharges, 50, 4, time.Hour, "later"))
	if !slices.Equal(got, []int64{4}) {
		t.Errorf("PutMirror(one charge twice) changed %v, want [4]", got)
	}
	recs := MustMirroredCustomer(t, s, 4)
	if last := recs[len(recs)-1]; last.Resource != rechargekit.MirrorCharges || !strings.Contains(string(last.Doc), `"later"`) {
		t.Errorf("charge given twice holds %s %d %s, want the later document", last.Resource, last.ID, last.Doc)
	}
}

func testMirrorPutInvalid(t *testing.T, c *Clock, s rechargekit.MirrorStore, _ func() rechargekit.MirrorStore) {
	valid := customer(9, 0, "v1")
	for _, tc := range []struct {
		name string
		r    *rechargekit.MirrorRecord
	}{
		{"nil", nil},
		{"unknown resource", rec("orders", 1, 9, 0, "v1")},
		{"zero id", rec(rechargekit.MirrorAddresses, 0, 9, 0, "v1")},
		{"negative id", rec(rechargekit.MirrorAddresses, -1, 9, 0, "v1")},
		{"zero customer", rec(rechargekit.MirrorAddresses, 1, 0, 0, "v1")},
		{"customer of another id", rec(rechargekit.MirrorCustomers, 8, 9, 0, "v1")},
		{"empty doc", &rechargekit.MirrorRecord{Resource: rechargekit.MirrorAddresses, ID: 1, CustomerID: 9}},
		{"unknown key kind", rec(rechargekit.MirrorAddresses, 1, 9, 0, "v1", key("shoe_size", "42"))},
		{"empty key", rec(rechargekit.MirrorAddresses, 1, 9, 0, "v1", key(rechargekit.KeyZip, ""))},
		{"key not UTF-8", rec(rechargekit.MirrorAddresses, 1, 9, 0, "v1", key(rechargekit.KeyName, "bad\xff"))},
		{"key with NUL", rec(rechargekit.MirrorAddresses, 1, 9, 0, "v1", key(rechargekit.KeyName, "bad\x00name"))},
	} {
		_, err := s.PutMirror(t.Context(), []*rechargekit.MirrorRecord{valid, tc.r})
		wantCode(t, "PutMirror("+tc.name+")", err, rechargekit.EINVALID)
	}
	// The valid record of each refused batch was not written either.
	_, err := s.MirroredCustomer(t.Context(), 9)
	wantCode(t, "MirroredCustomer after refused batches", err, rechargekit.ENOTFOUND)
}

// testMirrorPutRace writes an older and a newer version of one record
// from two handles at once, round after round: whichever commits last, the
// newer version, with its keys, is what stays.
func testMirrorPutRace(t *testing.T, c *Clock, s rechargekit.MirrorStore, another func() rechargekit.MirrorStore) {
	s2 := another()
	const rounds = 20
	for i := range int64(rounds) {
		id := 100 + i
		versions := []*rechargekit.MirrorRecord{
			customer(id, 0, "older", rechargekit.KeyName, "older"),
			customer(id, time.Second, "newer", rechargekit.KeyName, "newer"),
		}
		if i%2 == 1 {
			versions[0], versions[1] = versions[1], versions[0]
		}
		errs := make([]error, 2)
		concurrently(2, func(j int) {
			h := s
			if j == 1 {
				h = s2
			}
			_, errs[j] = h.PutMirror(t.Context(), []*rechargekit.MirrorRecord{versions[j]})
		})
		for j, err := range errs {
			mustOK(t, fmt.Sprintf("round %d: PutMirror from handle %d", i, j+1), err)
		}
		for _, h := range []rechargekit.MirrorStore{s, s2} {
			recs := MustMirroredCustomer(t, h, id)
			if len(recs) != 1 || !strings.Contains(string(recs[0].Doc), `"newer"`) {
				t.Fatalf("round %d: customer %d holds %s, want the newer version", i, id, recs[0].Doc)
			}
		}
	}
	if got := customersFound(MustSearchMirror(t, s, 1000, key(rechargekit.KeyName, "older"))); len(got) != 0 {
		t.Errorf("the older versions' keys find %v, want nothing", got)
	}
	if got := MustSearchMirror(t, s, 1000, key(rechargekit.KeyName, "newer")); len(got) != rounds {
		t.Errorf("the newer versions' keys find %d customers, want %d", len(got), rounds)
	}
}

func testMirrorDeleteRecord(t *testing.T, c *Clock, s rechargekit.MirrorStore, _ func() rechargekit.MirrorStore) {
	cust := customer(1, 0, "v1")
	addr := rec(rechargekit.MirrorAddresses, 10, 1, 0, "v1", key(rechargekit.KeyZip, "94107"))
	sub := rec(rechargekit.MirrorSubscriptions, 20, 1, time.Hour, "v1")
	MustPutMirror(t, s, cust, addr, sub)

	// A deletion older than the stored record leaves it.
	got, err := s.DeleteMirror(t.Context(), rechargekit.MirrorSubscriptions, 20, mirrorT0)
	if err != nil || got != 0 {
		t.Errorf("DeleteMirror(subscription updated after at) = %d, %v; want 0, nil", got, err)
	}
	// A deletion at or after the stored record's update removes it.
	got, err = s.DeleteMirror(t.Context(), rechargekit.MirrorSubscriptions, 20, mirrorT0.Add(time.Hour))
	if err != nil || got != 1 {
		t.Errorf("DeleteMirror(subscription at its update) = %d, %v; want 1, nil", got, err)
	}
	// A zero at removes whatever is held, and its keys.
	got, err = s.DeleteMirror(t.Context(), rechargekit.MirrorAddresses, 10, time.Time{})
	if err != nil || got != 1 {
		t.Errorf("DeleteMirror(address, zero at) = %d, %v; want 1, nil", got, err)
	}
	if hits := MustSearchMirror(t, s, 0, key(rechargekit.KeyZip, "94107")); len(hits) != 0 {
		t.Errorf("a deleted address's zip finds %v, want nothing", customersFound(hits))
	}
	// Nothing held: 0.
	got, err = s.DeleteMirror(t.Context(), rechargekit.MirrorAddresses, 10, time.Time{})
	if err != nil || got != 0 {
		t.Errorf("DeleteMirror(address already removed) = %d, %v; want 0, nil", got, err)
	}
	if diff := cmp.Diff([]*rechargekit.MirrorRecord{stored(cust, c.Now())}, MustMirroredCustomer(t, s, 1)); diff != "" {
		t.Errorf("customer after its records' deletion (-want +got):\n%s", diff)
	}
}

func testMirrorDeleteCustomer(t *testing.T, c *Clock, s rechargekit.MirrorStore, _ func() rechargekit.MirrorStore) {
	MustPutMirror(t, s,
		customer(1, time.Hour, "v1", rechargekit.KeyEmail, "ada@example.com"),
		rec(rechargekit.MirrorAddresses, 10, 1, 0, "v1", key(rechargekit.KeyZip, "94107")),
		rec(rechargekit.MirrorSubscriptions, 20, 1, 0, "v1"),
		rec(rechargekit.MirrorEvents, 30, 1, 0, "v1"),
		customer(2, 0, "v1", rechargekit.KeyZip, "94107"),
		rec(rechargekit.MirrorAddresses, 11, 2, 0, "v1"),
	)
	// The customer's record is newer than the deletion: everything stays.
	got, err := s.DeleteMirror(t.Context(), rechargekit.MirrorCustomers, 1, mirrorT0)
	if err != nil || got != 0 {
		t.Errorf("DeleteMirror(customer updated after at) = %d, %v; want 0, nil", got, err)
	}
	if n := len(MustMirroredCustomer(t, s, 1)); n != 4 {
		t.Errorf("customer 1 holds %d records after a refused deletion, want 4", n)
	}
	got, err = s.DeleteMirror(t.Context(), rechargekit.MirrorCustomers, 1, time.Time{})
	if err != nil || got != 1 {
		t.Errorf("DeleteMirror(customer) = %d, %v; want 1, nil", got, err)
	}
	_, err = s.MirroredCustomer(t.Context(), 1)
	wantCode(t, "MirroredCustomer(deleted customer)", err, rechargekit.ENOTFOUND)
	if got := customersFound(MustSearchMirror(t, s, 0, key(rechargekit.KeyZip, "94107"), key(rechargekit.KeyEmail, "ada@example.com"))); !slices.Equal(got, []int64{2}) {
		t.Errorf("search after the deletion finds %v, want only the other customer [2]", got)
	}
	if n := len(MustMirroredCustomer(t, s, 2)); n != 2 {
		t.Errorf("the other customer holds %d records, want 2", n)
	}
	st, err := s.MirrorStats(t.Context())
	mustOK(t, "MirrorStats", err)
	if st.Records[rechargekit.MirrorSubscriptions] != 0 || st.Records[rechargekit.MirrorEvents] != 0 {
		t.Errorf("records left after the customer's deletion: %v", st.Records)
	}
	// A customer whose own record is not held still loses its records.
	MustPutMirror(t, s, rec(rechargekit.MirrorAddresses, 12, 3, 0, "v1"))
	got, err = s.DeleteMirror(t.Context(), rechargekit.MirrorCustomers, 3, mirrorT0)
	if err != nil || got != 3 {
		t.Errorf("DeleteMirror(customer not held, with an address) = %d, %v; want 3, nil", got, err)
	}
	got, err = s.DeleteMirror(t.Context(), rechargekit.MirrorCustomers, 3, time.Time{})
	if err != nil || got != 0 {
		t.Errorf("DeleteMirror(customer with nothing held) = %d, %v; want 0, nil", got, err)
	}
}

func testMirrorDeleteInvalid(t *testing.T, c *Clock, s rechargekit.MirrorStore, _ func() rechargekit.MirrorStore) {
	_, err := s.DeleteMirror(t.Context(), "orders", 1, time.Time{})
	wantCode(t, "DeleteMirror(unknown resource)", err, rechargekit.EINVALID)
	_, err = s.DeleteMirror(t.Context(), rechargekit.MirrorCustomers, 0, time.Time{})
	wantCode(t, "DeleteMirror(zero id)", err, rechargekit.EINVALID)
}

func testMirrorCustomer(t *testing.T, c *Clock, s rechargekit.MirrorStore, _ func() rechargekit.MirrorStore) {
	// Written out of order, with another customer's records between.
	recs := []*rechargekit.MirrorRecord{
		rec(rechargekit.MirrorEvents, 5, 7, 0, "v1"),
		rec(rechargekit.MirrorSubscriptions, 30, 7, 0, "v1"),
		rec(rechargekit.MirrorCharges, 2, 7, 0, "v1"),
		rec(rechargekit.MirrorAddresses, 99, 7, 0, "v1"),
		rec(rechargekit.MirrorSubscriptions, 4, 7, 0, "v1"),
		rec(rechargekit.MirrorPaymentMethods, 1, 7, 0, "v1"),
		rec(rechargekit.MirrorAddresses, 3, 7, 0, "v1"),
		rec(rechargekit.MirrorSubscriptions, 31, 8, 0, "v1"),
		customer(8, 0, "v1"),
	}
	MustPutMirror(t, s, recs...)
	// The customer's own record is missing so far.
	_, err := s.MirroredCustomer(t.Context(), 7)
	wantCode(t, "MirroredCustomer(only its other records held)", err, rechargekit.ENOTFOUND)
	_, err = s.MirroredCustomer(t.Context(), 6)
	wantCode(t, "MirroredCustomer(nothing held)", err, rechargekit.ENOTFOUND)

	cust := customer(7, 0, "v1")
	cust.SeenAt = time.Date(2026, 2, 2, 1, 2, 3, 456789999, time.FixedZone("CET", 3600))
	MustPutMirror(t, s, cust)
	want := []*rechargekit.MirrorRecord{stored(cust, c.Now())}
	for _, i := range []int{6, 3, 4, 1, 2, 5, 0} {
		want = append(want, stored(recs[i], c.Now()))
	}
	if diff := cmp.Diff(want, MustMirroredCustomer(t, s, 7)); diff != "" {
		t.Errorf("MirroredCustomer(7) (-want +got):\n%s", diff)
	}
}

func testMirrorSearch(t *testing.T, c *Clock, s rechargekit.MirrorStore, _ func() rechargekit.MirrorStore) {
	MustPutMirror(t, s,
		customer(1, 0, "v1", rechargekit.KeyEmail, "alex@example.com", rechargekit.KeyPhone, "+15551234567",
			rechargekit.KeyName, "alex", rechargekit.KeyName, "rivera", rechargekit.KeyName, "alex rivera",
			rechargekit.KeyExternalID, "6200000001"),
		rec(rechargekit.MirrorAddresses, 10, 1, 0, "v1", key(rechargekit.KeyZip, "94107"), key(rechargekit.KeyPhone, "+15559876543")),
		customer(2, 0, "v1", rechargekit.KeyEmail, "alexa@example.com", rechargekit.KeyName, "alexandra", rechargekit.KeyName, "rivers"),
		customer(3, 0, "v1", rechargekit.KeyName, "zoe", rechargekit.KeyZip, "941", rechargekit.KeyName, "zoe"), // a key twice
	)
	for _, tc := range []struct {
		key  rechargekit.SearchKey
		want []int64
	}{
		{key(rechargekit.KeyEmail, "alex@example.com"), []int64{1}},
		{key(rechargekit.KeyEmail, "alex@example"), nil}, // exact, not a prefix
		{key(rechargekit.KeyPhone, "+15551234567"), []int64{1}},
		{key(rechargekit.KeyPhone, "+15559876543"), []int64{1}}, // from the address
		{key(rechargekit.KeyPhone, "+1555"), nil},
		{key(rechargekit.KeyZip, "94107"), []int64{1}},
		{key(rechargekit.KeyZip, "941"), []int64{3}},
		{key(rechargekit.KeyCustomerID, "2"), []int64{2}},
		{key(rechargekit.KeyCustomerID, "20"), nil},
		{key(rechargekit.KeyExternalID, "6200000001"), []int64{1}},
		{key(rechargekit.KeyName, "alex"), []int64{2, 1}}, // a prefix
		{key(rechargekit.KeyName, "alex r"), []int64{1}},
		{key(rechargekit.KeyName, "river"), []int64{2, 1}},
		{key(rechargekit.KeyName, "riveras"), nil},
		{key(rechargekit.KeyName, "zoe"), []int64{3}},
		{key(rechargekit.KeyName, "Zoe"), nil}, // values come normalised
		{key(rechargekit.KeyEmail, "nobody@example.com"), nil},
		{key(rechargekit.KeyName, "alex@example.com"), nil}, // another kind's value
	} {
		got := customersFound(MustSearchMirror(t, s, 0, tc.key))
		if !slices.Equal(got, append([]int64{}, tc.want...)) {
			t.Errorf("SearchMirror(%s %q) = %v, want %v", tc.key.Kind, tc.key.Value, got, tc.want)
		}
	}
	if got := MustSearchMirror(t, s, 0); len(got) != 0 {
		t.Errorf("SearchMirror(no keys) = %v, want nothing", customersFound(got))
	}
}

func testMirrorSearchDedup(t *testing.T, c *Clock, s rechargekit.MirrorStore, _ func() rechargekit.MirrorStore) {
	MustPutMirror(t, s,
		customer(5, 0, "v1", rechargekit.KeyPhone, "+15551234567", rechargekit.KeyName, "sam", rechargekit.KeyName, "sam lee", rechargekit.KeyZip, "10001"),
		rec(rechargekit.MirrorAddresses, 50, 5, 0, "v1", key(rechargekit.KeyPhone, "+15551234567"), key(rechargekit.KeyName, "sam")),
		customer(9, 0, "v1", rechargekit.KeyName, "samantha", rechargekit.KeyZip, "10001"),
		customer(7, 0, "v1", rechargekit.KeyZip, "10001"),
	)
	hits := MustSearchMirror(t, s, 0,
		key(rechargekit.KeyZip, "10001"), key(rechargekit.KeyName, "sam"), key(rechargekit.KeyPhone, "+15551234567"), key(rechargekit.KeyZip, "10001"))
	want := []*rechargekit.MirrorHit{
		{CustomerID: 9, Key: key(rechargekit.KeyZip, "10001")},
		{CustomerID: 7, Key: key(rechargekit.KeyZip, "10001")},
		{CustomerID: 5, Key: key(rechargekit.KeyZip, "10001")},
	}
	if diff := cmp.Diff(want, hits); diff != "" {
		t.Errorf("search by zip, name and phone (-want +got):\n%s", diff)
	}
	// The first key that matched is the first one given; for a prefix,
	// the lowest stored value it matched.
	hits = MustSearchMirror(t, s, 0, key(rechargekit.KeyPhone, "+15551234567"), key(rechargekit.KeyName, "sam"))
	want = []*rechargekit.MirrorHit{
		{CustomerID: 9, Key: key(rechargekit.KeyName, "samantha")},
		{CustomerID: 5, Key: key(rechargekit.KeyPhone, "+15551234567")},
	}
	if diff := cmp.Diff(want, hits); diff != "" {
		t.Errorf("search by phone then name (-want +got):\n%s", diff)
	}
	hits = MustSearchMirror(t, s, 0, key(rechargekit.KeyName, "sam"))
	want = []*rechargekit.MirrorHit{
		{CustomerID: 9, Key: key(rechargekit.KeyName, "samantha")},
		{CustomerID: 5, Key: key(rechargekit.KeyName, "sam")},
	}
	if diff := cmp.Diff(want, hits); diff != "" {
		t.Errorf("search by a name prefix (-want +got):\n%s", diff)
	}
}

func testMirrorSearchLimits(t *testing.T, c *Clock, s rechargekit.MirrorStore, _ func() rechargekit.MirrorStore) {
	var recs []*rechargekit.MirrorRecord
	for id := int64(1); id <= 60; id++ {
		recs = append(recs, customer(id, 0, "v1", rechargekit.KeyName, fmt.Sprintf("pat %02d", id)))
	}
	MustPutMirror(t, s, recs...)
	for _, tc := range []struct{ limit, want int }{{0, 50}, {-1, 50}, {7, 7}, {55, 55}, {5000, 60}} {
		got := customersFound(MustSearchMirror(t, s, tc.limit, key(rechargekit.KeyName, "pat")))
		if len(got) != tc.want {
			t.Errorf("SearchMirror(limit %d) found %d customers, want %d", tc.limit, len(got), tc.want)
			continue
		}
		if got[0] != 60 || !slices.IsSortedFunc(got, func(a, b int64) int { return int(b - a) }) {
			t.Errorf("SearchMirror(limit %d) = %v, want the newest ids first", tc.limit, got)
		}
	}
}

func testMirrorSearchInvalid(t *testing.T, c *Clock, s rechargekit.MirrorStore, _ func() rechargekit.MirrorStore) {
	for _, k := range []rechargekit.SearchKey{
		key("shoe_size", "42"),
		key(rechargekit.KeyName, ""),
		key(rechargekit.KeyName, "bad\xffname"),
		key(rechargekit.KeyEmail, "a\x00@example.com"),
		key(rechargekit.KeyName, strings.Repeat("a", rechargekit.MaxTextLength+1)),
	} {
		_, err := s.SearchMirror(t.Context(), []rechargekit.SearchKey{key(rechargekit.KeyZip, "10001"), k}, 0)
		wantCode(t, fmt.Sprintf("SearchMirror(%q %q)", k.Kind, k.Value), err, rechargekit.EINVALID)
	}
}

func testMirrorCheckpoint(t *testing.T, c *Clock, s rechargekit.MirrorStore, _ func() rechargekit.MirrorStore) {
	for _, r := range rechargekit.MirrorResources {
		cp, err := s.MirrorCheckpoint(t.Context(), r)
		mustOK(t, "MirrorCheckpoint", err)
		if diff := cmp.Diff(&rechargekit.MirrorCheckpoint{Resource: r}, cp); diff != "" {
			t.Errorf("MirrorCheckpoint(%s) before any (-want +got):\n%s", r, diff)
		}
	}
	cp := &rechargekit.MirrorCheckpoint{
		Resource: rechargekit.MirrorSubscriptions, Cursor: "eyJsYXN0X2lkIjo0MiJ9", Records: 500,
		StartedAt: time.Date(2026, 2, 28, 23, 0, 0, 123456789, time.FixedZone("EST", -5*3600)), MaxID: 90000, LastID: 42,
	}
	mustOK(t, "SetMirrorCheckpoint", s.SetMirrorCheckpoint(t.Context(), cp))
	if !cp.UpdatedAt.Equal(at(c.Now())) {
		t.Errorf("SetMirrorCheckpoint set UpdatedAt %v, want the store's clock %v", cp.UpdatedAt, at(c.Now()))
	}
	want := *cp
	want.StartedAt = at(cp.StartedAt)
	got, err := s.MirrorCheckpoint(t.Context(), rechargekit.MirrorSubscriptions)
	mustOK(t, "MirrorCheckpoint", err)
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("checkpoint round trip (-want +got):\n%s", diff)
	}

	// Done, swept, and the cursor cleared: every field is replaced.
	c.Advance(time.Minute)
	cp = &rechargekit.MirrorCheckpoint{Resource: rechargekit.MirrorSubscriptions, Done: true, Records: 900,
		StartedAt: want.StartedAt, MaxID: 90000, LastID: 90000, SweptTo: want.StartedAt.Add(time.Hour)}
	mustOK(t, "SetMirrorCheckpoint", s.SetMirrorCheckpoint(t.Context(), cp))
	want = *cp
	want.UpdatedAt = at(c.Now())
	got, err = s.MirrorCheckpoint(t.Context(), rechargekit.MirrorSubscriptions)
	mustOK(t, "MirrorCheckpoint", err)
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("checkpoint after a second write (-want +got):\n%s", diff)
	}
	got, err = s.MirrorCheckpoint(t.Context(), rechargekit.MirrorCharges)
	mustOK(t, "MirrorCheckpoint", err)
	if diff := cmp.Diff(&rechargekit.MirrorCheckpoint{Resource: rechargekit.MirrorCharges}, got); diff != "" {
		t.Errorf("another resource's checkpoint (-want +got):\n%s", diff)
	}
}

func testMirrorCheckpointInvalid(t *testing.T, c *Clock, s rechargekit.MirrorStore, _ func() rechargekit.MirrorStore) {
	_, err := s.MirrorCheckpoint(t.Context(), "orders")
	wantCode(t, "MirrorCheckpoint(unknown resource)", err, rechargekit.EINVALID)
	for name, cp := range map[string]*rechargekit.MirrorCheckpoint{
		"nil":              nil,
		"unknown resource": {Resource: "orders"},
		"negative records": {Resource: rechargekit.MirrorCustomers, Records: -1},
		"negative id":      {Resource: rechargekit.MirrorCustomers, LastID: -1},
		"cursor not text":  {Resource: rechargekit.MirrorCustomers, Cursor: "a\nb"},
	} {
		wantCode(t, "SetMirrorCheckpoint("+name+")", s.SetMirrorCheckpoint(t.Context(), cp), rechargekit.EINVALID)
	}
}

func testMirrorStats(t *testing.T, c *Clock, s rechargekit.MirrorStore, _ func() rechargekit.MirrorStore) {
	st, err := s.MirrorStats(t.Context())
	mustOK(t, "MirrorStats", err)
	want := &rechargekit.MirrorStats{Records: map[string]int64{}, Checkpoints: map[string]*rechargekit.MirrorCheckpoint{}}
	for _, r := range rechargekit.MirrorResources {
		want.Records[r] = 0
		want.Checkpoints[r] = &rechargekit.MirrorCheckpoint{Resource: r}
	}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("MirrorStats of an empty mirror (-want +got):\n%s", diff)
	}

	MustPutMirror(t, s, customer(1, 0, "v1"), customer(2, 0, "v1"),
		rec(rechargekit.MirrorSubscriptions, 10, 1, 0, "v1"), rec(rechargekit.MirrorSubscriptions, 11, 1, 0, "v1"),
		rec(rechargekit.MirrorSubscriptions, 12, 2, 0, "v1"), rec(rechargekit.MirrorEvents, 13, 2, 0, "v1"))
	cp := &rechargekit.MirrorCheckpoint{Resource: rechargekit.MirrorCustomers, Done: true, Records: 2, StartedAt: at(mirrorT0), SweptTo: at(mirrorT0)}
	mustOK(t, "SetMirrorCheckpoint", s.SetMirrorCheckpoint(t.Context(), cp))
	ok, _, err := s.AcquireMirrorLease(t.Context(), "replica-a", c.Now(), 30*time.Second)
	mustOK(t, "AcquireMirrorLease", err)
	if !ok {
		t.Fatal("AcquireMirrorLease on a free lease refused")
	}
	st, err = s.MirrorStats(t.Context())
	mustOK(t, "MirrorStats", err)
	want.Records[rechargekit.MirrorCustomers], want.Records[rechargekit.MirrorSubscriptions], want.Records[rechargekit.MirrorEvents] = 2, 3, 1
	want.Checkpoints[rechargekit.MirrorCustomers] = cp
	want.Lease = &rechargekit.MirrorLease{Holder: "replica-a", Expires: at(c.Now().Add(30 * time.Second))}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("MirrorStats (-want +got):\n%s", diff)
	}
	// An expired lease is nobody's.
	c.Advance(31 * time.Second)
	st, err = s.MirrorStats(t.Context())
	mustOK(t, "MirrorStats", err)
	if st.Lease != nil {
		t.Errorf("MirrorStats after the lease expired shows %+v, want none", st.Lease)
	}
}

func testMirrorPurge(t *testing.T, c *Clock, s rechargekit.MirrorStore, _ func() rechargekit.MirrorStore) {
	MustPutMirror(t, s, customer(1, 0, "v1", rechargekit.KeyEmail, "ada@example.com"), rec(rechargekit.MirrorAddresses, 10, 1, 0, "v1"))
	mustOK(t, "SetMirrorCheckpoint", s.SetMirrorCheckpoint(t.Context(), &rechargekit.MirrorCheckpoint{Resource: rechargekit.MirrorCustomers, Done: true}))
	ok, _, err := s.AcquireMirrorLease(t.Context(), "replica-a", c.Now(), time.Minute)
	if err != nil || !ok {
		t.Fatalf("AcquireMirrorLease = %v, %v", ok, err)
	}
	mustOK(t, "PurgeMirror", s.PurgeMirror(t.Context()))
	_, err = s.MirroredCustomer(t.Context(), 1)
	wantCode(t, "MirroredCustomer after a purge", err, rechargekit.ENOTFOUND)
	if hits := MustSearchMirror(t, s, 0, key(rechargekit.KeyEmail, "ada@example.com")); len(hits) != 0 {
		t.Errorf("search after a purge finds %v", customersFound(hits))
	}
	st, err := s.MirrorStats(t.Context())
	mustOK(t, "MirrorStats", err)
	for _, r := range rechargekit.MirrorResources {
		if st.Records[r] != 0 || st.Checkpoints[r].Done {
			t.Errorf("after a purge %s has %d records and checkpoint %+v, want none", r, st.Records[r], st.Checkpoints[r])
		}
	}
	if st.Lease == nil || st.Lease.Holder != "replica-a" {
		t.Errorf("lease after a purge = %+v, want replica-a's still", st.Lease)
	}
	// The mirror fills again after a purge.
	if got := MustPutMirror(t, s, customer(1, 0, "v1")); !slices.Equal(got, []int64{1}) {
		t.Errorf("PutMirror after a purge changed %v, want [1]", got)
	}
}

// mustAcquire takes or renews the lease and checks the outcome.
func mustAcquire(t *testing.T, s rechargekit.MirrorStore, holder string, now time.Time, ttl time.Duration, wantOK bool, want rechargekit.MirrorLease) {
	t.Helper()
	ok, cur, err := s.AcquireMirrorLease(t.Context(), holder, now, ttl)
	mustOK(t, "AcquireMirrorLease("+holder+")", err)
	if ok != wantOK || cur == nil || cur.Holder != want.Holder || !cur.Expires.Equal(at(want.Expires)) || cur.Expires.Location() != time.UTC {
		t.Errorf("AcquireMirrorLease(%s, %v) = %v, %+v; want %v, %+v", holder, now, ok, cur, wantOK, want)
	}
}

func testMirrorLease(t *testing.T, c *Clock, s rechargekit.MirrorStore, _ func() rechargekit.MirrorStore) {
	now, ttl := c.Now(), 30*time.Second
	mustAcquire(t, s, "replica-a", now, ttl, true, rechargekit.MirrorLease{Holder: "replica-a", Expires: now.Add(ttl)})
	// Another replica is refused and told who holds it.
	mustAcquire(t, s, "replica-b", now.Add(10*time.Second), ttl, false, rechargekit.MirrorLease{Holder: "replica-a", Expires: now.Add(ttl)})
	// The holder renews.
	mustAcquire(t, s, "replica-a", now.Add(20*time.Second), ttl, true, rechargekit.MirrorLease{Holder: "replica-a", Expires: now.Add(50 * time.Second)})
	mustAcquire(t, s, "replica-b", now.Add(49*time.Second), ttl, false, rechargekit.MirrorLease{Holder: "replica-a", Expires: now.Add(50 * time.Second)})
	// Once expired, another replica takes it; the old holder is refused.
	mustAcquire(t, s, "replica-b", now.Add(50*time.Second), ttl, true, rechargekit.MirrorLease{Holder: "replica-b", Expires: now.Add(80 * time.Second)})
	mustAcquire(t, s, "replica-a", now.Add(51*time.Second), ttl, false, rechargekit.MirrorLease{Holder: "replica-b", Expires: now.Add(80 * time.Second)})
	// Only the holder's release frees it.
	mustOK(t, "ReleaseMirrorLease(not the holder)", s.ReleaseMirrorLease(t.Context(), "replica-a"))
	mustAcquire(t, s, "replica-a", now.Add(52*time.Second), ttl, false, rechargekit.MirrorLease{Holder: "replica-b", Expires: now.Add(80 * time.Second)})
	mustOK(t, "ReleaseMirrorLease", s.ReleaseMirrorLease(t.Context(), "replica-b"))
	mustAcquire(t, s, "replica-a", now.Add(53*time.Second), ttl, true, rechargekit.MirrorLease{Holder: "replica-a", Expires: now.Add(83 * time.Second)})
	mustOK(t, "ReleaseMirrorLease", s.ReleaseMirrorLease(t.Context(), "replica-a"))
	mustOK(t, "ReleaseMirrorLease(nobody holds it)", s.ReleaseMirrorLease(t.Context(), "replica-a"))
	st, err := s.MirrorStats(t.Context())
	mustOK(t, "MirrorStats", err)
	if st.Lease != nil {
		t.Errorf("lease after its release = %+v, want none", st.Lease)
	}
}

func testMirrorLeaseInvalid(t *testing.T, c *Clock, s rechargekit.MirrorStore, _ func() rechargekit.MirrorStore) {
	for _, tc := range []struct {
		holder string
		ttl    time.Duration
	}{{"", time.Minute}, {"  ", time.Minute}, {"a\nb", time.Minute}, {"replica-a", 0}, {"replica-a", -time.Second}} {
		_, _, err := s.AcquireMirrorLease(t.Context(), tc.holder, c.Now(), tc.ttl)
		wantCode(t, fmt.Sprintf("AcquireMirrorLease(%q, %s)", tc.holder, tc.ttl), err, rechargekit.EINVALID)
	}
}

// testMirrorLeaseRace has replicas on two handles take a free lease at
// once, then again once it expired: each time exactly one wins and every
// other is told the winner.
func testMirrorLeaseRace(t *testing.T, c *Clock, s rechargekit.MirrorStore, another func() rechargekit.MirrorStore) {
	s2 := another()
	now, ttl := c.Now(), 30*time.Second
	for round := range 2 {
		ok := make([]bool, RacingWriters)
		cur := make([]*rechargekit.MirrorLease, RacingWriters)
		errs := make([]error, RacingWriters)
		concurrently(RacingWriters, func(i int) {
			h := s
			if i%2 == 1 {
				h = s2
			}
			ok[i], cur[i], errs[i] = h.AcquireMirrorLease(t.Context(), fmt.Sprintf("replica-%d-%d", round, i), now, ttl)
		})
		var winners []int
		for i := range RacingWriters {
			mustOK(t, fmt.Sprintf("round %d: AcquireMirrorLease %d", round, i), errs[i])
			if ok[i] {
				winners = append(winners, i)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: %d of %d racing replicas took the lease, want exactly one", round, len(winners), RacingWriters)
		}
		want := rechargekit.MirrorLease{Holder: fmt.Sprintf("replica-%d-%d", round, winners[0]), Expires: at(now.Add(ttl))}
		for i := range RacingWriters {
			if cur[i] == nil || cur[i].Holder != want.Holder || !cur[i].Expires.Equal(want.Expires) {
				t.Errorf("round %d: replica %d was told %+v, want %+v", round, i, cur[i], want)
			}
		}
		now = now.Add(ttl) // the winner's lease expires
	}
}
