package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/server"
)

// detailsProfiles is a ProfileService whose every profile is linked to one
// customer whose card has every section of the details.
type detailsProfiles struct{ card *rechargekit.Card }

func (p detailsProfiles) Open(_ context.Context, id string) (*rechargekit.ProfileView, error) {
	return &rechargekit.ProfileView{
		Profile: &rechargekit.Profile{ID: id, Name: "Alex Rivera"},
		Link:    &rechargekit.Link{ProfileID: id, CustomerID: p.card.Customer.ID, Method: rechargekit.LinkManual, By: "agent@example.com"},
		Card:    p.card,
	}, nil
}
func (p detailsProfiles) Link(context.Context, string, int64, string) (*rechargekit.Link, error) {
	return nil, rechargekit.Errorf(rechargekit.EINVALID, "not in this test")
}
func (p detailsProfiles) Unlink(context.Context, string, string) error { return nil }
func (p detailsProfiles) SaveProfile(context.Context, *rechargekit.Profile) (*rechargekit.Profile, bool, error) {
	return nil, false, rechargekit.Errorf(rechargekit.EINVALID, "not in this test")
}

func detailsCard() *rechargekit.Card {
	return &rechargekit.Card{
		Customer: rechargekit.Customer{ID: 183940021, Email: "alex.rivera@example.com", FirstName: "Alex", LastName: "Rivera"},
		Subscriptions: []*rechargekit.Subscription{{
			ID: 589553679, CustomerID: 183940021, AddressID: 195741005, Status: "active", NextChargeDate: "2026-12-15",
			Price: "49.50", Currency: "USD", Quantity: 1, Product: rechargekit.Product{ID: "7451895464087", Name: "Cat Pajamas"},
		}},
		FetchedAt: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC),
		Details:   testkit.Details(true),
	}
}

// TestAPICardDetails checks that GET /api/profiles/{id}/card carries every
// section of the card's details, money as strings with the currency, the
// "Open in Recharge" links only with a configured base, and no processor
// token.
func TestAPICardDetails(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"", "https://shop-sp.admin.rechargeapps.com"} {
		t.Run("admin base "+base, func(t *testing.T) {
			t.Parallel()
			card := detailsCard()
			card.Details.Unavailable[rechargekit.SectionEvents] = "The Recharge token may not read events."
			e := MustEnv(t, envOptions{
				Profiles: detailsProfiles{card},
				Config:   func(c *server.Config) { c.AdminLinks = rechargekit.AdminLinks{Base: base} },
			})
			api := apiClient{t: t, base: e.Srv.URL, token: MustAPIToken(t, e.Store, "desk")}
			code, body := api.do("GET", "/api/profiles/zd-1/card", "")
			if code != http.StatusOK {
				t.Fatalf("status %d %s", code, body)
			}
			var a struct {
				Card map[string]json.RawMessage `json:"card"`
			}
			if err := json.Unmarshal(body, &a); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"nextCharges", "payment", "recentOrders", "addresses", "events", "unavailable"} {
				if v, ok := a.Card[k]; !ok || string(v) == "null" || string(v) == "[]" {
					t.Errorf("card.%s = %s, want the section", k, v)
				}
			}
			var full struct {
				Card rechargekit.CardJSON `json:"card"`
			}
			if err := json.Unmarshal(body, &full); err != nil {
				t.Fatal(err)
			}
			got := full.Card
			if len(got.NextCharges) != 2 || *got.NextCharges[1].TotalPrice != "54.85" || *got.NextCharges[1].CurrencyCode != "USD" {
				t.Errorf("nextCharges = %s", a.Card["nextCharges"])
			}
			if got.Payment == nil || got.Payment.Healthy || len(got.Payment.Failing) != 1 ||
				got.Payment.Failing[0].Failure.Reason != "The card was declined" || *got.Payment.Failing[0].Failure.RetryAt != "2026-12-08T04:00:00Z" {
				t.Errorf("payment = %s", a.Card["payment"])
			}
			if got.Unavailable[rechargekit.SectionEvents] != "The Recharge token may not read events." {
				t.Errorf("unavailable = %s", a.Card["unavailable"])
			}
			_, hasLinks := a.Card["adminLinks"]
			switch {
			case base == "" && (hasLinks || strings.Contains(string(body), "/merchant/") || got.NextCharges[0].AdminURL != nil):
				t.Errorf("links without a base: %s", body)
			case base != "" && (got.AdminLinks == nil || got.AdminLinks.Customer != base+"/merchant/customers/183940021" ||
				got.AdminLinks.Subscriptions["589553679"] != base+"/merchant/subscriptions/589553679/details" ||
				got.NextCharges[0].AdminURL == nil || *got.NextCharges[0].AdminURL != base+"/merchant/orders/charges/1302050270"):
				t.Errorf("links = %s, charge link %v", a.Card["adminLinks"], got.NextCharges[0].AdminURL)
			}
			for _, tok := range append(testkit.ProcessorTokens(t), "processor", "Token\"") {
				if strings.Contains(string(body), tok) {
					t.Errorf("the answer holds %q: %s", tok, body)
				}
			}
		})
	}
}
