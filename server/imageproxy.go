package server

import (
	"container/list"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/semaphore"
	"golang.org/x/sync/singleflight"
)

// The console shows product images through its own image proxy, at
// GET /img?u=<image URL>&s=<signature>, never straight from the URL that
// Recharge supplies. Recharge's data is untrusted: an image URL could point
// at another port of the console's own host (and get the agent's cookies),
// into the agent's intranet, or at a tracking pixel. The proxy fetches the
// image on the server instead, over https from public addresses only (the
// address actually dialled is checked, so DNS rebinding cannot slip
// through), with no cookies, credentials or Referer, a small time budget,
// a size cap and a type check on the bytes, and keeps a bounded cache.
//
// The route is behind the console's session check and its URLs are signed
// with a key derived from the session's own token: only a signed-in user
// can use it, and another site or session cannot make an agent's browser
// fetch a URL of its choice through it. The key is the SHA-256 of the
// session cookie, so the signed-in user can sign any URL for their own
// session: to them the proxy is a fetcher of public https images, with the
// limits above, not only of the URLs the console rendered. The key lives in
// the shared session store, so every replica behind a load balancer checks
// the signature alike, which a per-process secret would not allow.

// Limits of the image proxy.
const (
	// maxImageBytes caps an image: product pictures are far smaller.
	maxImageBytes = 2 << 20
	// imageFetchBudget bounds one fetch, redirects included.
	imageFetchBudget = 4 * time.Second
	// maxImageRedirects is how many redirects a fetch follows, each one
	// checked like the first URL.
	maxImageRedirects = 3
	// maxImageFetches bounds concurrent fetches from origins, so the proxy
	// cannot be turned into a flood of outgoing requests.
	maxImageFetches = 8
	// imageCacheBytes bounds the cache's memory.
	imageCacheBytes = 32 << 20
	// imageCacheTTL is how long a fetched image is served from the cache;
	// store CDNs version their image URLs, so an image rarely changes
	// under its URL.
	imageCacheTTL = time.Hour
	// imageFailureTTL is how long a failed fetch is remembered, so a dead
	// or refused URL is not asked again on every page view.
	imageFailureTTL = time.Minute
	// imageBrowserMaxAge is how long the browser may keep an image.
	imageBrowserMaxAge = 24 * time.Hour
	// imageCSP is the Content-Security-Policy of the proxy's answers: an
	// image needs nothing, and a sandbox keeps anything opened directly
	// from running.
	imageCSP = "default-src 'none'; sandbox"
)

// imagePath is the proxy's route.
const imagePath = "/img"

// imageTypes are the types the proxy serves, as http.DetectContentType
// names them. SVG is not one: it can carry script and links.
var imageTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// Errors of a fetch, for the log.
var (
	errImageURL      = errors.New("not an https URL")
	errImageAddress  = errors.New("address is not public")
	errImageStatus   = errors.New("origin did not answer 200")
	errImageTooLarge = errors.New("image is too large")
	errImageType     = errors.New("not a png, jpeg, gif or webp image")
	errImageRedirect = errors.New("too many redirects")
	// errImageBusy is a fetch that found every fetch slot taken for its
	// whole budget: this replica's load, not the image's fault, so it is
	// not remembered as a failure.
	errImageBusy = errors.New("every fetch slot is busy")
)

// CheckImageProxyAllowHosts reports whether hosts is a valid
// Config.ImageProxyAllowHosts: each entry a host:port, for refusing a bad
// setting at start-up.
func CheckImageProxyAllowHosts(hosts []string) error {
	_, err := parseAllowHosts(hosts)
	return err
}

// parseAllowHosts returns the set of allowed host:port addresses, in the
// lowercase form the proxy's dialler sees them.
func parseAllowHosts(hosts []string) (map[string]bool, error) {
	set := map[string]bool{}
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" || strings.ContainsAny(host, "/@?#") {
			return nil, fmt.Errorf("image proxy allowed host %q is not a host:port such as 127.0.0.1:4010", truncate(h, 60))
		}
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			return nil, fmt.Errorf("image proxy allowed host %q has no valid port", truncate(h, 60))
		}
		set[strings.ToLower(net.JoinHostPort(host, port))] = true
	}
	return set, nil
}

