package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
)

//go:embed templates static
var assets embed.FS

// Cookie and form field names.
const (
	sessionCookie   = "rechargekit_session"
	loginCSRFCookie = "rechargekit_login"
	csrfField       = "csrf"
)

// maxFormBytes caps console form bodies; every console form is tiny.
const maxFormBytes = 64 << 10

// console is the agent console and the JSON API.
type console struct {
	cfg           Config
	log           *slog.Logger
	pages         map[string]*template.Template
	assetVer      map[string]string // static file name -> short content hash, for cache busting
	static        http.Handler
	framing       framing // who may frame the console (see securityHeaders)
	limits        signInLimits
	localFailures *memoryFailures // this replica's count; Config.SignInFailures is the shared one
	images        *imageProxy     // GET /img: product images, fetched and checked here
}

func newConsole(cfg Config) *console {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = DefaultSessionIdle
	}
	cfg.SessionIdle = min(cfg.SessionIdle, cfg.SessionTTL)
	if cfg.Metrics == nil {
		cfg.Metrics = rechargekit.NopMetrics{}
	}
	c := &console{
		cfg:           cfg,
		log:           cfg.Logger,
		assetVer:      map[string]string{},
		limits:        defaultSignInLimits,
		localFailures: newMemoryFailures(SignInWindow),
	}
	// securityHeaders logs a refused value; here only the outcome matters.
	c.framing, _ = parseFrameAncestors(cfg.FrameAncestors)
	static, err := fs.Sub(assets, "static")
	if err != nil {
		panic(err) // unreachable: the directory is embedded
	}
	_ = fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		c.assetVer[p] = hex.EncodeToString(sum[:6])
		return nil
	})
	c.static = http.StripPrefix("/static/", http.FileServerFS(static))
	c.images = newImageProxyFor(cfg)
	c.pages = parsePages(c.funcs())
	return c
}

// router is what the console registers its routes with: the server's
// *http.ServeMux, or in tests a recorder that lists every route, so that
// the security tests cover each one without a hand-kept list.
type router interface {
	Handle(pattern string, handler http.Handler)
}

// register mounts the console and the API on mux.
func (c *console) register(mux router) {
	page := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, c.secure(h)) }

	mux.Handle("GET /static/", c.secure(http.HandlerFunc(c.serveStatic)))
	mux.Handle("GET "+imagePath, http.HandlerFunc(c.serveImage))
	page("GET /login", c.loginForm)
	page("POST /login", c.login)
	page("POST /logout", c.signedIn(c.logout))

	page("GET /{$}", c.signedIn(func(w http.ResponseWriter, r *http.Request, s *auth) {
		http.Redirect(w, r, "/profiles", http.StatusSeeOther)
	}))
	page("GET /profiles", c.signedIn(c.profileList))
	page("GET /profiles/{id}", c.signedIn(c.profilePage))
	page("POST /profiles/{id}/link", c.signedIn(c.linkProfile))
	page("GET /profiles/{id}/unlink", c.signedIn(c.unlinkConfirm))
	page("POST /profiles/{id}/unlink", c.signedIn(c.unlinkProfile))

	page("GET /admin/{$}", c.admin(func(w http.ResponseWriter, r *http.Request, s *auth) {
		http.Redirect(w, r, "/admin/settings", http.StatusSeeOther)
	}))
	page("GET /admin/settings", c.admin(c.settingsPage))
	page("POST /admin/settings", c.admin(c.saveSettings))
	page("GET /admin/users", c.admin(c.usersPage))
	page("POST /admin/users", c.admin(c.addUser))
	page("POST /admin/users/{uid}/delete", c.admin(c.deleteUser))
	page("POST /admin/users/{uid}/sessions/end", c.admin(c.endSessions))
	page("GET /admin/tokens", c.admin(c.tokensPage))
	page("POST /admin/tokens", c.admin(c.addToken))
	page("POST /admin/tokens/{tid}/revoke", c.admin(c.revokeToken))
	page("GET /admin/audit", c.admin(c.auditPage))

	// Anything else that is not the API, health or the adaptor gets the
	// console's 404 page.
	page("/", func(w http.ResponseWriter, r *http.Request) {
		c.errorPage(w, r, nil, http.StatusNotFound, "Page not found", "There is nothing at this address.")
	})

	c.registerAPI(mux)
}

