package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/metrics/metricstest"
	"github.com/rechargekit/rechargekit/server"
)

const sessionCookie = "rechargekit_session"

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	h, err := server.HashPassword("s3cret pass")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not a self-describing argon2id string", h)
	}
	h2, _ := server.HashPassword("s3cret pass")
	if h == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	if !server.CheckPassword(h, "s3cret pass") || !server.CheckPassword(h2, "s3cret pass") {
		t.Error("CheckPassword refused the right password")
	}
	for _, tc := range []struct{ name, hash, pw string }{
		{"wrong password", h, "s3cret Pass"},
		{"empty password", h, ""},
		{"empty hash", "", "s3cret pass"},
		{"other algorithm", strings.Replace(h, "argon2id", "argon2i", 1), "s3cret pass"},
		{"other version", strings.Replace(h, "v=19", "v=16", 1), "s3cret pass"},
		{"huge memory", strings.Replace(h, "m=19456", "m=4194304", 1), "s3cret pass"},
		{"huge time", strings.Replace(h, "t=2", "t=100000", 1), "s3cret pass"},
		{"zero threads", strings.Replace(h, "p=1", "p=0", 1), "s3cret pass"},
		{"truncated", h[:len(h)-10], "s3cret pass"},
		{"plain text", "s3cret pass", "s3cret pass"},
	} {
		if server.CheckPassword(tc.hash, tc.pw) {
			t.Errorf("%s: CheckPassword accepted", tc.name)
		}
	}
	if _, err := server.HashPassword(""); err == nil {
		t.Error("HashPassword accepted an empty password")
	}
	if _, err := server.HashPassword(strings.Repeat("x", 2000)); err == nil {
		t.Error("HashPassword accepted a 2000-byte password")
	}
}

