package server_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/server"
)

// callCounter counts the store calls the profile list could make per row
// and per page.
type callCounter struct {
	rechargekit.Store
	perRow, searches atomic.Int32
}

func (c *callCounter) Link(ctx context.Context, id string) (*rechargekit.Link, error) {
	c.perRow.Add(1)
	return c.Store.Link(ctx, id)
}

func (c *callCounter) WasUnlinked(ctx context.Context, id string) (bool, error) {
	c.perRow.Add(1)
	return c.Store.WasUnlinked(ctx, id)
}

func (c *callCounter) SearchProfileSummaries(ctx context.Context, q string, limit int) ([]*rechargekit.ProfileSummary, error) {
	c.searches.Add(1)
	return c.Store.SearchProfileSummaries(ctx, q, limit)
}

// TestProfileListOneStoreCall checks that the profile list reads its rows,
// link states included, with one store call, not one or two per profile.
func TestProfileListOneStoreCall(t *testing.T) {
	t.Parallel()
	var counter *callCounter
	e := MustEnv(t, envOptions{Config: func(c *server.Config) {
		counter = &callCounter{Store: c.Store}
		c.Store = counter
	}})
	b := e.Browser(t).MustLogin(agentEmail, agentPassword)
	counter.perRow.Store(0)
	p := b.Get("/profiles")
	if p.Status != http.StatusOK {
		t.Fatalf("/profiles = %d", p.Status)
	}
	mustContain(t, p.Body, "Alex Rivera", "Linked by hand", "Unlinked", "Not linked")
	if n, s := counter.perRow.Load(), counter.searches.Load(); n != 0 || s != 1 {
		t.Errorf("the profile list made %d per-profile store calls and %d searches, want 0 and 1", n, s)
	}
}
