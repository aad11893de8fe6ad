// This file holds signing in and out of the console: the sign-in form and
// its own CSRF cookie, checking a password against the sign-in limits,
// issuing a fresh session, signing out, and where to go afterwards.

package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
)

// loginCSRFCookie holds the sign-in form's CSRF token (double submit).
const loginCSRFCookie = "rechargekit_login"

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
		if errors.Is(err, errSignInBusy) || r.Context().Err() != nil {
			c.log.WarnContext(r.Context(), "sign-in refused: every password check is busy", "ip", ip)
			w.Header().Set("Retry-After", "5")
			c.renderLogin(w, r, http.StatusServiceUnavailable, loginData{Email: email, Next: next,
				Error: "Too many sign-ins are being checked right now. Wait a few seconds and try again."})
			return
		}
		c.loginFailed(w, r, loginData{Email: email, Next: next}, err)
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
	// Both store calls together get the lookup deadline (the wait for a
	// password check is not counted in it).
	sctx, cancel := c.storeContext(r.Context())
	defer cancel()
	if old, err := r.Cookie(sessionCookie); err == nil && old.Value != "" {
		if err := c.cfg.Store.DeleteSession(sctx, hashToken(old.Value)); err != nil {
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
	if err := c.cfg.Store.CreateSession(sctx, sess); err != nil {
		c.loginFailed(w, r, loginData{Email: email, Next: next}, fmt.Errorf("server: create session: %w", err))
		return
	}
	// The cookie lasts the whole sign-in; the server ends it sooner when idle.
	c.setCookie(w, r, sessionCookie, token, now.Add(c.cfg.SessionTTL))
	c.setCookie(w, r, loginCSRFCookie, "", time.Time{})
	c.cfg.Metrics.SignIn(rechargekit.SignInOK)
	c.log.InfoContext(r.Context(), "signed in", "user_id", u.ID, "role", u.Role)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// loginFailed answers a sign-in that the store failed. When the database
// does not answer (EUPSTREAM) it is the sign-in form again, with the error
// table's status (503) and the store's sentence, so the person can retry
// from it; any other error is internal, logged and shown as one.
func (c *console) loginFailed(w http.ResponseWriter, r *http.Request, d loginData, err error) {
	if code := rechargekit.ErrorCode(err); code != rechargekit.EUPSTREAM {
		c.internalError(w, r, nil, err)
		return
	}
	c.log.WarnContext(r.Context(), "sign-in failed: the database did not answer", "error", err)
	d.Error = rechargekit.ErrorMessage(err) + " Try again shortly."
	c.renderLogin(w, r, errorStatus[rechargekit.EUPSTREAM], d)
}

// checkCredentials returns the user whose email and password these are, or
// nil. An unknown email costs the same hashing as a wrong password. Every
// check waits its turn at the console's hashGate; it returns errSignInBusy
// when none came in time. The user is read within the lookup deadline
// (storeContext); the wait for a check is bounded by the gate's own.
func (c *console) checkCredentials(ctx context.Context, email, password string) (*rechargekit.User, error) {
	if email == "" || password == "" {
		_, err := c.passwordMatches(ctx, dummyHash(), "x")
		return nil, err
	}
	uctx, cancel := c.storeContext(ctx)
	u, err := c.cfg.Store.UserByEmail(uctx, email)
	cancel()
	switch rechargekit.ErrorCode(err) {
	case "":
	case rechargekit.ENOTFOUND, rechargekit.EINVALID:
		_, err := c.passwordMatches(ctx, dummyHash(), password)
		return nil, err
	default:
		return nil, fmt.Errorf("server: find user: %w", err)
	}
	ok, err := c.passwordMatches(ctx, u.PasswordHash, password)
	if err != nil || !ok {
		return nil, err
	}
	return u, nil
}

// passwordMatches checks pw against hash once the hashGate lets it.
func (c *console) passwordMatches(ctx context.Context, hash, pw string) (bool, error) {
	return c.hashes.run(ctx, func() bool { return c.checkPassword(hash, pw) })
}

func (c *console) logout(w http.ResponseWriter, r *http.Request, s *auth) {
	if err := c.cfg.Store.DeleteSession(r.Context(), s.Session.TokenHash); err != nil {
		c.renderError(w, r, s, databaseTitle, fmt.Errorf("server: delete session: %w", err))
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