func TestGeneratedSecrets(t *testing.T) {
	t.Parallel()
	p1, p2 := server.GeneratePassword(), server.GeneratePassword()
	if len(p1) < 20 || p1 == p2 {
		t.Errorf("GeneratePassword = %q, %q: want long and different", p1, p2)
	}
	tok, hash := server.NewAPIToken()
	tok2, _ := server.NewAPIToken()
	if !strings.HasPrefix(tok, "rk_") || len(tok) < 40 || tok == tok2 {
		t.Errorf("NewAPIToken = %q: want rk_ and 256 random bits", tok)
	}
	if hash != server.HashAPIToken(tok) || len(hash) != 64 || strings.Contains(hash, tok) {
		t.Errorf("hash %q is not the SHA-256 hex of the token", hash)
	}
	// The known SHA-256 of "abc".
	if got := server.HashAPIToken("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("HashAPIToken(abc) = %s", got)
	}
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)

	t.Run("success", func(t *testing.T) {
		b := e.Browser(t)
		p := b.Login(agentEmail, agentPassword)
		if p.Status != http.StatusSeeOther || p.Resp.Header.Get("Location") != "/profiles" {
			t.Fatalf("sign-in = %d to %q", p.Status, p.Resp.Header.Get("Location"))
		}
		ck := setCookie(p, sessionCookie)
		if ck == nil {
			t.Fatal("no session cookie")
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure || ck.Path != "/" {
			t.Errorf("cookie = %+v, want HttpOnly, SameSite=Lax, not Secure over plain http, Path=/", ck)
		}
		if ck.MaxAge <= 0 || ck.MaxAge > int((12*time.Hour).Seconds()) {
			t.Errorf("cookie MaxAge = %d, want the session TTL (12h)", ck.MaxAge)
		}
		// Only the hash is stored: the cookie value itself is no session id.
		if _, err := e.Store.Session(context.Background(), ck.Value, e.Clock.Now()); rechargekit.ErrorCode(err) != rechargekit.ENOTFOUND {
			t.Errorf("the raw cookie value finds a session (err %v): the store must hold only its hash", err)
		}
		home := b.Get("/profiles")
		mustContain(t, home.Body, agentEmail, "Sign out", "Alex Rivera")
		if strings.Contains(e.Logs.String(), agentPassword) || strings.Contains(e.Logs.String(), ck.Value) {
			t.Error("the log holds the password or the session token")
		}
	})

	t.Run("secure behind TLS proxy", func(t *testing.T) {
		b := e.Browser(t)
		b.Header.Set("X-Forwarded-Proto", "https")
		p := b.Login(agentEmail, agentPassword)
		ck := setCookie(p, sessionCookie)
		if ck == nil || !ck.Secure || !ck.HttpOnly {
			t.Errorf("cookie behind X-Forwarded-Proto https = %+v, want Secure and HttpOnly", ck)
		}
	})

	for _, tc := range []struct{ name, email, password string }{
		{"wrong password", agentEmail, "nope"},
		{"unknown email", "nobody@example.com", agentPassword},
		{"empty password", agentEmail, ""},
		{"email case does not help a wrong password", strings.ToUpper(agentEmail), "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := e.Browser(t)
			p := b.Login(tc.email, tc.password)
			if p.Status != http.StatusUnauthorized {
				t.Fatalf("sign-in = %d, want 401", p.Status)
			}
			mustContain(t, p.Body, "That email and password do not match an account.")
			if setCookie(p, sessionCookie) != nil {
				t.Error("a failed sign-in set a session cookie")
			}
			if g := b.Get("/profiles"); g.Status != http.StatusSeeOther || !strings.HasPrefix(g.Resp.Header.Get("Location"), "/login") {
				t.Errorf("after a failed sign-in /profiles = %d %q, want a redirect to /login", g.Status, g.Resp.Header.Get("Location"))
			}
		})
	}

	t.Run("email is case-insensitive", func(t *testing.T) {
		e.Browser(t).MustLogin(strings.ToUpper(agentEmail), agentPassword)
	})

	t.Run("login form CSRF", func(t *testing.T) {
		b := e.Browser(t)
		b.Get("/login")
		p := b.Post("/login", url.Values{"email": {agentEmail}, "password": {agentPassword}, "csrf": {"forged"}})
		if p.Status != http.StatusForbidden || setCookie(p, sessionCookie) != nil {
			t.Errorf("sign-in with a forged login token = %d, want 403 without a session", p.Status)
		}
		fresh := e.Browser(t) // no login cookie at all: a cross-site form post
		p = fresh.Post("/login", url.Values{"email": {agentEmail}, "password": {agentPassword}})
		if p.Status != http.StatusForbidden || setCookie(p, sessionCookie) != nil {
			t.Errorf("sign-in without a login token = %d, want 403 without a session", p.Status)
		}
	})

	t.Run("redirects back to the page asked for", func(t *testing.T) {
		b := e.Browser(t)
		g := b.Get("/profiles/" + profAlex)
		loc := g.Resp.Header.Get("Location")
		if g.Status != http.StatusSeeOther || loc != "/login?next=%2Fprofiles%2F"+profAlex {
			t.Fatalf("signed-out profile = %d %q", g.Status, loc)
		}
		lp := b.Get(loc)
		p := b.Post("/login", url.Values{"email": {agentEmail}, "password": {agentPassword}, "csrf": {CSRF(t, lp.Body)}, "next": {"/profiles/" + profAlex}})
		if p.Resp.Header.Get("Location") != "/profiles/"+profAlex {
			t.Errorf("after sign-in Location = %q", p.Resp.Header.Get("Location"))
		}
	})

	t.Run("never redirects off-site", func(t *testing.T) {
		for _, next := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "/login"} {
			b := e.Browser(t)
			lp := b.Get("/login")
			p := b.Post("/login", url.Values{"email": {agentEmail}, "password": {agentPassword}, "csrf": {CSRF(t, lp.Body)}, "next": {next}})
			if got := p.Resp.Header.Get("Location"); got != "/profiles" {
				t.Errorf("next=%q: Location = %q, want /profiles", next, got)
			}
		}
	})
}

