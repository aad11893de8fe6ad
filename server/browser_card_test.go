package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rechargekit/rechargekit"
)

// TestBrowserCardDetails opens the whole-picture card of a customer whose
// payment failed and whose next shipment has several lines and a
// discount, checks what an agent reads at desk and phone widths, presses
// the refresh button, and saves screenshots of the failed payment, the
// shipment and the phone-width card.
func TestBrowserCardDetails(t *testing.T) {
	t.Parallel()
	chromePath(t)
	now := time.Now().UTC()
	e, dc := MustDetailsEnv(t, alexDetails(t, now), rechargekit.AdminLinks{Base: adminBase})
	e.Clock.Set(now)
	c := MustChrome(t, e, 120*time.Second)
	c.signIn(agentEmail, agentPassword)

	c.do("open Alex Rivera", chromedp.Navigate(c.base+"/profiles/"+profAlex), chromedp.WaitVisible(chromedp.ID("payment")))
	wantText(t, "failed payment", c.text("#payment"), "1 charge has failed.", "In dunning", "The card was declined.",
		"Your card was declined.", "ATTEMPTS", "2", "NEXT RETRY", "in 3 days", "Visa", "•••• 0001", "Expires soon")
	wantText(t, "next shipment", c.text("#shipment-1302050269"), "in 5 days", "Dog Lovers T-Shirt", "Large / Heather Grey",
		"Dog Dental Chews", "Skipped", "Tennis Ball Launcher", "One-time", "WELCOME10 (10% off) −4.40 USD",
		"39.60 USD", "not final", "1001 Everglades Avenue", "Open in Recharge")
	wantText(t, "subscription", c.text(`.sub[data-subscription-id="585062092"]`), "In the next shipment", "ships to 1001 Everglades Avenue, Auburn")
	// The eye lands on the payment problem: it is at the top of the card,
	// above the subscriptions, on a desk-sized window without scrolling.
	if !c.eval(`document.getElementById('payment').getBoundingClientRect().top < document.querySelector('.subs').getBoundingClientRect().top`) ||
		!c.eval(`document.getElementById('payment').getBoundingClientRect().top < window.innerHeight`) {
		t.Error("the failed payment is not at the top of the card")
	}
	if !c.eval(`getComputedStyle(document.querySelector('.line--skipped .line__title')).textDecorationLine.includes('line-through')`) {
		t.Error("the skipped line is not struck through: the stylesheet did not apply")
	}
	c.imagesLoaded()
	if !c.eval(`Array.from(document.querySelectorAll('#shipment-1302050269 .line__img')).every(i => i.naturalWidth > 0)`) {
		t.Error("a shipment line's image did not load through the image proxy")
	}
	c.shoot("card-01-failed-payment.png", "#payment")
	c.shoot("card-02-next-shipment-discount.png", "#shipment-1302050269")
	c.shoot("card-03-whole-picture.png", "")

	// The collapsed sections open on demand and fit at phone widths.
	c.eval(`(document.querySelectorAll('#picture-below details').forEach(d => d.open = true), true)`)
	for _, width := range []int64{320, 360, 390} {
		c.do(fmt.Sprintf("a %d px screen", width), chromedp.EmulateViewport(width, 740))
		if !c.eval(`document.documentElement.scrollWidth <= window.innerWidth`) {
			t.Errorf("the card scrolls sideways at %d px", width)
		}
		outside, err := chromedp.Run(c.ctx, chromedp.Evaluate[[]string](outsideJS))
		if err != nil {
			t.Fatalf("measure at %d px: %v", width, err)
		}
		for _, o := range outside {
			t.Errorf("card at %d px: %s", width, o)
		}
		c.shoot(fmt.Sprintf("card-04-phone-%d.png", width), "")
		if width == 360 {
			c.shoot("card-04-phone-360-payment.png", "#payment")
			c.shoot("card-04-phone-360-shipment.png", "#shipment-1302050269")
			c.shoot("card-04-phone-360-below.png", "#picture-below")
		}
	}
	c.do("wide screen", chromedp.EmulateViewport(1280, 900))

	// The refresh button re-reads the card and comes back to it.
	c.do("refresh", chromedp.Click(chromedp.ID("refresh")), chromedp.WaitVisible(chromedp.CSS(".flash--success")))
	wantText(t, "refresh notice", c.text(".flash--success"), "Read again from Recharge just now.")
	if got := dc.Invalidated(); len(got) != 1 {
		t.Errorf("the refresh button invalidated %v, want Alex's card once", got)
	}
	c.checkProblems()
}

// TestBrowserCardFilter: a customer with 60 subscriptions gets a filter
// box that narrows the panels as the agent types, opening the collapsed
// cancelled and expired ones when the match is among them.
func TestBrowserCardFilter(t *testing.T) {
	t.Parallel()
	chromePath(t)
	e, _ := MustDetailsEnv(t, func(card *rechargekit.Card) *rechargekit.CardDetails {
		proto := card.Subscriptions[0]
		card.Subscriptions = nil
		for i := range 60 {
			s := *proto
			s.ID = int64(700000000 + i)
			s.Product.Name = fmt.Sprintf("Coffee blend no%02d", i)
			s.Status = []string{rechargekit.StatusActive, rechargekit.StatusCancelled, rechargekit.StatusExpired}[i%3]
			card.Subscriptions = append(card.Subscriptions, &s)
		}
		return &rechargekit.CardDetails{}
	}, rechargekit.AdminLinks{})
	c := MustChrome(t, e, 90*time.Second)
	c.signIn(agentEmail, agentPassword)
	c.do("open the busy customer", chromedp.Navigate(c.base+"/profiles/"+profAlex), chromedp.WaitVisible(chromedp.ID("sub-filter")))
	if c.eval(`document.getElementById('inactive-subs').open`) {
		t.Error("the cancelled and expired subscriptions are not collapsed")
	}
	c.shoot("card-05-sixty-subscriptions.png", "")
	c.do("filter", chromedp.SendKeys(chromedp.ID("sub-filter"), "no07"))
	if !c.eval(`document.querySelectorAll('.subs .sub:not(.is-filtered-out)').length === 1`) ||
		!c.eval(`document.getElementById('inactive-subs').open`) {
		t.Error("filtering by no07 does not leave exactly its (cancelled) panel shown, opened")
	}
	wantText(t, "filtered", c.text(`.sub:not(.is-filtered-out)`), "Coffee blend no07")
	c.do("filter nothing", chromedp.SendKeys(chromedp.ID("sub-filter"), "zzz"))
	if !c.eval(`!document.getElementById('sub-filter-none').hidden`) {
		t.Error("no match does not say so")
	}
	c.shoot("card-06-filtered.png", "")
	c.checkProblems()
}
