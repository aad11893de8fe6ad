package server_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/server"
)

// staleProfiles marks every card it opens as served stale from the cache,
// as cards.Cached does when Recharge cannot answer.
type staleProfiles struct{ rechargekit.ProfileService }

func (p staleProfiles) Open(ctx context.Context, id string) (*rechargekit.ProfileView, error) {
	v, err := p.ProfileService.Open(ctx, id)
	if v != nil && v.Card != nil {
		v.Card.Stale = true
	}
	return v, err
}

func TestStaleCardIsMarked(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, envOptions{Config: func(c *server.Config) { c.Profiles = staleProfiles{c.Profiles} }})
	b := e.Browser(t).MustLogin(agentEmail, agentPassword)
	p := b.Get("/profiles/" + profManual)
	mustContain(t, p.Body, `id="stale"`, "Recharge is not answering right now", "may be out of date")

	fresh := MustEnv(t).Browser(t).MustLogin(agentEmail, agentPassword).Get("/profiles/" + profManual)
	mustNotContain(t, fresh.Body, `id="stale"`)

	// The JSON API carries the same flag on the card.
	token, hash := server.NewAPIToken()
	if err := e.Store.CreateAPIToken(context.Background(), &rechargekit.APIToken{Name: "desk", Hash: hash}, "test"); err != nil {
		t.Fatal(err)
	}
	api := e.Browser(t)
	api.Header.Set("Authorization", "Bearer "+token)
	resp := api.Get("/api/profiles/" + profManual + "/card")
	var got struct {
		Card struct {
			Stale bool `json:"stale"`
		} `json:"card"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &got); err != nil || !got.Card.Stale {
		t.Errorf("API card stale = %v (%v): %s", got.Card.Stale, err, resp.Body)
	}
}