func TestSessionRotationExpiryAndSignOut(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)

	t.Run("rotation", func(t *testing.T) {
		b := e.Browser(t).MustLogin(agentEmail, agentPassword)
		first := b.Cookie(sessionCookie).Value
		b.MustLogin(agentEmail, agentPassword) // signs in again in the same browser
		second := b.Cookie(sessionCookie).Value
		if first == second {
			t.Fatal("signing in again kept the session token")
		}
		old := e.Browser(t)
		old.Header.Set("Cookie", sessionCookie+"="+first)
		if p := old.Get("/profiles"); p.Status != http.StatusSeeOther {
			t.Errorf("the replaced session still works: %d", p.Status)
		}
		if p := b.Get("/profiles"); p.Status != http.StatusOK {
			t.Errorf("the new session does not work: %d", p.Status)
		}
	})

	t.Run("sign-out", func(t *testing.T) {
		b := e.Browser(t).MustLogin(agentEmail, agentPassword)
		token := b.Cookie(sessionCookie).Value
		// Without the CSRF token, sign-out is refused and the session lives.
		if p := b.Post("/logout", nil); p.Status != http.StatusForbidden {
			t.Errorf("sign-out without CSRF = %d, want 403", p.Status)
		}
		if p := b.Get("/profiles"); p.Status != http.StatusOK {
			t.Fatalf("session ended by a refused sign-out: %d", p.Status)
		}
		p := b.PostWithCSRF("/profiles", "/logout", nil)
		if p.Status != http.StatusSeeOther || p.Resp.Header.Get("Location") != "/login" {
			t.Errorf("sign-out = %d %q", p.Status, p.Resp.Header.Get("Location"))
		}
		if ck := setCookie(p, sessionCookie); ck == nil || ck.MaxAge >= 0 {
			t.Errorf("sign-out did not clear the cookie: %+v", ck)
		}
		replay := e.Browser(t)
		replay.Header.Set("Cookie", sessionCookie+"="+token)
		if p := replay.Get("/profiles"); p.Status != http.StatusSeeOther {
			t.Errorf("a signed-out session token still works: %d", p.Status)
		}
	})

	t.Run("expiry", func(t *testing.T) {
		// Its own server and clock, since the clock moves.
		e := MustEnv(t, envOptions{Config: func(c *server.Config) { c.SessionTTL = time.Hour }})
		b := e.Browser(t).MustLogin(agentEmail, agentPassword)
		e.Clock.Advance(59 * time.Minute)
		if p := b.Get("/profiles"); p.Status != http.StatusOK {
			t.Fatalf("session before expiry = %d", p.Status)
		}
		e.Clock.Advance(2 * time.Minute)
		p := b.Get("/profiles")
		if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Resp.Header.Get("Location"), "/login") {
			t.Errorf("expired session = %d %q, want a redirect to sign in", p.Status, p.Resp.Header.Get("Location"))
		}
		// A state-changing request with an expired session is refused, not redirected.
		if p := b.Post("/profiles/"+profSam+"/link", url.Values{"customer_id": {"183940001"}}); p.Status != http.StatusForbidden {
			t.Errorf("POST with an expired session = %d, want 403", p.Status)
		}
	})

	t.Run("idle timeout", func(t *testing.T) {
		e := MustEnv(t, envOptions{Config: func(c *server.Config) { c.SessionTTL, c.SessionIdle = 12*time.Hour, 30*time.Minute }})
		b := e.Browser(t).MustLogin(agentEmail, agentPassword)
		if ck := b.Cookie(sessionCookie); ck == nil {
			t.Fatal("no session cookie")
		}
		// In use: each request moves the end 30 minutes on.
		for i := range 4 {
			e.Clock.Advance(29 * time.Minute)
			if p := b.Get("/profiles"); p.Status != http.StatusOK {
				t.Fatalf("request %d, 29 minutes after the one before = %d, want 200", i+1, p.Status)
			}
		}
		// Left alone past the idle timeout: signed out.
		e.Clock.Advance(31 * time.Minute)
		if p := b.Get("/profiles"); p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Resp.Header.Get("Location"), "/login") {
			t.Errorf("31 idle minutes later = %d %q, want a redirect to sign in", p.Status, p.Resp.Header.Get("Location"))
		}
	})

	t.Run("idle timeout slides only to the sign-in's end", func(t *testing.T) {
		e := MustEnv(t, envOptions{Config: func(c *server.Config) { c.SessionTTL, c.SessionIdle = 2*time.Hour, 30*time.Minute }})
		b := e.Browser(t).MustLogin(agentEmail, agentPassword)
		for range 5 { // 100 busy minutes
			e.Clock.Advance(20 * time.Minute)
			if p := b.Get("/profiles"); p.Status != http.StatusOK {
				t.Fatalf("busy session = %d, want 200", p.Status)
			}
		}
		e.Clock.Advance(19 * time.Minute)
		if p := b.Get("/profiles"); p.Status != http.StatusOK {
			t.Fatalf("busy session at 1h59 = %d, want 200", p.Status)
		}
		e.Clock.Advance(2 * time.Minute)
		if p := b.Get("/profiles"); p.Status != http.StatusSeeOther {
			t.Errorf("busy session past its 2h = %d, want a redirect to sign in", p.Status)
		}
	})

	t.Run("sign out everywhere", func(t *testing.T) {
		e := MustEnv(t)
		admin := e.Browser(t).MustLogin(adminEmail, adminPassword)
		laptop := e.Browser(t).MustLogin(agentEmail, agentPassword)
		phone := e.Browser(t).MustLogin(agentEmail, agentPassword)
		p := admin.PostWithCSRF("/admin/users", fmt.Sprintf("/admin/users/%d/sessions/end", e.AgentID), nil)
		mustFlashOnce(t, admin, "sign the agent out everywhere", p, "/admin/users", "Signed out everywhere")
		for name, b := range map[string]*browser{"laptop": laptop, "phone": phone} {
			if p := b.Get("/profiles"); p.Status != http.StatusSeeOther {
				t.Errorf("the agent's %s session still works: %d", name, p.Status)
			}
		}
		if p := admin.Get("/admin/users"); p.Status != http.StatusOK {
			t.Errorf("the admin's own session ended too: %d", p.Status)
		}
		if !strings.Contains(e.Logs.String(), "user signed out everywhere") {
			t.Error("signing a user out everywhere is not logged")
		}
		if audit := admin.Get("/admin/audit"); !strings.Contains(audit.Body, "signed out "+agentEmail+" everywhere (2 sessions)") {
			t.Errorf("the audit log does not show who signed the agent out:\n%s", audit.Body)
		}
		// Themselves: this session ends too, and the browser goes to sign in.
		other := e.Browser(t).MustLogin(adminEmail, adminPassword)
		p = admin.PostWithCSRF("/admin/users", fmt.Sprintf("/admin/users/%d/sessions/end", e.AdminID), nil)
		if p.Status != http.StatusSeeOther || p.Resp.Header.Get("Location") != "/login" {
			t.Errorf("sign yourself out everywhere = %d %q, want a redirect to sign in", p.Status, p.Resp.Header.Get("Location"))
		}
		for name, b := range map[string]*browser{"this": admin, "another": other} {
			if p := b.Get("/admin/users"); p.Status != http.StatusSeeOther {
				t.Errorf("the admin's %s session still works: %d", name, p.Status)
			}
		}
		// An unknown user.
		b := e.Browser(t).MustLogin(adminEmail, adminPassword)
		mustFlashOnce(t, b, "an unknown user", b.PostWithCSRF("/admin/users", "/admin/users/999999/sessions/end", nil), "/admin/users", "That user no longer exists.")
	})

	t.Run("deleted user", func(t *testing.T) {
		e := MustEnv(t)
		id := MustUser(t, e.Store, "temp@example.com", rechargekit.RoleAgent, "temporary password")
		b := e.Browser(t).MustLogin("temp@example.com", "temporary password")
		if err := e.Store.DeleteUser(context.Background(), id, "test"); err != nil {
			t.Fatal(err)
		}
		if p := b.Get("/profiles"); p.Status != http.StatusSeeOther {
			t.Errorf("a deleted user's session still works: %d", p.Status)
		}
	})
}

