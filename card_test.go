package rechargekit_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/internal/testkit"
)

func ptr[T any](v T) *T { return &v }

func demoCard() *rechargekit.Card {
	cancelled := time.Date(2025, 3, 11, 10, 19, 18, 637636000, time.FixedZone("", 2*3600))
	return &rechargekit.Card{
		Customer: rechargekit.Customer{
			ID: 183940021, ExternalID: "7923224739991", Email: "alex.rivera@example.com",
			FirstName: " Alex ", LastName: "Rivera", Phone: "+15551234567",
			SubscriptionsTotal: ptr(2), SubscriptionsActive: ptr(1),
		},
		Subscriptions: []*rechargekit.Subscription{
			{
				ID: 585061940, CustomerID: 183940021, Status: "active",
				CreatedAt: time.Date(2025, 1, 26, 15, 20, 33, 0, time.UTC), UpdatedAt: time.Date(2025, 1, 26, 15, 20, 33, 0, time.UTC),
				ChargeIntervalFrequency: 1, OrderIntervalFrequency: 1, IntervalUnit: "month", NextChargeDate: "2025-02-25",
				Price: "25.00", Currency: "USD", Quantity: 1,
				Product: rechargekit.Product{ID: "8143925215383", VariantID: "43510687465623", Name: "Dog Lovers T-Shirt",
					VariantName: "Large / Heather Grey", SKU: "DOG-TEE-L", ImageURL: "https://cdn.example.com/dog-tee_medium.png"},
			},
			{
				ID: 585061941, CustomerID: 183940021, Status: "CANCELLED",
				CreatedAt: time.Date(2024, 11, 2, 9, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2025, 3, 11, 8, 19, 18, 0, time.UTC),
				ChargeIntervalFrequency: 30, OrderIntervalFrequency: 30, IntervalUnit: "day",
				CancelledAt: &cancelled, CancellationReason: "Too many pajamas", CancellationReasonComments: "Will come back in winter",
				Price: "49.50", Quantity: 1,
				Product: rechargekit.Product{ID: "7451895464087", Name: "Cat Pajamas", VariantName: "Large", SKU: "111-3"},
			},
		},
		FetchedAt: time.Date(2025, 3, 12, 0, 0, 0, 0, time.UTC),
	}
}

func TestCardJSONGolden(t *testing.T) {
	t.Parallel()
	got, err := json.MarshalIndent(demoCard(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, "card.golden", append(got, '\n'))
}

func TestTransactionFollowsStatus(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 11, 10, 19, 18, 0, time.UTC)
	tests := []struct {
		name                   string
		sub                    rechargekit.Subscription
		wantNext, wantCanceled bool
		wantImage              bool
	}{
		{"active keeps its next date, drops a leftover cancelled_at", rechargekit.Subscription{Status: "active", NextChargeDate: "2025-04-01", CancelledAt: &at, Product: rechargekit.Product{ImageURL: "https://cdn.example.com/a.png"}}, true, false, true},
		{"cancelled drops a next date", rechargekit.Subscription{Status: "cancelled", NextChargeDate: "2025-04-01", CancelledAt: &at}, false, true, false},
		{"expired keeps no cancelled date", rechargekit.Subscription{Status: "expired", CancelledAt: &at}, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx := tt.sub.Transaction()
			if (tx.NextBillingDate != nil) != tt.wantNext || (tx.CanceledAt != nil) != tt.wantCanceled || (tx.Products[0].ImageURL != nil) != tt.wantImage {
				t.Errorf("nextBillingDate %v, canceledAt %v, imageUrl %v", tx.NextBillingDate, tx.CanceledAt, tx.Products[0].ImageURL)
			}
		})
	}
}

