package main

import (
	"context"
	"fmt"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// Demo desk profiles, one per case the console must show.
const (
	demoProfileAutoLink   = "alex-rivera"  // exactly one Recharge customer has its email: auto-links on open
	demoProfileTwoMatches = "sam-taylor"   // two emails, two Recharge accounts: the agent picks
	demoProfileNoMatch    = "jamie-doe"    // no Recharge customer has its email
	demoProfileManual     = "priya-patel"  // linked by hand by an agent
	demoProfileUnlinked   = "chris-morgan" // linked once, then unlinked: never auto-linked again
	demoProfileMany       = "morgan-blake" // linked by hand; 60 subscriptions
	// demoProfileFailing links itself on open, like demoProfileAutoLink:
	// a failing payment with its retry date, the customer in dunning.
	demoProfileFailing = "riley-brooks"
	// demoProfileShipment is linked by hand: a next shipment with a
	// discount, a one-time product and a skipped line, and a card that
	// expires next month.
	demoProfileShipment = "jamie-park"
)

// Demo users.
const (
	demoAdminEmail = "admin@example.com"
	demoAgentEmail = "agent@example.com"
)

// demoProfiles are the desk profiles the demo seeds.
var demoProfiles = []*rechargekit.Profile{
	{ID: demoProfileAutoLink, Name: "Alex Rivera", Emails: []string{"alex.rivera@example.com"}, Phones: []string{"+15551234567"}},
	{ID: demoProfileTwoMatches, Name: "Sam Taylor", Emails: []string{"sam.taylor@example.com", "sam.t@example.org"}, Phones: []string{"+15550142201"}},
	{ID: demoProfileNoMatch, Name: "Jamie Doe", Emails: []string{"jamie.doe@example.net"}, Phones: []string{"+15550100999"}},
	{ID: demoProfileManual, Name: "Priya Patel", Emails: []string{"priya.p@example.net"}, Phones: []string{"+15550142204"}},
	{ID: demoProfileUnlinked, Name: "Chris Morgan", Emails: []string{"chris.morgan@example.com"}},
	{ID: demoProfileMany, Name: "Morgan Blake", Emails: []string{"m.blake@example.net"}},
	{ID: demoProfileFailing, Name: "Riley Brooks", Emails: []string{"riley.brooks@example.com"}, Phones: []string{"+15550142231"}},
	{ID: demoProfileShipment, Name: "Jamie Park", Emails: []string{"jamie.p@example.net"}, Phones: []string{"+15550142232"}},
}

// seedDemoDesk fills an empty store with the demo profiles, their link
// states and two users, and returns the users' generated passwords.
func seedDemoDesk(ctx context.Context, store rechargekit.Store) (adminPassword, agentPassword string, err error) {
	for _, p := range demoProfiles {
		if _, err := store.UpsertProfile(ctx, p); err != nil {
			return "", "", fmt.Errorf("seed profile %s: %w", p.ID, err)
		}
	}
	links := []*rechargekit.Link{
		{ProfileID: demoProfileManual, CustomerID: rechargetest.DemoOnlyExpiredID, Method: rechargekit.LinkManual, By: demoAgentEmail},
		{ProfileID: demoProfileUnlinked, CustomerID: rechargetest.DemoFreeTextPhoneID, Method: rechargekit.LinkManual, By: demoAgentEmail},
		{ProfileID: demoProfileMany, CustomerID: rechargetest.DemoManySubscriptionsID, Method: rechargekit.LinkManual, By: demoAdminEmail},
		{ProfileID: demoProfileShipment, CustomerID: rechargetest.DemoNextShipmentID, Method: rechargekit.LinkManual, By: demoAgentEmail},
	}
	for _, l := range links {
		if err := store.CreateLink(ctx, l); err != nil {
			return "", "", fmt.Errorf("seed link of %s: %w", l.ProfileID, err)
		}
	}
	if err := store.DeleteLink(ctx, demoProfileUnlinked, demoAgentEmail); err != nil {
		return "", "", fmt.Errorf("seed unlink: %w", err)
	}
	if adminPassword, err = addUser(ctx, store, demoAdminEmail, rechargekit.RoleAdmin); err != nil {
		return "", "", err
	}
	if agentPassword, err = addUser(ctx, store, demoAgentEmail, rechargekit.RoleAgent); err != nil {
		return "", "", err
	}
	return adminPassword, agentPassword, nil
}