func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	rec := &metricstest.Recorder{}
	e := MustEnv(t, envOptions{Config: func(c *server.Config) { c.Metrics = rec }})
	b := e.Browser(t)
	for i := range 10 {
		if p := b.Login(agentEmail, "wrong"); p.Status != http.StatusUnauthorized {
			t.Fatalf("failure %d = %d, want 401", i+1, p.Status)
		}
	}
	p := b.Login(agentEmail, agentPassword)
	if p.Status != http.StatusTooManyRequests || setCookie(p, sessionCookie) != nil {
		t.Fatalf("11th attempt, right password = %d, want 429 without a session", p.Status)
	}
	mustContain(t, p.Body, "Too many attempts")
	// Another account from the same address is not locked by this one's failures.
	e.Browser(t).MustLogin(adminEmail, adminPassword)
	// The window passes.
	e.Clock.Advance(15*time.Minute + time.Second)
	e.Browser(t).MustLogin(agentEmail, agentPassword)

	// The metrics show the guessing.
	for outcome, want := range map[string]int{rechargekit.SignInWrong: 10, rechargekit.SignInLimited: 1, rechargekit.SignInOK: 2} {
		if got := rec.Count("signin " + outcome); got != want {
			t.Errorf("sign-ins counted %s = %d, want %d", outcome, got, want)
		}
	}
}