func TestTransactionKeysAlwaysPresent(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal((&rechargekit.Subscription{ID: 7}).Transaction())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	keys := []string{"type", "subscriptionId", "status", "createdAt", "updatedAt", "billingIntervalFrequency",
		"billingIntervalUnit", "deliveryIntervalFrequency", "nextBillingDate", "canceledAt", "cancellationReason",
		"cancellationReasonComments", "price", "currencyCode", "quantity", "products"}
	if len(m) != len(keys) {
		t.Errorf("transaction has %d keys, want %d: %s", len(m), len(keys), b)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("key %q missing from %s", k, b)
		}
	}
	if m["subscriptionId"] != "7" || m["type"] != "SUBSCRIPTION" || m["price"] != nil {
		t.Errorf("unexpected values in %s", b)
	}
	products, _ := m["products"].([]any)
	if len(products) != 1 {
		t.Fatalf("products = %v, want exactly one", m["products"])
	}
	for _, k := range []string{"id", "variantId", "name", "variantName", "sku", "imageUrl"} {
		if v, ok := products[0].(map[string]any)[k]; !ok || v != nil {
			t.Errorf("product key %q = %v, present %v; want null", k, v, ok)
		}
	}
}

func TestSortSubscriptions(t *testing.T) {
	t.Parallel()
	at := func(h int) time.Time { return time.Date(2025, 1, 1, h, 0, 0, 0, time.UTC) }
	subs := []*rechargekit.Subscription{
		{ID: 1, Status: "paused", CreatedAt: at(9)},
		{ID: 2, Status: "expired", CreatedAt: at(9)},
		{ID: 3, Status: "Cancelled", CreatedAt: at(1)},
		{ID: 4, Status: "cancelled", CreatedAt: at(2)},
		{ID: 5, Status: "active", CreatedAt: at(1)},
		{ID: 6, Status: "ACTIVE", CreatedAt: at(1)},
		{ID: 7, Status: "active", CreatedAt: at(3)},
	}
	rechargekit.SortSubscriptions(subs)
	var got []int64
	for _, s := range subs {
		got = append(got, s.ID)
	}
	if diff := cmp.Diff([]int64{7, 6, 5, 4, 3, 2, 1}, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	t.Parallel()
	cause := errors.New("dial tcp: connection refused")
	wrapped := fmt.Errorf("lookup: %w", rechargekit.WrapError(rechargekit.EUPSTREAM, "Recharge is unavailable", cause))
	tests := []struct {
		name             string
		err              error
		code, message    string
		unwrapsToTheCase bool
	}{
		{"nil", nil, "", "", false},
		{"plain error is internal and hidden", cause, rechargekit.EINTERNAL, "An internal error occurred.", true},
		{"domain error through a wrap", wrapped, rechargekit.EUPSTREAM, "Recharge is unavailable", true},
		{"errorf", rechargekit.Errorf(rechargekit.ENOTFOUND, "no customer %d", 5), rechargekit.ENOTFOUND, "no customer 5", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rechargekit.ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode = %q, want %q", got, tt.code)
			}
			if got := rechargekit.ErrorMessage(tt.err); got != tt.message {
				t.Errorf("ErrorMessage = %q, want %q", got, tt.message)
			}
			if got := errors.Is(tt.err, cause); got != tt.unwrapsToTheCase {
				t.Errorf("errors.Is(err, cause) = %v, want %v", got, tt.unwrapsToTheCase)
			}
		})
	}
}