// secure keeps console and API answers, which hold customer data, out of
// every cache; static files set their own caching. The security headers
// every answer carries are set by securityHeaders, around the whole mux.
func (c *console) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			w.Header().Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

func (c *console) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/static/")
	if _, ok := c.assetVer[name]; !ok {
		http.NotFound(w, r)
		return
	}
	// URLs carry the content hash (see the asset template function), so
	// a versioned URL can be cached for long.
	if r.URL.Query().Get("v") == c.assetVer[name] {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	c.static.ServeHTTP(w, r)
}

// auth is the signed-in user of a request.
type auth struct {
	User    *rechargekit.User
	Session *rechargekit.Session
}

func (a *auth) isAdmin() bool { return a != nil && a.User.Role == rechargekit.RoleAdmin }

// authHandler is a console handler that needs a signed-in user.
type authHandler func(w http.ResponseWriter, r *http.Request, s *auth)

// signedIn resolves the session cookie; without a valid session a GET is
// sent to the sign-in page (and back afterwards), anything else gets 403.
// State-changing requests must carry the session's CSRF token and, when
// the browser says where they come from, come from this site.
func (c *console) signedIn(next authHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := c.session(r)
		if err != nil {
			c.internalError(w, r, nil, err)
			return
		}
		if s == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.errorPage(w, r, nil, http.StatusForbidden, "Signed out", "Your session has ended. Sign in again and retry.")
			return
		}
		if isStateChanging(r.Method) {
			if !c.sameOrigin(r) || !c.csrfOK(w, r, s.Session.CSRFToken) {
				c.log.WarnContext(r.Context(), "refused a console request without a valid CSRF token or from another site",
					"method", r.Method, "path", r.URL.Path, "user_id", s.User.ID)
				c.errorPage(w, r, s, http.StatusForbidden, "Request refused",
					"This form had expired or did not come from this site. Go back, reload the page and try again.")
				return
			}
		}
		next(w, r, s)
	}
}

// admin is signedIn for admins only; an agent gets a friendly 403.
func (c *console) admin(next authHandler) http.HandlerFunc {
	return c.signedIn(func(w http.ResponseWriter, r *http.Request, s *auth) {
		if !s.isAdmin() {
			c.errorPage(w, r, s, http.StatusForbidden, "Admins only",
				"This page is for admins. Ask an admin if you need a setting, a user or an API token changed.")
			return
		}
		next(w, r, s)
	})
}

func isStateChanging(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// session returns the request's signed-in user, nil when there is none
// (no cookie, unknown or expired session, deleted user).
func (c *console) session(r *http.Request) (*auth, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 100 {
		return nil, nil
	}
	ctx := r.Context()
	sess, err := c.cfg.Store.Session(ctx, hashToken(ck.Value), c.cfg.Now())
	switch rechargekit.ErrorCode(err) {
	case "":
	case rechargekit.ENOTFOUND:
		return nil, nil
	default:
		return nil, fmt.Errorf("server: read session: %w", err)
	}
	u, err := c.cfg.Store.UserByID(ctx, sess.UserID)
	switch rechargekit.ErrorCode(err) {
	case "":
	case rechargekit.ENOTFOUND:
		return nil, nil
	default:
		return nil, fmt.Errorf("server: read user of session: %w", err)
	}
	if !c.slide(ctx, sess) {
		return nil, nil
	}
	return &auth{User: u, Session: sess}, nil
}

// DefaultSessionIdle is how long a console session lasts without a
// request, unless Config.SessionIdle says otherwise: long enough for an
// agent between two customers, short enough that a console left open on
// a shared desk signs itself out.
const DefaultSessionIdle = time.Hour

// DefaultSessionTTL is how long a console sign-in lasts at most, unless
// Config.SessionTTL says otherwise: a working day and then some.
const DefaultSessionTTL = 12 * time.Hour

// sessionExpiry is when a session used at now ends: SessionIdle later, but
// never past SessionTTL after it was created.
func (c *console) sessionExpiry(created, now time.Time) time.Time {
	return minTime(now.Add(c.cfg.SessionIdle), created.Add(c.cfg.SessionTTL)).UTC()
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// slide moves a session in use to end the idle timeout from now: forward
// while it is used, and back when it was stored with a longer timeout (a
// session from before an upgrade, or before the setting was lowered). The
// store is written only once the expiry would move by a minute or more (a
// tenth of the idle timeout when shorter), not on every request. It
// reports false when the session ended meanwhile (signed out elsewhere,
// or expired); a store that fails to write keeps the session as it was,
// with a warning.
func (c *console) slide(ctx context.Context, sess *rechargekit.Session) bool {
	now := c.cfg.Now()
	until := c.sessionExpiry(sess.CreatedAt, now)
	if !until.After(now) {
		// Past its lifetime (stored with a longer one): it ends now.
		if err := c.cfg.Store.DeleteSession(ctx, sess.TokenHash); err != nil {
			c.log.WarnContext(ctx, "could not delete a console session past its lifetime", "user_id", sess.UserID, "error", err)
		}
		return false
	}
	if until.Sub(sess.ExpiresAt).Abs() < min(time.Minute, c.cfg.SessionIdle/10) {
		return true
	}
	err := c.cfg.Store.TouchSession(ctx, sess.TokenHash, now, until)
	switch rechargekit.ErrorCode(err) {
	case "":
		sess.ExpiresAt = until
	case rechargekit.ENOTFOUND:
		return false
	default:
		c.log.WarnContext(ctx, "could not move a console session's expiry; it ends at its current one",
			"user_id", sess.UserID, "expires_at", sess.ExpiresAt, "error", err)
	}
	return true
}

// csrfOK parses the form (capped) and compares its CSRF field with want in
// constant time.
func (c *console) csrfOK(w http.ResponseWriter, r *http.Request, want string) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return false
	}
	got := r.PostForm.Get(csrfField)
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// sameOrigin reports whether a state-changing request comes from this site,
// as far as the browser says: Sec-Fetch-Site, then Origin, then Referer.
// A request with none of them (an old browser, a script) passes on the
// strength of its CSRF token alone.
func (c *console) sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		return hostOf(o) == strings.ToLower(r.Host)
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		return hostOf(ref) == strings.ToLower(r.Host)
	}
	return true
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "\x00" // never equal to a Host header
	}
	return strings.ToLower(u.Host)
}

