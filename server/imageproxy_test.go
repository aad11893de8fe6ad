package server

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
)

func TestIsPublicAddr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr   string
		public bool
	}{
		{"93.184.215.14", true},
		{"151.101.1.69", true},
		{"2606:4700::6810:84e5", true},
		{"127.0.0.1", false},
		{"127.8.9.10", false},
		{"::1", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"::", false},
		{"100.64.0.1", false},    // CGNAT
		{"100.127.255.1", false}, // CGNAT
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"255.255.255.255", false},
		{"240.0.0.1", false},
		{"192.0.2.1", false},
		{"198.18.0.1", false},
		{"fc00::1", false},
		{"fd12:3456::1", false}, // unique local
		{"fe80::1", false},
		{"ff02::1", false},
		{"::ffff:127.0.0.1", false}, // IPv4-mapped loopback
		{"::ffff:10.0.0.1", false},
		{"::ffff:8.8.8.8", true},
		{"64:ff9b::7f00:1", false}, // NAT64 of 127.0.0.1
		{"2002:7f00:1::1", false},  // 6to4 of 127.0.0.1
		{"2001:db8::1", false},
		{"2001::1", false}, // Teredo
	} {
		if got := isPublicAddr(netip.MustParseAddr(tc.addr)); got != tc.public {
			t.Errorf("isPublicAddr(%s) = %v, want %v", tc.addr, got, tc.public)
		}
	}
}

