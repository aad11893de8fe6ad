package sqlite_test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
)

// page returns a backfill page of 250 customers from first on, each with
// a document of about a kilobyte and the keys a customer has.
func page(first int64) []*rechargekit.MirrorRecord {
	recs := make([]*rechargekit.MirrorRecord, 0, 250)
	for id := first; id < first+250; id++ {
		doc := fmt.Appendf(nil, `{"id":%d,"email":"customer%d@example.com","first_name":"Pat","last_name":"Doe %d","phone":"+1555%07d",`+
			`"external_customer_id":{"ecommerce":"%d"},"created_at":"2026-01-02T03:04:05+00:00","updated_at":"2026-01-02T03:04:05+00:00",`+
			`"subscriptions_active_count":2,"subscriptions_total_count":3,"has_valid_payment_method":true,"tax_exempt":false,"analytics_data":{"utm_params":[]},`+
			`"apply_credit_to_next_recurring_charge":false,"has_payment_method_in_dunning":false,"phone_verified":false,"padding":"%0500d"}`,
			id, id, id, id, 6200000000+id, id)
		recs = append(recs, &rechargekit.MirrorRecord{
			Resource: rechargekit.MirrorCustomers, ID: id, CustomerID: id,
			UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Doc: doc,
			Keys: []rechargekit.SearchKey{
				{Kind: rechargekit.KeyEmail, Value: fmt.Sprintf("customer%d@example.com", id)},
				{Kind: rechargekit.KeyPhone, Value: fmt.Sprintf("+1555%07d", id)},
				{Kind: rechargekit.KeyName, Value: "pat"},
				{Kind: rechargekit.KeyName, Value: fmt.Sprintf("doe %d", id)},
				{Kind: rechargekit.KeyName, Value: fmt.Sprintf("pat doe %d", id)},
				{Kind: rechargekit.KeyCustomerID, Value: strconv.FormatInt(id, 10)},
				{Kind: rechargekit.KeyExternalID, Value: strconv.FormatInt(6200000000+id, 10)},
			},
		})
	}
	return recs
}

// BenchmarkPutMirror250 writes backfill pages of 250 new customers with
// their keys, one PutMirror (one transaction) per page, and pages that
// hold the same versions again, as a resumed backfill re-reads one.
func BenchmarkPutMirror250(b *testing.B) {
	s := MustOpen(b, filepath.Join(b.TempDir(), "rechargekit.db"))
	b.Run("new", func(b *testing.B) {
		next := int64(1)
		for b.Loop() {
			if _, err := s.PutMirror(b.Context(), page(next)); err != nil {
				b.Fatal(err)
			}
			next += 250
		}
		b.ReportMetric(float64(b.N*250)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("seen-again", func(b *testing.B) {
		recs := page(1)
		if _, err := s.PutMirror(b.Context(), recs); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			changed, err := s.PutMirror(b.Context(), recs)
			if err != nil || len(changed) != 0 {
				b.Fatal(changed, err)
			}
		}
		b.ReportMetric(float64(b.N*250)/b.Elapsed().Seconds(), "records/s")
	})
}
