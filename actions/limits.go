package actions

import (
	"context"
	"fmt"

	"github.com/rechargekit/rechargekit"
)

// TokenLimits implements rechargekit.ActionService. It reads the token's
// scopes through the same cache as Offers (one token_information call at
// most per ScopesTTL while they can be read) and judges each action with
// the same rule.
func (s *Service) TokenLimits(ctx context.Context) ([]rechargekit.ActionOffer, error) {
	scopes, err := s.readScopes(ctx)
	if err != nil {
		return nil, rechargekit.WrapError(rechargekit.EUPSTREAM,
			"Could not check the Recharge token's permissions right now.",
			fmt.Errorf("actions: read token scopes: %w", err))
	}
	out := make([]rechargekit.ActionOffer, 0, len(rechargekit.AllActions()))
	for _, a := range rechargekit.AllActions() {
		o := rechargekit.ActionOffer{Action: a, Offered: true}
		if missing := missingScope(scopes, a); missing != "" {
			o.Offered, o.Why = false, lacksWhy(missing)
		}
		out = append(out, o)
	}
	return out, nil
}