// imageProxy fetches, checks and caches images for the console.
type imageProxy struct {
	client  *http.Client
	allow   map[string]bool // host:port that may be private and plain http
	cache   *imageCache
	flight  singleflight.Group
	fetches *semaphore.Weighted
	log     *slog.Logger
	now     func() time.Time
	budget  time.Duration
}

// imageProxyOptions configure newImageProxy.
type imageProxyOptions struct {
	allow   map[string]bool
	log     *slog.Logger
	now     func() time.Time
	rootCAs *x509.CertPool // nil: the system's; tests trust their own server
}

// newImageProxyFor returns the console's image proxy for cfg, logging (once,
// at start-up) an allow list it had to refuse: only public https images
// are shown then.
func newImageProxyFor(cfg Config) *imageProxy {
	allow, err := parseAllowHosts(cfg.ImageProxyAllowHosts)
	if err != nil {
		cfg.Logger.Error("ignoring the image proxy's allowed hosts: only public https images are shown", "error", err)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return newImageProxy(imageProxyOptions{allow: allow, log: cfg.Logger, now: now})
}

func newImageProxy(o imageProxyOptions) *imageProxy {
	p := &imageProxy{
		allow:   o.allow,
		cache:   newImageCache(imageCacheBytes),
		fetches: semaphore.NewWeighted(maxImageFetches),
		log:     o.log,
		now:     o.now,
		budget:  imageFetchBudget,
	}
	if p.allow == nil {
		p.allow = map[string]bool{}
	}
	public := &net.Dialer{Timeout: p.budget, Control: publicOnly}
	anyAddr := &net.Dialer{Timeout: p.budget}
	transport := &http.Transport{
		// Never a proxy from the environment: the dialler must see, and
		// check, the origin's own address.
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if p.allow[strings.ToLower(addr)] {
				return anyAddr.DialContext(ctx, network, addr)
			}
			return public.DialContext(ctx, network, addr)
		},
		TLSClientConfig:        &tls.Config{RootCAs: o.rootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    p.budget,
		ResponseHeaderTimeout:  p.budget,
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConns:           16,
		IdleConnTimeout:        90 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	p.client = &http.Client{
		Transport: transport,
		// No cookie jar: no cookie is ever sent to an origin.
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxImageRedirects {
				return errImageRedirect
			}
			if err := p.checkURL(req.URL); err != nil {
				return err
			}
			// The client adds the previous URL as Referer on a redirect.
			req.Header.Del("Referer")
			return nil
		},
	}
	return p
}

// checkURL refuses what the proxy never fetches: anything but https, or
// plain http from an allowed host; URLs with credentials.
func (p *imageProxy) checkURL(u *url.URL) error {
	if u == nil || u.Host == "" || u.User != nil || u.Opaque != "" {
		return errImageURL
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if p.allow[strings.ToLower(hostPort(u))] {
			return nil
		}
	}
	return errImageURL
}

// hostPort is u's host:port, with the scheme's default port.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "443"
		if strings.EqualFold(u.Scheme, "http") {
			port = "80"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// fetchable reports whether raw is a URL the proxy would try at all; the
// console shows the placeholder at once for others.
func (p *imageProxy) fetchable(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && p.checkURL(u) == nil
}

// publicOnly is the dialler's Control function: it runs after the name is
// resolved, on the address actually dialled, and refuses any that is not
// a public unicast address.
func publicOnly(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("image proxy: dial %s: %w", address, errImageAddress)
	}
	if !isPublicAddr(ap.Addr()) {
		return fmt.Errorf("image proxy: dial %s: %w", ap.Addr(), errImageAddress)
	}
	return nil
}

// nonPublic are the ranges beyond what netip's predicates name that no
// public image lives in.
var nonPublic = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",          // "this network"
		"100.64.0.0/10",      // carrier-grade NAT
		"192.0.0.0/24",       // IETF protocol assignments
		"192.0.2.0/24",       // documentation
		"192.88.99.0/24",     // 6to4 relay anycast
		"198.18.0.0/15",      // benchmarking
		"198.51.100.0/24",    // documentation
		"203.0.113.0/24",     // documentation
		"240.0.0.0/4",        // reserved, and the broadcast address
		"64:ff9b::/96",       // NAT64: it reaches IPv4 addresses
		"64:ff9b:1::/48",     // local-use NAT64
		"100::/64",           // discard
		"2001::/23",          // IETF protocol assignments (Teredo, ...)
		"2001:db8::/32",      // documentation
		"2002::/16",          // 6to4: it reaches IPv4 addresses
		"3fff::/20",          // documentation
		"5f00::/16",          // segment routing
		"fec0::/10",          // deprecated site-local
		"::ffff:0:0:0/96",    // IPv4-translated
		"::/96",              // IPv4-compatible (deprecated)
		"2001:10::/28",       // ORCHID
		"ff00::/8",           // multicast (also by IsMulticast)
		"fc00::/7",           // unique local (also by IsPrivate)
		"169.254.0.0/16",     // link-local (also by IsLinkLocalUnicast)
		"255.255.255.255/32", // broadcast
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// isPublicAddr reports whether a is a public unicast address: not
// loopback, private, link-local, unspecified, multicast, CGNAT, unique
// local, documentation or otherwise reserved.
func isPublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.Zone() != "" || !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() ||
		a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// proxiedImage is a fetched, checked image.
type proxiedImage struct {
	body  []byte
	ctype string
}

// get returns the image at raw, from the cache or fetched.
func (p *imageProxy) get(ctx context.Context, raw string) (*proxiedImage, error) {
	now := p.now()
	if img, err, ok := p.cache.get(raw, now); ok {
		return img, err
	}
	ch := p.flight.DoChan(raw, func() (any, error) {
		// The fetch outlives a browser that gives up: others may share it,
		// and its budget bounds it anyway.
		img, err := p.fetch(raw)
		ttl := imageCacheTTL
		if err != nil {
			ttl = imageFailureTTL
		}
		if !errors.Is(err, errImageBusy) {
			p.cache.put(raw, img, err, p.now().Add(ttl))
		}
		return img, err
	})
	select {
	case res := <-ch:
		img, _ := res.Val.(*proxiedImage)
		return img, res.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fetch reads one image from its origin and checks it.
func (p *imageProxy) fetch(raw string) (*proxiedImage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), p.budget)
	defer cancel()
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errImageURL
	}
	if err := p.checkURL(u); err != nil {
		return nil, err
	}
	if err := p.fetches.Acquire(ctx, 1); err != nil {
		return nil, fmt.Errorf("image proxy: wait for a fetch slot: %w: %w", errImageBusy, err)
	}
	defer p.fetches.Release(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, errImageURL
	}
	req.Header.Set("Accept", "image/png,image/jpeg,image/gif,image/webp")
	req.Header.Set("User-Agent", "rechargekit-image-proxy")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("image proxy: get: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("image proxy: origin answered %d: %w", resp.StatusCode, errImageStatus)
	}
	if resp.ContentLength > maxImageBytes {
		return nil, errImageTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxImageBytes+1))
	if err != nil {
		return nil, fmt.Errorf("image proxy: read: %w", err)
	}
	if len(body) > maxImageBytes {
		return nil, errImageTooLarge
	}
	// The bytes decide the type, never the origin's Content-Type.
	ctype := http.DetectContentType(body)
	if !imageTypes[ctype] {
		return nil, errImageType
	}
	return &proxiedImage{body: body, ctype: ctype}, nil
}

