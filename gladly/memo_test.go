package gladly_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/rechargekit/rechargekit"
)

// A warm lookup gets the very card the cache holds; its answer is the one
// encoded the first time, with the id echoed as each request spelled it,
// and a new card (a refresh, or a stale copy) gets a new answer.
func TestHandlerDetailedAnswerMemo(t *testing.T) {
	t.Parallel()
	cached := demoCard(176728490)
	current := cached
	svc := &fakeService{card: func(ctx context.Context, id int64) (*rechargekit.Card, error) { return current, nil }}
	h := MustServer(t, svc, nil)
	detailed := func(id string) answer {
		return h.post(t, []byte(`{"lookupLevel":"DETAILED","query":{"externalCustomerId":"`+id+`"}}`))
	}

	first, again := detailed("176728490"), detailed("176728490")
	if !bytes.Equal(first.body, again.body) {
		t.Errorf("same card, different answers:\n%s\n%s", first.body, again.body)
	}
	if got := detailed("0176728490").results(t)[0].ExternalCustomerID; got != "0176728490" {
		t.Errorf("externalCustomerId = %q, want the requested spelling", got)
	}

	stale := *cached
	stale.Stale = true
	stale.Subscriptions = stale.Subscriptions[:1]
	current = &stale
	if got := detailed("176728490").results(t)[0].Transactions; len(got) != 1 {
		t.Errorf("a new card answered with %d transactions, want its 1", len(got))
	}
}
