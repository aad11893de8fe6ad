package server_test

import (
	"bytes"
	"context"
	"html"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
	"github.com/rechargekit/rechargekit/server"
)

// imgSrcRE finds the product images of a console page.
var imgSrcRE = regexp.MustCompile(`<img class="sub__img" src="([^"]*)"`)

// productImages returns the src of every product image on a page.
func productImages(body string) []string {
	var out []string
	for _, m := range imgSrcRE.FindAllStringSubmatch(body, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// recorder is an http test origin that counts what reaches it and keeps
// the headers it was sent.
type recorder struct {
	*httptest.Server
	mu      sync.Mutex
	headers []http.Header
}

func newRecorder(t *testing.T, tls bool) *recorder {
	t.Helper()
	r := &recorder{}
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.headers = append(r.headers, req.Header.Clone())
		r.mu.Unlock()
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(rechargetest.ProductPicture("tracked"))
	})
	if tls {
		r.Server = httptest.NewTLSServer(h)
	} else {
		r.Server = httptest.NewServer(h)
	}
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) requests() []http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]http.Header(nil), r.headers...)
}

// mustImageCustomer adds a Recharge customer whose one subscription's
// product image is imageURL, and a desk profile id with its email, which
// links itself when opened.
func mustImageCustomer(t *testing.T, e *env, id, imageURL string) {
	t.Helper()
	email := id + "@example.com"
	e.Sim.AddCustomer(rechargetest.SeedCustomer{
		FirstName: "Image", LastName: id, Email: email,
		Subscriptions: []rechargetest.SeedSubscription{{
			ProductID: "9100", ProductTitle: "Pictured product", Price: "5.00",
			Image: imageURL, Interval: 1, Unit: "month", PastCharges: 1,
		}},
	})
	if _, err := e.Store.UpsertProfile(context.Background(), &rechargekit.Profile{ID: id, Name: "Image " + id, Emails: []string{email}}); err != nil {
		t.Fatal(err)
	}
}

