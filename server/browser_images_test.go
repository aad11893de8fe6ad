package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserProductImages: in real Chromium, a card's product images
// load through the console's image proxy (the demo's pictures, served by
// the simulator), and a tracking pixel on this machine that Recharge's
// data names (http://127.0.0.1:PORT/track.png, which Chromium could reach)
// is never requested, neither by the browser nor by the proxy; the
// placeholder shows instead. No CSP violation is reported.
func TestBrowserProductImages(t *testing.T) {
	t.Parallel()
	chromePath(t)
	tracker := newRecorder(t, false)
	e := MustEnv(t)
	mustImageCustomer(t, e, "tracked", tracker.URL+"/track.png")
	c := MustChrome(t, e, 90*time.Second)
	c.signIn(agentEmail, agentPassword)

	c.do("open Alex Rivera",
		chromedp.Navigate(c.base+"/profiles/"+profAlex),
		chromedp.WaitVisible(chromedp.ID("card")),
	)
	c.imagesLoaded()
	if !c.eval(`Array.from(document.querySelectorAll('.sub__img')).length === 3 &&
		Array.from(document.querySelectorAll('.sub__img')).every(i => i.naturalWidth === 192 && new URL(i.src).origin === location.origin && new URL(i.src).pathname === '/img')`) {
		t.Error("the product images did not load through the console's image proxy")
	}
	// What Chromium fetched for the images: the proxy only.
	if !c.eval(`performance.getEntriesByType('resource').filter(r => r.initiatorType === 'img').every(r => new URL(r.name).origin === location.origin && new URL(r.name).pathname === '/img')`) {
		t.Error("the browser fetched an image from somewhere other than the proxy")
	}
	c.shoot("20-images-card.png", "#card")
	c.shoot("21-images-active.png", ".sub--active")

	c.do("open the tracked profile",
		chromedp.Navigate(c.base+"/profiles/tracked"),
		chromedp.WaitVisible(chromedp.ID("card")),
	)
	c.imagesLoaded()
	if !c.eval(`document.querySelectorAll('.sub__img').length === 0 && document.querySelectorAll('.sub__placeholder').length === 1`) {
		t.Error("the tracking image is rendered instead of the placeholder")
	}
	if !c.eval(`!document.documentElement.outerHTML.includes('track.png')`) {
		t.Error("the tracking URL is in the page")
	}
	c.shoot("22-images-tracked.png", "#card")
	if n := len(tracker.requests()); n != 0 {
		t.Errorf("the tracking pixel was requested %d times", n)
	}
	if strings.Contains(e.Logs.String(), "track.png") {
		t.Error("the tracking URL reached the log")
	}
	c.checkProblems()
}