// imageSignature signs an image URL for one session: an HMAC-SHA256 of the
// URL under a key only the server and that session's cookie lead to (the
// hash of the session token, kept in the session store).
func imageSignature(sessionKey, raw string) string {
	m := hmac.New(sha256.New, []byte("rechargekit image proxy v1\x00"+sessionKey))
	m.Write([]byte(raw))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// imageURLs returns how the console shows image URLs to the session s:
// the proxy's signed address, or "" (the placeholder) for a URL the proxy
// would not fetch.
func (c *console) imageURLs(s *auth) func(string) string {
	return func(raw string) string {
		if raw == "" || s == nil || s.Session == nil || !c.images.fetchable(raw) {
			return ""
		}
		return imagePath + "?u=" + url.QueryEscape(raw) + "&s=" + imageSignature(s.Session.TokenHash, raw)
	}
}

// serveImage is GET /img: the image at the signed URL u, for a signed-in
// user. It answers 403 without a session or a valid signature (an image
// request is never sent to the sign-in page) and 502 when the image cannot
// be fetched or is refused.
func (c *console) serveImage(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, msg string) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", imageCSP)
		http.Error(w, msg, status)
	}
	s, err := c.session(r)
	if err != nil {
		c.log.ErrorContext(r.Context(), "image proxy: session check failed", "error", err)
		fail(http.StatusServiceUnavailable, "The image cannot be shown right now.")
		return
	}
	if s == nil {
		fail(http.StatusForbidden, "Sign in to see images.")
		return
	}
	q := r.URL.Query()
	raw, sig := q.Get("u"), q.Get("s")
	want := imageSignature(s.Session.TokenHash, raw)
	if raw == "" || !hmac.Equal([]byte(sig), []byte(want)) {
		fail(http.StatusForbidden, "This image address was not made by the console.")
		return
	}
	img, err := c.images.get(r.Context(), raw)
	if err != nil {
		host := ""
		if u, perr := url.Parse(raw); perr == nil {
			host = u.Hostname()
		}
		// The host only: the rest of the URL is the store's text.
		c.log.InfoContext(r.Context(), "image proxy: image not shown", "host", truncate(host, 100), "reason", imageFailure(err))
		fail(http.StatusBadGateway, "The image could not be loaded.")
		return
	}
	h := w.Header()
	h.Set("Content-Type", img.ctype)
	h.Set("Content-Length", strconv.Itoa(len(img.body)))
	h.Set("Cache-Control", "private, max-age="+strconv.Itoa(int(imageBrowserMaxAge.Seconds())))
	h.Set("Content-Security-Policy", imageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(img.body)
	}
}

