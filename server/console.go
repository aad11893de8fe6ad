// This file holds the console itself: its routes, the wrappers that require
// a signed-in user or an admin, static files, flash notices and page
// rendering. Sessions, CSRF, sign-in and client addresses have files of
// their own.

package server

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/rechargekit/rechargekit"
)

//go:embed templates static
var assets embed.FS

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
	sharedDown    atomic.Bool     // Config.SignInFailures is failing (see withCounter)
	images        *imageProxy     // GET /img: product images, fetched and checked here
	hashes        *hashGate       // bounds the password checks running at once
	// checkPassword is CheckPassword; tests replace it to see and hold
	// the checks the hashGate lets through.
	checkPassword func(hash, pw string) bool
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
		hashes:        newHashGate(0, 0),
		checkPassword: CheckPassword,
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
	page("POST /profiles/{id}/refresh", c.signedIn(c.refreshCard))
	page("GET /profiles/{id}/unlink", c.signedIn(c.unlinkConfirm))
	page("POST /profiles/{id}/unlink", c.signedIn(c.unlinkProfile))
	page("GET /profiles/{id}/subscriptions/{sub}/actions/{action}", c.signedIn(c.actionForm))
	page("POST /profiles/{id}/subscriptions/{sub}/actions/{action}", c.signedIn(c.actionSubmit))

	page("GET /admin/{$}", c.admin(func(w http.ResponseWriter, r *http.Request, s *auth) {
		http.Redirect(w, r, "/admin/settings", http.StatusSeeOther)
	}))
	page("GET /admin/settings", c.admin(c.settingsPage))
	page("POST /admin/settings", c.admin(c.saveSettings))
	page("POST /admin/settings/actions", c.admin(c.savePolicy))
	page("GET /admin/users", c.admin(c.usersPage))
	page("POST /admin/users", c.admin(c.addUser))
	page("POST /admin/users/{uid}/delete", c.admin(c.deleteUser))
	page("POST /admin/users/{uid}/sessions/end", c.admin(c.endSessions))
	page("GET /admin/tokens", c.admin(c.tokensPage))
	page("POST /admin/tokens", c.admin(c.addToken))
	page("POST /admin/tokens/{tid}/revoke", c.admin(c.revokeToken))
	page("GET /admin/audit", c.admin(c.auditPage))
	page("GET /admin/audit/actions", c.admin(c.actionAuditPage))

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
//
// The whole request, session included, runs within the lookup deadline
// (storeContext), so every store call it makes is bounded by it. When the
// store cannot read the session (a hung or down database is EUPSTREAM),
// the person gets the error page the error table gives (503, "The
// database is not answering right now."), not the sign-in page: they may
// well be signed in, and signing in needs the database too.
func (c *console) signedIn(next authHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := c.storeContext(r.Context())
		defer cancel()
		r = r.WithContext(ctx)
		s, err := c.session(r)
		if err != nil {
			c.renderError(w, sessionUnread(r), nil, databaseTitle, err)
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

// pageData is what every page template receives.
type pageData struct {
	Title string
	Nav   string // which navigation item is current
	User  *rechargekit.User
	CSRF  string
	Flash *flash // set by render from the session's waiting notice
	Data  any

	// session is the signed-in session, whose waiting notice render takes.
	session *rechargekit.Session
}

// flash is a one-line notice at the top of a page.
type flash struct {
	Kind string // "success", "error" or "info"
	Text string
}

// flashes are the notices an action can leave for the next page of its
// session (redirectWithFlash); only these keys are stored and shown, so
// neither a crafted link nor a stale key can put other words on a page.
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
	"refreshed":        {"success", "Read again from Recharge just now."},
	"refresh_failed":   {"error", "The saved copy could not be cleared, so the card below may be up to a few minutes old. Try again shortly."},

	// The outcomes of the subscription actions (actions.go).
	"action_cancel":               {"success", "Cancelled. Recharge will not charge this subscription again; the card below shows it."},
	"action_reactivate":           {"success", "Reactivated. The card below shows its next charge date."},
	"action_skip":                 {"success", "Skipped. The card below shows the next charge date."},
	"action_unskip":               {"success", "Unskipped. The charge is back; the card below shows it."},
	"action_set_next_charge_date": {"success", "Next charge moved. The card below shows the new date."},
	"action_change_frequency":     {"success", "Frequency changed. The card below shows the new interval and next charge date."},
	"action_change_quantity":      {"success", "Quantity changed. The card below shows it."},
	"action_replayed":             {"info", "This form was already sent: the action was applied once, not again. The card below shows it."},
	"policy_saved":                {"success", "Action permissions saved."},
}

// redirectWithFlash ends a console action: it leaves the notice key for
// the session's next page and redirects to the clean URL to. The notice
// lives in the session, in the database, so any replica shows it, once;
// the URL carries none. The action has happened whatever becomes of the
// notice, so a failing write is logged and the redirect goes ahead.
func (c *console) redirectWithFlash(w http.ResponseWriter, r *http.Request, s *auth, to, key string) {
	c.setFlash(r, s, key)
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// setFlash stores the notice key for the session's next page; see
// redirectWithFlash.
func (c *console) setFlash(r *http.Request, s *auth, key string) {
	ctx := r.Context()
	if _, ok := flashes[key]; !ok {
		c.log.ErrorContext(ctx, "console: no flash notice has this key; none is shown", "key", key, "path", r.URL.Path)
		return
	}
	if s == nil || s.Session == nil {
		return
	}
	if err := c.cfg.Store.SetSessionFlash(ctx, s.Session.TokenHash, key, c.cfg.Now()); err != nil {
		c.log.WarnContext(ctx, "console: could not leave a notice for the next page; it shows none",
			"key", key, "user_id", s.User.ID, "error", err)
	}
}

// takeFlash takes the notice waiting for the session of d, if Session
// said one was, and returns it for the page; nil when none is waiting, or
// when its key is not one of flashes. A HEAD request shows no page, so it
// leaves the notice for the next GET.
func (c *console) takeFlash(r *http.Request, d *pageData) *flash {
	if d.session == nil || d.session.Flash == "" || r.Method == http.MethodHead {
		return nil
	}
	ctx := r.Context()
	key, err := c.cfg.Store.TakeSessionFlash(ctx, d.session.TokenHash, c.cfg.Now())
	if err != nil {
		c.log.WarnContext(ctx, "console: could not take the notice waiting for this page; it shows none", "path", r.URL.Path, "error", err)
		return nil
	}
	d.session.Flash = ""
	if f, ok := flashes[key]; ok {
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
	if d.Flash == nil {
		d.Flash = c.takeFlash(r, d)
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

// withAuth fills in the user, CSRF token and session of a page.
func withAuth(d *pageData, s *auth) *pageData {
	if s != nil {
		d.User = s.User
		d.CSRF = s.Session.CSRFToken
		d.session = s.Session
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