func TestParseAllowHosts(t *testing.T) {
	t.Parallel()
	set, err := parseAllowHosts([]string{" 127.0.0.1:4010 ", "", "Sim.Local:80", "[::1]:8080"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"127.0.0.1:4010", "sim.local:80", "[::1]:8080"} {
		if !set[want] {
			t.Errorf("%s not allowed: %v", want, set)
		}
	}
	for _, bad := range []string{"127.0.0.1", "http://127.0.0.1:4010", "127.0.0.1:0", "127.0.0.1:http", ":4010", "a/b:1"} {
		if _, err := parseAllowHosts([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// pngBytes, jpegBytes and gifBytes are small images of each type.
func pngBytes(t testing.TB) []byte {
	var b bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{200, 30, 30, 255})
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t testing.TB) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewRGBA(image.Rect(0, 0, 4, 4)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gifBytes(t testing.TB) []byte {
	var b bytes.Buffer
	if err := gif.Encode(&b, image.NewPaletted(image.Rect(0, 0, 4, 4), color.Palette{color.Black, color.White}), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// webpBytes is the header of a lossless WebP: what the type sniffing reads.
var webpBytes = []byte("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00")

// origin is an https test origin that records what reaches it.
type origin struct {
	srv  *httptest.Server
	host string // 127.0.0.1:port

	mu       sync.Mutex
	routes   map[string]http.HandlerFunc
	hits     map[string]int
	requests []*http.Request
}

func newOrigin(t *testing.T) *origin {
	t.Helper()
	o := &origin{hits: map[string]int{}, routes: map[string]http.HandlerFunc{}}
	o.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.hits[r.URL.Path]++
		o.requests = append(o.requests, r.Clone(context.Background()))
		h, ok := o.routes[r.URL.Path]
		o.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	t.Cleanup(o.srv.Close)
	o.host = strings.TrimPrefix(o.srv.URL, "https://")
	return o
}

// handle serves path with h.
func (o *origin) handle(path string, h http.HandlerFunc) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.routes[path] = h
}

func (o *origin) hitsOf(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[path]
}

func (o *origin) seen() []*http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*http.Request(nil), o.requests...)
}

func sessionWithHash(h string) *rechargekit.Session { return &rechargekit.Session{TokenHash: h} }

// testProxy returns a proxy that trusts o's certificate and, when allow is
// true, o's loopback address.
func testProxy(t *testing.T, o *origin, allow bool, now func() time.Time) *imageProxy {
	t.Helper()
	hosts := map[string]bool{}
	if allow {
		hosts[o.host] = true
	}
	return newImageProxy(imageProxyOptions{
		allow:   hosts,
		log:     slog.New(slog.DiscardHandler),
		now:     now,
		rootCAs: o.srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs,
	})
}

func serveBytes(ctype string, b []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		_, _ = w.Write(b)
	}
}

// TestImageProxyFetch: the proxy serves png, jpeg, gif and webp with the
// type its sniffing found, and refuses SVG, HTML, oversized bodies (with
// and without a Content-Length), non-200 answers, plain http and URLs
// with credentials, loopback addresses (also reached through a name that
// resolves to them, and through a redirect) and more than three redirects.
func TestImageProxyFetch(t *testing.T) {
	t.Parallel()
	pic := pngBytes(t)
	big := append(append([]byte(nil), pic...), make([]byte, maxImageBytes)...)
	o := newOrigin(t)
	for path, h := range map[string]http.HandlerFunc{
		"/good.png": serveBytes("image/png", pic),
		// The origin's Content-Type is ignored: the bytes decide.
		"/lying.bin":  serveBytes("application/octet-stream", jpegBytes(t)),
		"/a.gif":      serveBytes("image/gif", gifBytes(t)),
		"/a.webp":     serveBytes("image/webp", webpBytes),
		"/logo.svg":   serveBytes("image/svg+xml", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>`)),
		"/svg-as-png": serveBytes("image/png", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>`)),
		"/page.png":   serveBytes("image/png", []byte(`<!doctype html><script>alert(1)</script>`)),
		"/big.png":    serveBytes("image/png", big),
		"/big-chunked.png": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			for i := 0; i < len(big); i += 64 << 10 {
				_, _ = w.Write(big[i:min(i+64<<10, len(big))])
				w.(http.Flusher).Flush()
			}
		},
		"/gone.png": func(w http.ResponseWriter, r *http.Request) { http.Error(w, "gone", http.StatusGone) },
		"/to-good": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/good.png", http.StatusFound)
		},
		"/to-localhost": func(w http.ResponseWriter, r *http.Request) {
			// Another name for the same loopback address: not allowed.
			_, port, _ := net.SplitHostPort(o.host)
			http.Redirect(w, r, "https://localhost:"+port+"/good.png", http.StatusFound)
		},
		"/to-http": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://93.184.215.14/x.png", http.StatusFound)
		},
		"/loop": func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) },
	} {
		o.handle(path, h)
	}
	p := testProxy(t, o, true, time.Now)
	strict := testProxy(t, o, false, time.Now)
	_, port, _ := net.SplitHostPort(o.host)
	base := o.srv.URL

	for _, tc := range []struct {
		name  string
		p     *imageProxy
		url   string
		ctype string // "" when refused
		err   error  // the refusal's reason, when one is named
	}{
		{"png", p, base + "/good.png", "image/png", nil},
		{"jpeg whatever the origin says", p, base + "/lying.bin", "image/jpeg", nil},
		{"gif", p, base + "/a.gif", "image/gif", nil},
		{"webp", p, base + "/a.webp", "image/webp", nil},
		{"redirect to an allowed host", p, base + "/to-good", "image/png", nil},
		{"svg", p, base + "/logo.svg", "", errImageType},
		{"svg sent as png", p, base + "/svg-as-png", "", errImageType},
		{"html sent as png", p, base + "/page.png", "", errImageType},
		{"oversized", p, base + "/big.png", "", errImageTooLarge},
		{"oversized without a length", p, base + "/big-chunked.png", "", errImageTooLarge},
		{"not found", p, base + "/nothing.png", "", errImageStatus},
		{"gone", p, base + "/gone.png", "", errImageStatus},
		{"plain http", p, "http://93.184.215.14/x.png", "", errImageURL},
		{"credentials", p, "https://user:pw@" + o.host + "/good.png", "", errImageURL},
		{"not a URL", p, "no-scheme/x.png", "", errImageURL},
		{"loopback by address", strict, base + "/good.png", "", errImageAddress},
		{"loopback by name", strict, "https://localhost:" + port + "/good.png", "", errImageAddress},
		{"IPv6 loopback", strict, "https://[::1]:" + port + "/good.png", "", errImageAddress},
		{"private address", strict, "https://10.255.255.1:" + port + "/x.png", "", errImageAddress},
		{"metadata address", strict, "https://169.254.169.254/latest/meta-data", "", errImageAddress},
		{"redirect to loopback by name", p, base + "/to-localhost", "", errImageAddress},
		{"redirect to plain http", p, base + "/to-http", "", errImageURL},
		{"redirect loop", p, base + "/loop", "", errImageRedirect},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := tc.p.get(context.Background(), tc.url)
			if tc.ctype != "" {
				if err != nil {
					t.Fatalf("get %s: %v", tc.url, err)
				}
				if img.ctype != tc.ctype || len(img.body) == 0 {
					t.Errorf("type %q, %d bytes; want %s", img.ctype, len(img.body), tc.ctype)
				}
				return
			}
			if err == nil {
				t.Fatalf("get %s served %s (%d bytes), want a refusal", tc.url, img.ctype, len(img.body))
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Errorf("get %s: %v, want %v", tc.url, err, tc.err)
			}
		})
	}
	// The redirect's loopback target was refused before any request: only
	// the first hop reached the origin under its own name.
	if n := o.hitsOf("/to-localhost"); n != 1 {
		t.Errorf("/to-localhost asked %d times", n)
	}
	// Nothing the proxy sent carried a cookie, credentials or a Referer.
	for _, r := range o.seen() {
		for _, h := range []string{"Cookie", "Authorization", "Referer", "Proxy-Authorization"} {
			if v := r.Header.Get(h); v != "" {
				t.Errorf("%s %s carried %s: %q", r.Method, r.URL.Path, h, v)
			}
		}
	}
}

