package postgres

import (
	"net/url"
	"strings"
	"testing"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/internal/faultnet"
)

// TestDatabaseDown puts a proxy between the store and the real PostgreSQL
// and makes it refuse, as a server that is down does: the store's pooled
// connections are cut, and new ones are closed at once. Every call, the
// first on a cut pooled connection included (its driver reads an
// unexpected EOF), must fail with EUPSTREAM and the store's sentence, not
// as an internal error.
func TestDatabaseDown(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(MustSchemaURL(t))
	if err != nil || !strings.HasPrefix(u.Scheme, "postgres") {
		t.Skipf("RECHARGEKIT_TEST_POSTGRES is not a postgres:// URL (%v): the proxy needs its host", err)
	}
	proxy := faultnet.New(t, u.Host)
	u.Host = proxy.Addr()
	s := MustOpen(t, u.String())
	ctx := t.Context()
	if _, err := s.UpsertProfile(ctx, &rechargekit.Profile{ID: "p", Name: "Ada"}); err != nil {
		t.Fatal(err)
	}

	proxy.SetMode(faultnet.Refuse)
	for i := range 3 {
		_, err := s.Profile(ctx, "p")
		if rechargekit.ErrorCode(err) != rechargekit.EUPSTREAM || rechargekit.ErrorMessage(err) != "The database is not answering right now." {
			t.Errorf("call %d with the database down: %v, want EUPSTREAM saying the database is not answering", i+1, err)
		}
	}

	proxy.SetMode(faultnet.Pass)
	if p, err := s.Profile(ctx, "p"); err != nil || p.Name != "Ada" {
		t.Errorf("once the database is back, Profile = %+v, %v", p, err)
	}
}
