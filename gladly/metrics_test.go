package gladly_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
	"github.com/rechargekit/rechargekit/metrics/metricstest"
)

// TestHandlerMetrics checks that each lookup is counted once, by level and
// outcome: fresh, stale, not found, Recharge unavailable or refusing the
// token, past the deadline, a panic, and requests refused before a lookup.
func TestHandlerMetrics(t *testing.T) {
	t.Parallel()
	detailed := gladly.MustReadFile(t, filepath.Join("testdata", "requests", "detailed_nested_attributes.json"))
	search := gladly.MustReadFile(t, filepath.Join("testdata", "requests", "search_email.json"))
	cardErr := func(err error) *fakeService {
		return &fakeService{card: func(context.Context, int64) (*rechargekit.Card, error) { return nil, err }}
	}
	stale := &fakeService{card: func(_ context.Context, id int64) (*rechargekit.Card, error) {
		c := demoCard(id)
		c.Stale = true
		return c, nil
	}}
	hang := &fakeService{card: func(ctx context.Context, _ int64) (*rechargekit.Card, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	none := &fakeService{find: func(context.Context, rechargekit.CustomerSearch) ([]*rechargekit.Match, error) { return nil, nil }}
	panics := &fakeService{card: func(context.Context, int64) (*rechargekit.Card, error) { panic("boom") }}
	tests := []struct {
		name   string
		svc    *fakeService
		body   []byte
		tamper bool
		want   string
	}{
		{"fresh card", &fakeService{}, detailed, false, "lookup gladly DETAILED ok"},
		{"stale card", stale, detailed, false, "lookup gladly DETAILED stale"},
		{"customer deleted", cardErr(rechargekit.Errorf(rechargekit.ENOTFOUND, "gone")), detailed, false, "lookup gladly DETAILED not_found"},
		{"Recharge down", cardErr(rechargekit.Errorf(rechargekit.EUPSTREAM, "503")), detailed, false, "lookup gladly DETAILED unavailable"},
		{"token revoked", cardErr(rechargekit.UpstreamRefused("Recharge refused rechargekit's API token.", errors.New("recharge: 401"))), detailed, false, "lookup gladly DETAILED refused"},
		{"past the deadline", hang, detailed, false, "lookup gladly DETAILED unavailable"},
		{"panic", panics, detailed, false, "lookup gladly DETAILED error"},
		{"search, no match", none, search, false, "lookup gladly BASIC not_found"},
		{"bad signature", &fakeService{}, detailed, true, "lookup gladly unknown bad_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &metricstest.Recorder{}
			h := MustServer(t, tt.svc, func(c *gladly.Config) { c.Metrics = rec; c.Deadline = 100 * time.Millisecond })
			var changes []func(*http.Request)
			if tt.tamper {
				changes = append(changes, func(r *http.Request) {
					r.Header.Set(gladly.HeaderAuthorization, "SigningAlgorithm=hmac-sha256, SignedHeaders=gladly-time, Signature=00")
				})
			}
			h.post(t, tt.body, changes...)
			if got := rec.Counts(); len(got) != 1 || got[tt.want] != 1 {
				t.Errorf("counted %v, want %q once", got, tt.want)
			}
		})
	}
}