// TestImageProxyCache: a second request for an image is served from the
// cache without asking the origin; so is a failure, for a shorter time;
// both are asked again once they expire; concurrent requests share one
// fetch.
func TestImageProxyCache(t *testing.T) {
	t.Parallel()
	release, arrived := make(chan struct{}), make(chan struct{}, 10)
	o := newOrigin(t)
	pic := pngBytes(t)
	o.handle("/a.png", serveBytes("image/png", pic))
	o.handle("/slow.png", func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		_, _ = w.Write(pic)
	})
	clk := NewClock(time.Now())
	p := testProxy(t, o, true, clk.Now)
	ctx := context.Background()

	for range 3 {
		if _, err := p.get(ctx, o.srv.URL+"/a.png"); err != nil {
			t.Fatal(err)
		}
	}
	if n := o.hitsOf("/a.png"); n != 1 {
		t.Errorf("origin asked %d times for one cached image", n)
	}
	for range 3 {
		if _, err := p.get(ctx, o.srv.URL+"/missing.png"); err == nil {
			t.Fatal("a 404 was served")
		}
	}
	if n := o.hitsOf("/missing.png"); n != 1 {
		t.Errorf("origin asked %d times for one failed image", n)
	}
	clk.Advance(imageFailureTTL)
	_, _ = p.get(ctx, o.srv.URL+"/missing.png")
	_, _ = p.get(ctx, o.srv.URL+"/a.png")
	if o.hitsOf("/missing.png") != 2 || o.hitsOf("/a.png") != 1 {
		t.Errorf("after %s: missing asked %d times, a.png %d; want 2 and 1", imageFailureTTL, o.hitsOf("/missing.png"), o.hitsOf("/a.png"))
	}
	clk.Advance(imageCacheTTL)
	_, _ = p.get(ctx, o.srv.URL+"/a.png")
	if n := o.hitsOf("/a.png"); n != 2 {
		t.Errorf("after %s: a.png asked %d times, want 2", imageCacheTTL, n)
	}

	// Ten concurrent requests for one image: one fetch.
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() {
			_, err := p.get(ctx, o.srv.URL+"/slow.png")
			errs <- err
		})
	}
	// Once the shared fetch reached the origin, let it answer. (A request
	// that arrives after the fetch ended is served from the cache.)
	<-arrived
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := o.hitsOf("/slow.png"); n != 1 {
		t.Errorf("10 concurrent requests made %d fetches", n)
	}
}

