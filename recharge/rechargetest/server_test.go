package rechargetest

import (
	"context"
	"testing"
)

func TestServerClient(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, Config{Now: newClock().Now})
	srv.Load(DemoSeed())
	client := srv.Client()
	if client.BaseURL() != srv.URL {
		t.Fatalf("client base URL %q, want %q", client.BaseURL(), srv.URL)
	}
	// One real round trip through the client: the token and the version
	// header reach the simulator, and the answer decodes.
	c, _, err := client.Customers.Get(context.Background(), DemoAlexRiveraID, nil)
	if err != nil {
		t.Fatalf("Customers.Get: %v", err)
	}
	if c == nil || int64(c.ID) != DemoAlexRiveraID || c.Email != "alex.rivera@example.com" {
		t.Errorf("customer = %+v", c)
	}
	if st := srv.Stats(); st.Requests != 1 || st.ByRoute["GET /customers/{id}"] != 1 || st.ByStatus["200"] != 1 {
		t.Errorf("stats = %+v", st)
	}
}
