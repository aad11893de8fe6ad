package recharge

import (
	"strings"
	"testing"
)

// TestChargeErrorLineDropsProcessorTokens: Recharge keeps the processor's
// message as a failed charge's error, and Stripe's messages name the token
// they could not use ("No such customer: 'cus_…'"). The card shows that
// text, so the tokens in it are replaced; the rest stays, for the agent.
func TestChargeErrorLineDropsProcessorTokens(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"No such customer: 'cus_Qjn9xF0V7wkyvZ'", "No such customer: '[token]'"},
		{"No such PaymentMethod: 'pm_1PrsKBGFzsjrzPXDStVUN51b'; It's possible this PaymentMethod exists on one of your connected accounts.",
			"No such PaymentMethod: '[token]'; It's possible this PaymentMethod exists on one of your connected accounts."},
		{`{"message":"Cannot charge a customer that has no active card (cus_simtok5eb18b1c4ee3, card_1AbCdEfGhIjKl)"}`,
			"Cannot charge a customer that has no active card ([token], [token])"},
		{"src_1AbcDefGhi and ba_1AbcDefGhi and tok_1AbcDefGhi and seti_1AbcDefGhi", "[token] and [token] and [token] and [token]"},
		// Words that only look alike stay.
		{"Your card was declined.", "Your card was declined."},
		{"card_declined: insufficient funds (code pm_x)", "card_declined: insufficient funds (code pm_x)"},
		{"discount_code SUMMER_SALE", "discount_code SUMMER_SALE"},
	} {
		if got := chargeErrorLine(tc.in); got != tc.want {
			t.Errorf("chargeErrorLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
		for _, p := range []string{"cus_Q", "pm_1", "cus_simtok", "card_1", "src_1", "ba_1", "tok_1", "seti_1"} {
			if strings.Contains(chargeErrorLine(tc.in), p) {
				t.Errorf("chargeErrorLine(%q) still holds %s…", tc.in, p)
			}
		}
	}
}