// secureRequest reports whether cookies must carry the Secure flag.
func (c *console) secureRequest(r *http.Request) bool {
	return c.cfg.SecureCookies || overHTTPS(r)
}

// setCookie sets a console cookie: HttpOnly, SameSite=Lax, and Secure
// over TLS. When another site may frame the console (Config.FrameAncestors),
// the cookies are SameSite=None, Secure and Partitioned instead, since a
// browser sends no Lax cookie to a cross-site frame; a framed console
// therefore needs HTTPS, and its forms stay protected by their CSRF tokens
// and the same-origin check.
func (c *console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, expires time.Time) {
	ck := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		Secure:   c.secureRequest(r),
	}
	if c.framing.crossSite {
		ck.SameSite, ck.Secure, ck.Partitioned = http.SameSiteNoneMode, true, true
	}
	if value == "" {
		ck.MaxAge = -1
	} else if !expires.IsZero() {
		ck.Expires = expires.UTC()
		ck.MaxAge = max(1, int(expires.Sub(c.cfg.Now()).Seconds()))
	}
	http.SetCookie(w, ck)
}

// loginData is the sign-in page.
type loginData struct {
	Email string
	Next  string
	Error string
}

// loginForm shows the sign-in form, also to a signed-in user (to switch
// accounts: signing in again replaces the session).
func (c *console) loginForm(w http.ResponseWriter, r *http.Request) {
	c.renderLogin(w, r, http.StatusOK, loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

// renderLogin shows the sign-in form with a fresh login CSRF token, kept
// in a short-lived cookie and in the form (double submit), so another site
// cannot sign a browser in to an account of its choosing.
func (c *console) renderLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	tok := randomToken()
	c.setCookie(w, r, loginCSRFCookie, tok, c.cfg.Now().Add(time.Hour))
	c.render(w, r, status, "login", &pageData{Title: "Sign in", CSRF: tok, Data: d})
}

func (c *console) login(w http.ResponseWriter, r *http.Request) {
	now := c.cfg.Now()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		c.renderLogin(w, r, http.StatusBadRequest, loginData{Error: "The form could not be read. Try again."})
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	next := safeNext(r.PostForm.Get("next"))
	ck, _ := r.Cookie(loginCSRFCookie)
	if ck == nil || ck.Value == "" || !c.sameOrigin(r) ||
		subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.PostForm.Get(csrfField))) != 1 {
		c.renderLogin(w, r, http.StatusForbidden, loginData{Email: email, Next: next,
			Error: "The sign-in form had expired. Please sign in again."})
		return
	}
	ip := c.clientIP(r)
	keys := c.signInKeys(ip, strings.ToLower(email))
	// Claimed before the password is checked, so that past a limit even
	// the right password is refused and the answer says nothing about it,
	// and parallel guesses are each counted before any is checked.
	if !c.claimSignIn(r.Context(), keys, now) {
		c.cfg.Metrics.SignIn(rechargekit.SignInLimited)
		c.log.WarnContext(r.Context(), "sign-in refused: too many failed attempts", "ip", ip)
		c.errorPage(w, r, nil, http.StatusTooManyRequests, "Too many attempts",
			"There were too many failed sign-ins from here. Wait 15 minutes and try again, or ask an admin to reset your password.")
		return
	}
	u, err := c.checkCredentials(r.Context(), email, r.PostForm.Get("password"))
	if err != nil {
		c.releaseSignIn(r.Context(), keys, now) // the password was never checked
		c.internalError(w, r, nil, err)
		return
	}
	if u == nil {
		// The claims stand: they are this failure.
		c.cfg.Metrics.SignIn(rechargekit.SignInWrong)
		c.log.InfoContext(r.Context(), "sign-in failed", "ip", ip)
		c.renderLogin(w, r, http.StatusUnauthorized, loginData{Email: email, Next: next,
			Error: "That email and password do not match an account."})
		return
	}
	c.signInSucceeded(r.Context(), keys, now)

	// Rotate: the session the browser had (if any) ends, and a new token is
	// issued, so a token planted before sign-in is worthless after it.
	if old, err := r.Cookie(sessionCookie); err == nil && old.Value != "" {
		if err := c.cfg.Store.DeleteSession(r.Context(), hashToken(old.Value)); err != nil {
			c.log.WarnContext(r.Context(), "could not delete the previous session", "error", err)
		}
	}
	token := randomToken()
	sess := &rechargekit.Session{
		TokenHash: hashToken(token),
		UserID:    u.ID,
		CSRFToken: randomToken(),
		CreatedAt: now.UTC(),
		ExpiresAt: c.sessionExpiry(now, now),
	}
	if err := c.cfg.Store.CreateSession(r.Context(), sess); err != nil {
		c.internalError(w, r, nil, fmt.Errorf("server: create session: %w", err))
		return
	}
	// The cookie lasts the whole sign-in; the server ends it sooner when idle.
	c.setCookie(w, r, sessionCookie, token, now.Add(c.cfg.SessionTTL))
	c.setCookie(w, r, loginCSRFCookie, "", time.Time{})
	c.cfg.Metrics.SignIn(rechargekit.SignInOK)
	c.log.InfoContext(r.Context(), "signed in", "user_id", u.ID, "role", u.Role)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// checkCredentials returns the user whose email and password these are, or
