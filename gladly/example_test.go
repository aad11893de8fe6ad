package gladly_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/gladly"
)

// exampleService is a one-customer CardService.
type exampleService struct{}

func (exampleService) Card(_ context.Context, id int64) (*rechargekit.Card, error) {
	if id != 42 {
		return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "no customer %d", id)
	}
	return &rechargekit.Card{Customer: rechargekit.Customer{ID: 42, Email: "pat@example.com"}}, nil
}

func (exampleService) FindCustomers(_ context.Context, q rechargekit.CustomerSearch) ([]*rechargekit.Match, error) {
	for _, e := range q.Emails {
		if strings.EqualFold(e, "pat@example.com") {
			return []*rechargekit.Match{{Customer: &rechargekit.Customer{ID: 42, Email: "pat@example.com"}, By: rechargekit.MatchEmail, Value: e}}, nil
		}
	}
	return nil, nil
}

// Example serves the Lookup Adaptor and plays Gladly against it: an
// auto-link suggestion, Gladly's link decision, then the detailed lookup
// Gladly sends right after linking.
func Example() {
	h, err := gladly.NewHandler(gladly.Config{
		Service:    exampleService{},
		SigningKey: "the-app-signing-key",
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle(gladly.DefaultPath, h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	gladlySide := &gladly.Client{URL: srv.URL + gladly.DefaultPath, SigningKey: "the-app-signing-key"}
	profile := gladly.Profile{ID: "p1", PrimaryEmailAddress: "pat@example.com"}
	ctx := context.Background()

	basic, err := gladlySide.AutoLink(ctx, profile.Domain())
	if err != nil {
		panic(err)
	}
	id, ok := gladly.WouldAutoLink(profile, basic.Results, []string{gladly.AutoLinkEmails})
	fmt.Println("link:", id, ok)

	detailed, err := gladlySide.Detailed(ctx, id, profile.Domain())
	if err != nil {
		panic(err)
	}
	fmt.Println("transactions:", len(detailed.Results[0].Transactions))
	// Output:
	// link: 42 true
	// transactions: 0
}