// TestConsoleImagesThroughProxy: the card's product images are the
// console's own signed proxy addresses, never the URL from Recharge; the
// proxy serves the simulator's picture as a checked PNG with strict
// headers to the session it was made for, and refuses it (403, never a
// redirect to sign-in) without a session, to another session, and with a
// missing or tampered signature. The JSON API keeps the original URL.
func TestConsoleImagesThroughProxy(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	agent := e.Browser(t).MustLogin(agentEmail, agentPassword)
	p := agent.Get("/profiles/" + profAlex)
	srcs := productImages(p.Body)
	if len(srcs) != 3 {
		t.Fatalf("%d product images on Alex's card, want 3:\n%s", len(srcs), p.Body)
	}
	original := e.Sim.URL + rechargetest.ImagesPath + "dog-lovers-tee"
	for _, src := range srcs {
		u, err := url.Parse(src)
		if err != nil || u.Host != "" || u.Path != "/img" || !strings.HasPrefix(u.Query().Get("u"), e.Sim.URL+rechargetest.ImagesPath) || u.Query().Get("s") == "" {
			t.Errorf("image src %q is not the console's proxy", src)
		}
	}
	if strings.Contains(p.Body, `src="`+e.Sim.URL) || strings.Contains(p.Body, `src="http`) {
		t.Error("the page has an image straight from a URL")
	}
	src := srcs[1] // the T-Shirt's, after the newer Dog Dental Chews
	if !strings.Contains(src, url.QueryEscape(original)) {
		t.Fatalf("the second image is %q, want the Dog Lovers T-Shirt's", src)
	}

	img := agent.Get(src)
	h := img.Resp.Header
	if img.Status != http.StatusOK || h.Get("Content-Type") != "image/png" {
		t.Fatalf("GET %s = %d %q: %.200s", src, img.Status, h.Get("Content-Type"), img.Body)
	}
	if _, err := png.Decode(strings.NewReader(img.Body)); err != nil {
		t.Errorf("the proxied image is not a PNG: %v", err)
	}
	if !bytes.Equal([]byte(img.Body), rechargetest.ProductPicture("dog-lovers-tee")) {
		t.Error("the proxied image is not the simulator's picture")
	}
	for k, want := range map[string]string{
		"X-Content-Type-Options":       "nosniff",
		"Content-Security-Policy":      "default-src 'none'; sandbox",
		"Cache-Control":                "private, max-age=86400",
		"Cross-Origin-Resource-Policy": "same-origin",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if c := h.Get("Set-Cookie"); c != "" {
		t.Errorf("the image answer sets a cookie: %q", c)
	}

	admin := e.Browser(t).MustLogin(adminEmail, adminPassword)
	q, _ := url.ParseQuery(strings.TrimPrefix(src, "/img?"))
	tampered := url.Values{"u": {"https://evil.example/x.png"}, "s": {q.Get("s")}}
	for _, tc := range []struct {
		name string
		b    *browser
		path string
	}{
		{"signed out", e.Browser(t), src},
		{"another session", admin, src},
		{"no signature", agent, "/img?u=" + url.QueryEscape(q.Get("u"))},
		{"tampered URL", agent, "/img?" + tampered.Encode()},
		{"tampered signature", agent, "/img?u=" + url.QueryEscape(q.Get("u")) + "&s=" + strings.Repeat("A", 43)},
		{"nothing", agent, "/img"},
	} {
		got := tc.b.Get(tc.path)
		if got.Status != http.StatusForbidden || strings.HasPrefix(got.Resp.Header.Get("Content-Type"), "image/") {
			t.Errorf("%s: GET %s = %d %q, want 403", tc.name, tc.path, got.Status, got.Resp.Header.Get("Content-Type"))
		}
	}

	// The JSON API answers the original URL, as Recharge sent it.
	code, raw := apiClient{t: t, base: e.Srv.URL, token: MustAPIToken(t, e.Store, "desk")}.do(http.MethodGet, "/api/profiles/"+profAlex+"/card", "")
	if code != http.StatusOK || !strings.Contains(string(raw), `"`+original) || strings.Contains(string(raw), "/img?") {
		t.Errorf("API card = %d, want the original image URL:\n%.600s", code, raw)
	}
}

// TestConsoleImageTrackingURLs: image URLs in Recharge's data that point
// at this machine (a tracking pixel on plain http, an https one on a
// loopback address or on localhost) are never requested, neither by the
// page nor by the proxy: the http one is not even rendered, the https
// ones are refused by the proxy (502) after resolving.
func TestConsoleImageTrackingURLs(t *testing.T) {
	t.Parallel()
	plain, tlsOrigin := newRecorder(t, false), newRecorder(t, true)
	_, port, _ := strings.Cut(strings.TrimPrefix(tlsOrigin.URL, "https://"), ":")
	e := MustEnv(t)
	for id, u := range map[string]string{
		"track-http":      plain.URL + "/track.png",
		"track-loopback":  tlsOrigin.URL + "/track.png",
		"track-localhost": "https://localhost:" + port + "/track.png",
	} {
		mustImageCustomer(t, e, id, u)
	}
	agent := e.Browser(t).MustLogin(agentEmail, agentPassword)

	if srcs := productImages(agent.Get("/profiles/track-http").Body); len(srcs) != 0 {
		t.Errorf("an http image on this machine is rendered: %q", srcs)
	}
	for _, id := range []string{"track-loopback", "track-localhost"} {
		p := agent.Get("/profiles/" + id)
		srcs := productImages(p.Body)
		if len(srcs) != 1 || !strings.HasPrefix(srcs[0], "/img?u=") {
			t.Fatalf("%s: images %q, want one through the proxy", id, srcs)
		}
		if got := agent.Get(srcs[0]); got.Status != http.StatusBadGateway {
			t.Errorf("%s: GET %s = %d, want 502", id, srcs[0], got.Status)
		}
	}
	if n := len(plain.requests()) + len(tlsOrigin.requests()); n != 0 {
		t.Errorf("the tracking origins got %d requests", n)
	}
	if logs := e.Logs.String(); !strings.Contains(logs, "address is not public") {
		t.Errorf("the refusal is not logged with its reason:\n%s", logs)
	}
}

// TestConsoleImageProxyForwardsNothing: an allowed origin gets the image
// request with no cookie, no credentials and no Referer, however many
// cookies the agent's browser sends the console, and a second page view
// is served from the proxy's cache.
func TestConsoleImageProxyForwardsNothing(t *testing.T) {
	t.Parallel()
	origin := newRecorder(t, false)
	e := MustEnv(t, envOptions{Config: func(c *server.Config) {
		c.ImageProxyAllowHosts = append(c.ImageProxyAllowHosts, strings.TrimPrefix(origin.URL, "http://"))
	}})
	mustImageCustomer(t, e, "pictured", origin.URL+"/picture.png")
	agent := e.Browser(t).MustLogin(agentEmail, agentPassword)
	agent.Header.Set("Referer", e.Srv.URL+"/profiles/pictured")
	agent.Header.Set("Authorization", "Bearer agent-secret")
	for range 2 {
		srcs := productImages(agent.Get("/profiles/pictured").Body)
		if len(srcs) != 1 {
			t.Fatalf("images %q, want one", srcs)
		}
		if got := agent.Get(srcs[0]); got.Status != http.StatusOK || got.Resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("GET %s = %d %q", srcs[0], got.Status, got.Resp.Header.Get("Content-Type"))
		}
	}
	reqs := origin.requests()
	if len(reqs) != 1 {
		t.Fatalf("the origin got %d requests for two views, want 1 (the cache)", len(reqs))
	}
	for _, k := range []string{"Cookie", "Authorization", "Referer", "X-Forwarded-For"} {
		if v := reqs[0].Get(k); v != "" {
			t.Errorf("the origin got %s: %q", k, v)
		}
	}
}
