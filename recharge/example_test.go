package recharge_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/rechargekit/rechargekit/recharge"
)

// A stand-in for Recharge, so that the example runs offline.
func fakeRecharge() *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /customers", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"next_cursor":null,"previous_cursor":null,"customers":[
			{"id":176728490,"email":"primary@email.com","subscriptions_active_count":8,"subscriptions_total_count":9}]}`)
	})
	mux.HandleFunc("GET /subscriptions", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("cursor") == "" {
			fmt.Fprint(w, `{"next_cursor":"b","previous_cursor":null,"subscriptions":[
				{"id":585061940,"status":"active","product_title":"Men's Wool Runner","next_charge_scheduled_at":"2025-02-25"}]}`)
			return
		}
		fmt.Fprint(w, `{"next_cursor":null,"previous_cursor":"a","subscriptions":[
			{"id":584850012,"status":"cancelled","product_title":"Men's Wool Runner","next_charge_scheduled_at":null}]}`)
	})
	mux.HandleFunc("GET /customers/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"errors":"Not Found"}`)
	})
	return httptest.NewServer(mux)
}

func Example() {
	srv := fakeRecharge()
	defer srv.Close()
	ctx := context.Background()

	// In production: recharge.NewClient(os.Getenv("RECHARGE_API_TOKEN")).
	c := recharge.NewClient("token", recharge.WithBaseURL(srv.URL))

	customers, _, err := c.Customers.List(ctx, &recharge.CustomerListOptions{Email: "primary@email.com", Limit: 25})
	if err != nil {
		log.Fatal(err)
	}
	for _, cust := range customers {
		fmt.Println("customer", cust.ID, *cust.SubscriptionsActiveCount, "of", *cust.SubscriptionsTotalCount, "active")
		// All follows next_cursor until it is null.
		for sub, err := range c.Subscriptions.All(ctx, &recharge.SubscriptionListOptions{CustomerID: int64(cust.ID), Limit: 250}) {
			if err != nil {
				log.Fatal(err)
			}
			fmt.Printf("  %d %s %q next=%q\n", sub.ID, sub.Status, sub.ProductTitle, sub.NextChargeScheduledAt)
		}
	}

	_, _, err = c.Customers.Get(ctx, 1, nil)
	fmt.Println(recharge.IsNotFound(err), err)
	// Output:
	// customer 176728490 8 of 9 active
	//   585061940 active "Men's Wool Runner" next="2025-02-25"
	//   584850012 cancelled "Men's Wool Runner" next=""
	// true recharge: GET /customers/1: 404 not found: Not Found
}

func ExampleValidateWebhook() {
	body := []byte(`{"subscription":{"id":585061940,"customer_id":176728490,"status":"cancelled"}}`)
	req := httptest.NewRequest(http.MethodPost, "/webhooks/recharge", nil)
	req.Header.Set(recharge.HeaderTopic, "subscription/cancelled")
	req.Header.Set(recharge.HeaderHmacSha256, recharge.SignWebhook("client-secret", body))

	if err := recharge.ValidateWebhook(req.Header, body, "client-secret", time.Now()); err != nil {
		fmt.Println("reject:", err)
		return
	}
	ev, err := recharge.ParseWebhook(req.Header.Get(recharge.HeaderTopic), body)
	if err != nil {
		fmt.Println("reject:", err)
		return
	}
	fmt.Println(ev.Topic, "customer", ev.CustomerID(), "subscription", ev.ObjectID())
	// Output: subscription/cancelled customer 176728490 subscription 585061940
}