// nil. An unknown email costs the same hashing as a wrong password.
func (c *console) checkCredentials(ctx context.Context, email, password string) (*rechargekit.User, error) {
	if email == "" || password == "" {
		CheckPassword(dummyHash(), "x")
		return nil, nil
	}
	u, err := c.cfg.Store.UserByEmail(ctx, email)
	switch rechargekit.ErrorCode(err) {
	case "":
	case rechargekit.ENOTFOUND, rechargekit.EINVALID:
		CheckPassword(dummyHash(), password)
		return nil, nil
	default:
		return nil, fmt.Errorf("server: find user: %w", err)
	}
	if !CheckPassword(u.PasswordHash, password) {
		return nil, nil
	}
	return u, nil
}

func (c *console) logout(w http.ResponseWriter, r *http.Request, s *auth) {
	if err := c.cfg.Store.DeleteSession(r.Context(), s.Session.TokenHash); err != nil {
		c.internalError(w, r, s, fmt.Errorf("server: delete session: %w", err))
		return
	}
	c.setCookie(w, r, sessionCookie, "", time.Time{})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext returns next when it is a path on this site, else "/profiles":
// the sign-in page must not redirect to another site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\r\n\t") {
		return "/profiles"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/profiles"
	}
	if p := path.Clean(u.Path); p == "/login" || p == "/logout" {
		return "/profiles"
	}
	return next
}