// TestUpstreamRefused checks that Recharge refusing rechargekit's token is
// an upstream failure for every surface's code table, while the refusal
// stays findable, with the client's own error, for the surfaces that tell
// an admin about it.
func TestUpstreamRefused(t *testing.T) {
	t.Parallel()
	cause := errors.New("recharge: GET /customers/1: 401 unauthorized")
	for _, tt := range []struct {
		name    string
		err     error
		refused bool
		outcome string
	}{
		{"refused with the client's error", fmt.Errorf("card: %w", rechargekit.UpstreamRefused("Recharge refused rechargekit's API token.", cause)), true, rechargekit.OutcomeRefused},
		{"refused without a cause", rechargekit.UpstreamRefused("Recharge refused rechargekit's API token.", nil), true, rechargekit.OutcomeRefused},
		{"Recharge down", rechargekit.WrapError(rechargekit.EUPSTREAM, "Recharge is unavailable.", cause), false, rechargekit.OutcomeUnavailable},
		{"the caller's credentials", rechargekit.Errorf(rechargekit.EUNAUTHORIZED, "Send an API token."), false, rechargekit.OutcomeBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := errors.Is(tt.err, rechargekit.ErrUpstreamRefused); got != tt.refused {
				t.Errorf("errors.Is(err, ErrUpstreamRefused) = %v, want %v", got, tt.refused)
			}
			if got := rechargekit.OutcomeOf(tt.err); got != tt.outcome {
				t.Errorf("OutcomeOf = %q, want %q", got, tt.outcome)
			}
			if tt.refused {
				if code := rechargekit.ErrorCode(tt.err); code != rechargekit.EUPSTREAM {
					t.Errorf("ErrorCode = %q, want %q", code, rechargekit.EUPSTREAM)
				}
				if got := rechargekit.ErrorMessage(tt.err); got != "Recharge refused rechargekit's API token." {
					t.Errorf("ErrorMessage = %q", got)
				}
			}
			if tt.name == "refused with the client's error" {
				if !errors.Is(tt.err, cause) {
					t.Error("the client's error was lost from the chain")
				}
				want := "card: rechargekit: upstream: Recharge refused rechargekit's API token: recharge refused the api token: " + cause.Error()
				if got := tt.err.Error(); got != want {
					t.Errorf("Error() = %q, want %q", got, want)
				}
			}
		})
	}
}

func TestCustomerName(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ first, last, want string }{
		{"Alex", "Rivera", "Alex Rivera"}, {" Alex ", "", "Alex"}, {"", " Rivera", "Rivera"}, {"", "", ""},
	} {
		c := rechargekit.Customer{FirstName: tt.first, LastName: tt.last}
		if got := c.Name(); got != tt.want {
			t.Errorf("Name(%q, %q) = %q, want %q", tt.first, tt.last, got, tt.want)
		}
	}
}

func TestDistinctEmails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []string
		max  int
		want []string
	}{
		{"nil", nil, 5, nil},
		{"trim, dedupe, keep first spelling", []string{" B@x ", "b@X", "a@x", ""}, 0, []string{"B@x", "a@x"}},
		{"cap", []string{"1@x", "2@x", "1@X", "3@x"}, 2, []string{"1@x", "2@x"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, rechargekit.DistinctEmails(tt.in, tt.max)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestSafeURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"https://cdn.example.com/a.png?v=1", "https://cdn.example.com/a.png?v=1"},
		{"http://cdn.example.com/a.png", "http://cdn.example.com/a.png"},
		{"  HTTPS://cdn.example.com/a.png ", "https://cdn.example.com/a.png"},
		{"javascript:alert(1)", ""},
		{"JaVaScRiPt:alert(1)", ""},
		{" javascript:alert(1)", ""},
		{"java\tscript:alert(1)", ""},
		{"data:image/png;base64,AAAA", ""},
		{"data:text/html,<script>alert(1)</script>", ""},
		{"file:///etc/passwd", ""},
		{"ftp://example.com/a.png", ""},
		{"//evil.example/a.png", ""},
		{"/relative.png", ""},
		{"https:///nohost.png", ""},
		{"https://user:pw@example.com/a.png", ""},
		{"https://example.com/a b.png", ""},
		{"https://example.com/\x00.png", ""},
		{"", ""},
		{"https://example.com/" + strings.Repeat("a", 3000), ""},
	} {
		if got := rechargekit.SafeURL(tc.in); got != tc.want {
			t.Errorf("rechargekit.SafeURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