// imageFailure names why an image was not shown, in fixed words.
func imageFailure(err error) string {
	for _, e := range []error{errImageURL, errImageAddress, errImageStatus, errImageTooLarge, errImageType, errImageRedirect, errImageBusy} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	if errors.Is(err, context.Canceled) {
		return "the browser gave up"
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out"
	}
	return "fetch failed"
}

// imageCache is a bounded LRU cache of images and of failures, by URL.
type imageCache struct {
	mu      sync.Mutex
	max     int // bytes
	size    int
	order   *list.List // front: most recently used
	entries map[string]*list.Element
}

type imageEntry struct {
	key     string
	img     *proxiedImage
	err     error
	expires time.Time
}

// imageEntryOverhead is what an entry costs beyond its bytes, so that
// many small failures are bounded too.
const imageEntryOverhead = 256

func (e *imageEntry) cost() int {
	n := imageEntryOverhead + len(e.key)
	if e.img != nil {
		n += len(e.img.body)
	}
	return n
}

func newImageCache(maxBytes int) *imageCache {
	return &imageCache{max: maxBytes, order: list.New(), entries: map[string]*list.Element{}}
}

// get returns the entry for key; ok is false when there is none or it
// expired.
func (c *imageCache) get(key string, now time.Time) (*proxiedImage, error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil, nil, false
	}
	e := el.Value.(*imageEntry)
	if !now.Before(e.expires) {
		c.remove(el)
		return nil, nil, false
	}
	c.order.MoveToFront(el)
	return e.img, e.err, true
}

// put stores an image or a failure until expires, evicting the least
// recently used entries past the byte budget.
func (c *imageCache) put(key string, img *proxiedImage, err error, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.remove(el)
	}
	e := &imageEntry{key: key, img: img, err: err, expires: expires}
	if e.cost() > c.max {
		return
	}
	c.entries[key] = c.order.PushFront(e)
	c.size += e.cost()
	for c.size > c.max {
		c.remove(c.order.Back())
	}
}

func (c *imageCache) remove(el *list.Element) {
	e := c.order.Remove(el).(*imageEntry)
	delete(c.entries, e.key)
	c.size -= e.cost()
}