// clientIP is the address of the client: the peer address, or, when the
// peer is one of Config.TrustedProxies, the rightmost X-Forwarded-For
// address that is not itself a trusted proxy. Behind a load balancer
// without it, every client would share the balancer's address, and one
// person's failed sign-ins would lock everyone out. From any other peer
// X-Forwarded-For is ignored: anyone can send it.
func (c *console) clientIP(r *http.Request) string {
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		peer = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(peer)
	if err != nil || !c.trustedProxy(addr) {
		return peer
	}
	client := addr
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			if ap, err2 := netip.ParseAddrPort(strings.TrimSpace(hops[i])); err2 == nil {
				hop, err = ap.Addr(), nil
			}
		}
		if err != nil {
			break // a hop the proxies did not write: trust nothing left of it
		}
		client = hop
		if !c.trustedProxy(hop) {
			break
		}
	}
	return client.Unmap().WithZone("").String()
}

func (c *console) trustedProxy(addr netip.Addr) bool {
	addr = addr.Unmap().WithZone("")
	for _, p := range c.cfg.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// pageData is what every page template receives.
type pageData struct {
	Title string
	Nav   string // which navigation item is current
	User  *rechargekit.User
	CSRF  string
	Flash *flash
	Data  any
}

// flash is a one-line notice at the top of a page.
type flash struct {
	Kind string // "success", "error" or "info"
	Text string
}

// flashes are the notices a redirect can ask for with ?msg=; only these
// fixed texts can appear, so a crafted link cannot put words on the page.
var flashes = map[string]flash{
	"linked":           {"success", "Linked. The Subscription card is below."},
	"unlinked":         {"success", "Unlinked. From now on this profile is only linked by hand."},
	"not_linked":       {"info", "This profile is not linked."},
	"conflict":         {"error", "This profile is already linked to another Recharge customer. Unlink it first."},
	"customer_missing": {"error", "That Recharge customer does not exist (any more)."},
	"upstream":         {"error", "Recharge is unavailable right now; try again shortly."},
	"invalid":          {"error", "That is not a valid Recharge customer id."},
	"settings_saved":   {"success", "Settings saved."},
	"user_deleted":     {"success", "User deleted. Their sessions have ended."},
	"sessions_ended":   {"success", "Signed out everywhere: that user's sessions have ended."},
	"self_delete":      {"error", "You cannot delete your own account while signed in with it."},
	"user_missing":     {"error", "That user no longer exists."},
	"token_revoked":    {"success", "API token revoked. Requests using it are refused from now on."},
	"token_missing":    {"error", "That API token no longer exists."},
}

func flashFor(r *http.Request) *flash {
	if f, ok := flashes[r.URL.Query().Get("msg")]; ok {
		return &f
	}
	return nil
}

// render executes a page template into a buffer, then writes it, so that a
// template failure is a clean 500 rather than half a page.
func (c *console) render(w http.ResponseWriter, r *http.Request, status int, name string, d *pageData) {
	t := c.pages[name]
	if t == nil {
		c.internalError(w, r, nil, fmt.Errorf("server: no page template %q", name))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", d); err != nil {
		c.log.ErrorContext(r.Context(), "render page", "page", name, "error", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintln(w, "Something went wrong while showing this page.")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// withAuth fills in the user and CSRF token of a page.
func withAuth(d *pageData, s *auth) *pageData {
	if s != nil {
		d.User = s.User
		d.CSRF = s.Session.CSRFToken
	}
	return d
}

type errorData struct {
	Status  int
	Message string
}

// errorPage shows a friendly error page with the given status.
func (c *console) errorPage(w http.ResponseWriter, r *http.Request, s *auth, status int, title, message string) {
	if s == nil {
		// The header shows who is signed in, even on a 404.
		s, _ = c.session(r)
	}
	c.render(w, r, status, "error", withAuth(&pageData{Title: title, Data: errorData{Status: status, Message: message}}, s))
}

// internalError logs err with its detail and shows a page without it.
func (c *console) internalError(w http.ResponseWriter, r *http.Request, s *auth, err error) {
	c.log.ErrorContext(r.Context(), "console error", "method", r.Method, "path", r.URL.Path, "error", err)
	c.render(w, r, http.StatusInternalServerError, "error", withAuth(&pageData{Title: "Something went wrong",
		Data: errorData{Status: http.StatusInternalServerError,
			Message: "Something went wrong on our side. Try again; if it keeps happening, tell an admin."}}, s))
}

// errIs reports whether err has the domain code.
func errIs(err error, code string) bool { return err != nil && rechargekit.ErrorCode(err) == code }