// TestImageProxyBusyNotRemembered: a fetch refused because every fetch
// slot was busy says nothing about the image, so it is not remembered as a
// failure: once a slot is free the image is fetched and shown, rather than
// refused for imageFailureTTL.
func TestImageProxyBusyNotRemembered(t *testing.T) {
	t.Parallel()
	o := newOrigin(t)
	o.handle("/a.png", serveBytes("image/png", pngBytes(t)))
	p := testProxy(t, o, true, time.Now)
	p.budget = 50 * time.Millisecond
	ctx := context.Background()

	// Every slot taken, as by other fetches to slow origins.
	if err := p.fetches.Acquire(ctx, maxImageFetches); err != nil {
		t.Fatal(err)
	}
	if _, err := p.get(ctx, o.srv.URL+"/a.png"); err == nil {
		t.Fatal("an image was fetched while every fetch slot was taken")
	}
	p.fetches.Release(maxImageFetches)

	if _, err := p.get(ctx, o.srv.URL+"/a.png"); err != nil {
		t.Fatalf("with a slot free again: %v (%s), want the image", err, imageFailure(err))
	}
	if n := o.hitsOf("/a.png"); n != 1 {
		t.Errorf("origin asked %d times, want 1", n)
	}
}

// TestImageProxyTimeBudget: an origin that never answers costs one time
// budget, then the image is refused as timed out.
func TestImageProxyTimeBudget(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	o := newOrigin(t)
	o.handle("/hang.png", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(stop) })
	p := testProxy(t, o, true, time.Now)
	p.budget = 200 * time.Millisecond
	start := time.Now()
	_, err := p.get(context.Background(), o.srv.URL+"/hang.png")
	if err == nil || imageFailure(err) != "timed out" {
		t.Fatalf("err = %v (%s), want a timeout", err, imageFailure(err))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a hung origin took %s", d)
	}
}

// TestImageCacheBounded: the cache keeps to its byte budget, evicting the
// least recently used entries.
func TestImageCacheBounded(t *testing.T) {
	t.Parallel()
	c := newImageCache(10 << 10)
	now := time.Now()
	later := now.Add(time.Hour)
	body := make([]byte, 3<<10)
	for _, k := range []string{"a", "b", "c"} {
		c.put(k, &proxiedImage{body: body, ctype: "image/png"}, nil, later)
	}
	c.get("a", now) // a is now the most recently used
	c.put("d", &proxiedImage{body: body, ctype: "image/png"}, nil, later)
	if _, _, ok := c.get("b", now); ok {
		t.Error("the least recently used entry stayed past the budget")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, _, ok := c.get(k, now); !ok {
			t.Errorf("%s was evicted", k)
		}
	}
	if c.size > c.max {
		t.Errorf("size %d over the budget %d", c.size, c.max)
	}
	c.put("huge", &proxiedImage{body: make([]byte, 20<<10)}, nil, later)
	if _, _, ok := c.get("huge", now); ok {
		t.Error("an entry larger than the whole cache was kept")
	}
}

// TestImageURLs: the console's image addresses are the proxy's, signed for
// the session; a URL the proxy would never fetch shows the placeholder.
func TestImageURLs(t *testing.T) {
	t.Parallel()
	c := &console{images: newImageProxy(imageProxyOptions{allow: map[string]bool{"127.0.0.1:4010": true}, log: slog.New(slog.DiscardHandler), now: time.Now})}
	alice := c.imageURLs(&auth{Session: sessionWithHash("alice")})
	bob := c.imageURLs(&auth{Session: sessionWithHash("bob")})
	const web = "https://cdn.example.com/a.png?v=1"
	got := alice(web)
	u, err := url.Parse(got)
	if err != nil || u.Path != imagePath || u.Query().Get("u") != web || u.Query().Get("s") != imageSignature("alice", web) {
		t.Errorf("image URL %q", got)
	}
	if bob(web) == got {
		t.Error("two sessions get the same signed address")
	}
	if got := alice("http://127.0.0.1:4010/__sim/images/a.png"); !strings.HasPrefix(got, imagePath+"?u=") {
		t.Errorf("an allowed host's image shows as %q", got)
	}
	for _, raw := range []string{"", "http://127.0.0.1:9999/track.png", "http://cdn.example.com/a.png", "javascript:alert(1)"} {
		if got := alice(raw); got != "" {
			t.Errorf("%q shows as %q, want the placeholder", raw, got)
		}
	}
}
