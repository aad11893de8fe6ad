// This file holds the console's sessions: finding the signed-in user of a
// request from its cookie, the idle and absolute expiry, sliding the expiry
// while the session is used, and setting the console's cookies.

package server

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/rechargekit/rechargekit"
)

// sessionCookie holds a console session's token; the store keeps only its hash.
const sessionCookie = "rechargekit_session"

// session returns the request's signed-in user, nil when there is none
// (no cookie, unknown or expired session, deleted user). It reads the
// store within the lookup deadline (storeContext), so a database that
// hangs fails it in time; a store failure is returned as the store's
// error (EUPSTREAM when the database does not answer), never taken for
// "signed out". A request whose session could not be read already
// (sessionUnread) is not asked about again.
func (c *console) session(r *http.Request) (*auth, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 100 || r.Context().Value(sessionUnreadKey{}) != nil {
		return nil, nil
	}
	ctx, cancel := c.storeContext(r.Context())
	defer cancel()
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

// storeContext bounds a console or JSON API request's store calls by the
// lookup deadline, so that a database that hangs (connections accepted,
// nothing answered) fails the request with the store's EUPSTREAM well
// before the store's own bound (connect + statement timeout + a margin),
// and the person or desk is told so in time.
func (c *console) storeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d := c.cfg.LookupDeadline
	if d <= 0 {
		d = DefaultLookupDeadline
	}
	return context.WithTimeout(ctx, d)
}

// databaseTitle titles the error page of a request that failed because
// the store did not answer, in place of errorTitles' EUPSTREAM title,
// which names Recharge.
const databaseTitle = "Database unavailable"

// sessionUnreadKey marks a request whose session the store failed to
// read: pages shown for it (the error page) show no user rather than ask
// the failing store again and double the wait.
type sessionUnreadKey struct{}

// sessionUnread returns r marked with sessionUnreadKey.
func sessionUnread(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), sessionUnreadKey{}, true))
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
