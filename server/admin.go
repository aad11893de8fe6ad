package server

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
)

type settingsData struct {
	AutoLink bool
	Status   []statusRow // the readiness checks; none when there is nothing to check
	// Policy is the grid of action permissions per role; nil when the
	// console has no actions.
	Policy *policyView
	// Token says which actions rechargekit's Recharge token may not take;
	// nil when the console has no actions.
	Token *tokenLimitsView
	// Mirror is the local mirror's panel; nil without a mirror.
	Mirror *mirrorView
}

// mirrorView is the Settings page's panel on the local mirror.
type mirrorView struct {
	*MirrorStatus
	Off, Syncing, Behind bool
	Percent              string // "42.5"
	Records              []mirrorCount
	Total                string
	LastReconcile        timeView
}

// mirrorCount is one resource's records held.
type mirrorCount struct {
	Resource string // "payment methods"
	Count    string // "1,234"
}

func newMirrorView(st *MirrorStatus, now time.Time) *mirrorView {
	v := &mirrorView{
		MirrorStatus:  st,
		Off:           st.State == rechargekit.MirrorOff,
		Syncing:       st.State == rechargekit.MirrorSyncing,
		Behind:        st.State == rechargekit.MirrorBehind,
		Percent:       strconv.FormatFloat(min(max(st.Percent, 0), 100), 'f', 1, 64),
		LastReconcile: newTimeView(st.LastReconcile, now),
	}
	var total int64
	for _, r := range rechargekit.MirrorResources {
		total += st.Records[r]
		v.Records = append(v.Records, mirrorCount{Resource: strings.ReplaceAll(r, "_", " "), Count: groupThousands(st.Records[r])})
	}
	v.Total = groupThousands(total)
	return v
}

// groupThousands writes n with a comma between groups of three digits.
func groupThousands(n int64) string {
	s := strconv.FormatInt(max(n, 0), 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// tokenLimitsView is the Settings page's note, beside the permission grid,
// on what the Recharge token's scopes rule out.
type tokenLimitsView struct {
	Unknown bool          // the scopes could not be read in time
	Denied  []tokenDenial // empty: the token allows every action
}

// tokenDenial is a group of actions the token may not take for one reason.
type tokenDenial struct {
	Actions string // "skip the next charge, unskip the skipped charge"
	Why     string // a full sentence naming the scope the token lacks
}

// newTokenLimitsView groups the actions the token may not take by the
// reason, in the order of AllActions.
func newTokenLimitsView(limits []rechargekit.ActionOffer, err error) *tokenLimitsView {
	if err != nil {
		return &tokenLimitsView{Unknown: true}
	}
	v := &tokenLimitsView{}
	index := map[string]int{}
	for _, l := range limits {
		if l.Offered {
			continue
		}
		title := actionTexts[l.Action].Title
		if title == "" {
			title = l.Action
		}
		if i, ok := index[l.Why]; ok {
			v.Denied[i].Actions += ", " + strings.ToLower(title[:1]) + title[1:]
			continue
		}
		index[l.Why] = len(v.Denied)
		v.Denied = append(v.Denied, tokenDenial{Actions: title, Why: l.Why})
	}
	return v
}

// statusRow is one dependency on the admin's status panel.
type statusRow struct {
	Name    string
	OK      bool
	State   string
	Message string
	Since   timeView
}

func (c *console) settingsPage(w http.ResponseWriter, r *http.Request, s *auth) {
	st, err := c.cfg.Store.Settings(r.Context())
	if err != nil {
		c.renderError(w, r, s, "", fmt.Errorf("server: read settings: %w", err))
		return
	}
	d := settingsData{AutoLink: st.AutoLink}
	if c.cfg.ActionLog != nil {
		p, err := c.cfg.ActionLog.ActionPolicy(r.Context())
		if err != nil {
			c.renderError(w, r, s, "", fmt.Errorf("server: read action policy: %w", err))
			return
		}
		d.Policy = newPolicyView(p)
	}
	if c.cfg.Actions != nil {
		// Reading the token's scopes may ask Recharge: the lookup deadline
		// bounds it, and the page says so rather than wait on Recharge.
		ctx, cancel := c.withDeadline(r)
		limits, err := c.cfg.Actions.TokenLimits(ctx)
		cancel()
		if err != nil {
			c.log.WarnContext(r.Context(), "settings: recharge token limits unavailable", "error", err.Error())
		}
		d.Token = newTokenLimitsView(limits, err)
	}
	if c.cfg.Mirror != nil {
		if st := c.cfg.Mirror(r.Context()); st != nil {
			d.Mirror = newMirrorView(st, c.cfg.Now())
		}
	}
	if c.cfg.Ready != nil {
		now := c.cfg.Now()
		for _, ch := range c.cfg.Ready(r.Context()) {
			d.Status = append(d.Status, statusRow{Name: ch.Name, OK: ch.OK, State: ch.State, Message: ch.Message, Since: newTimeView(ch.Since, now)})
		}
	}
	c.render(w, r, http.StatusOK, "settings", withAuth(&pageData{Title: "Settings", Nav: "settings", Data: d}, s))
}

func (c *console) saveSettings(w http.ResponseWriter, r *http.Request, s *auth) {
	st, err := c.cfg.Store.Settings(r.Context())
	if err != nil {
		c.renderError(w, r, s, "", fmt.Errorf("server: read settings: %w", err))
		return
	}
	// An unchecked checkbox is absent from the form: the hidden field says
	// the form had the switch, so absence means off.
	if r.PostForm.Get("has_auto_link") == "1" {
		st.AutoLink = r.PostForm.Get("auto_link") == "on"
	}
	if err := c.cfg.Store.UpdateSettings(r.Context(), st, s.User.Email); err != nil {
		c.renderError(w, r, s, "", fmt.Errorf("server: update settings: %w", err))
		return
	}
	c.log.InfoContext(r.Context(), "settings changed", "auto_link", st.AutoLink, "user_id", s.User.ID)
	c.redirectWithFlash(w, r, s, "/admin/settings", "settings_saved")
}

type usersData struct {
	Users []*rechargekit.User
	Self  int64

	Email string
	Role  string
	Error string

	// Created is the user just added and Password their generated
	// password, shown this once.
	Created  *rechargekit.User
	Password string
}

func (c *console) usersPage(w http.ResponseWriter, r *http.Request, s *auth) {
	c.renderUsers(w, r, s, http.StatusOK, usersData{Role: rechargekit.RoleAgent})
}

func (c *console) renderUsers(w http.ResponseWriter, r *http.Request, s *auth, status int, d usersData) {
	users, err := c.cfg.Store.Users(r.Context())
	if err != nil {
		c.renderError(w, r, s, "", fmt.Errorf("server: list users: %w", err))
		return
	}
	d.Users, d.Self = users, s.User.ID
	c.render(w, r, status, "users", withAuth(&pageData{Title: "Users", Nav: "users", Data: d}, s))
}

func (c *console) addUser(w http.ResponseWriter, r *http.Request, s *auth) {
	d := usersData{Email: strings.TrimSpace(r.PostForm.Get("email")), Role: r.PostForm.Get("role")}
	pw := GeneratePassword()
	hash, err := HashPassword(pw)
	if err != nil {
		c.renderError(w, r, s, "", err)
		return
	}
	u := &rechargekit.User{Email: d.Email, Role: d.Role, PasswordHash: hash}
	if err := c.cfg.Store.CreateUser(r.Context(), u, s.User.Email); err != nil {
		status, msg, ok := formProblem(err, "There is already a user with this email.")
		if !ok {
			c.renderError(w, r, s, "", err)
			return
		}
		d.Error = msg
		c.renderUsers(w, r, s, status, d)
		return
	}
	c.log.InfoContext(r.Context(), "user added", "user_id", u.ID, "role", u.Role, "by_user_id", s.User.ID)
	c.renderUsers(w, r, s, http.StatusOK, usersData{Role: rechargekit.RoleAgent, Created: u, Password: pw})
}

func (c *console) deleteUser(w http.ResponseWriter, r *http.Request, s *auth) {
	id, err := strconv.ParseInt(r.PathValue("uid"), 10, 64)
	if err != nil || id <= 0 {
		c.redirectWithFlash(w, r, s, "/admin/users", "user_missing")
		return
	}
	if id == s.User.ID {
		c.redirectWithFlash(w, r, s, "/admin/users", "self_delete")
		return
	}
	err = c.cfg.Store.DeleteUser(r.Context(), id, s.User.Email)
	if err == nil {
		c.log.InfoContext(r.Context(), "user deleted", "user_id", id, "by_user_id", s.User.ID)
	}
	c.redirectAfter(w, r, s, "/admin/users", err, flashKeys{"": "user_deleted", rechargekit.ENOTFOUND: "user_missing"})
}

// endSessions signs a user out everywhere: every console session of theirs
// ends at once (a lost laptop, a shared desk), and the audit log says who
// did it. An admin may do it to themselves, which ends this session too.
func (c *console) endSessions(w http.ResponseWriter, r *http.Request, s *auth) {
	id, err := strconv.ParseInt(r.PathValue("uid"), 10, 64)
	if err != nil || id <= 0 {
		c.redirectWithFlash(w, r, s, "/admin/users", "user_missing")
		return
	}
	n, err := c.cfg.Store.DeleteUserSessions(r.Context(), id, s.User.Email)
	if err != nil {
		c.redirectAfter(w, r, s, "/admin/users", err, flashKeys{rechargekit.ENOTFOUND: "user_missing"})
		return
	}
	c.log.InfoContext(r.Context(), "user signed out everywhere", "user_id", id, "sessions", n, "by_user_id", s.User.ID)
	if id == s.User.ID {
		c.setCookie(w, r, sessionCookie, "", time.Time{})
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	c.redirectWithFlash(w, r, s, "/admin/users", "sessions_ended")
}

type tokensData struct {
	Tokens []*rechargekit.APIToken
	Name   string
	Error  string

	// Created is the token just made and Token its secret, shown this once.
	Created *rechargekit.APIToken
	Token   string
}

func (c *console) tokensPage(w http.ResponseWriter, r *http.Request, s *auth) {
	c.renderTokens(w, r, s, http.StatusOK, tokensData{})
}

func (c *console) renderTokens(w http.ResponseWriter, r *http.Request, s *auth, status int, d tokensData) {
	toks, err := c.cfg.Store.APITokens(r.Context())
	if err != nil {
		c.renderError(w, r, s, "", fmt.Errorf("server: list API tokens: %w", err))
		return
	}
	d.Tokens = toks
	c.render(w, r, status, "tokens", withAuth(&pageData{Title: "API tokens", Nav: "tokens", Data: d}, s))
}

func (c *console) addToken(w http.ResponseWriter, r *http.Request, s *auth) {
	d := tokensData{Name: strings.TrimSpace(r.PostForm.Get("name"))}
	token, hash := NewAPIToken()
	t := &rechargekit.APIToken{Name: d.Name, Hash: hash}
	if err := c.cfg.Store.CreateAPIToken(r.Context(), t, s.User.Email); err != nil {
		status, msg, ok := formProblem(err, "There is already a token with this name.")
		if !ok {
			c.renderError(w, r, s, "", err)
			return
		}
		d.Error = msg
		c.renderTokens(w, r, s, status, d)
		return
	}
	c.log.InfoContext(r.Context(), "API token created", "token_id", t.ID, "by_user_id", s.User.ID)
	c.renderTokens(w, r, s, http.StatusOK, tokensData{Created: t, Token: token})
}

func (c *console) revokeToken(w http.ResponseWriter, r *http.Request, s *auth) {
	id, err := strconv.ParseInt(r.PathValue("tid"), 10, 64)
	if err != nil || id <= 0 {
		c.redirectWithFlash(w, r, s, "/admin/tokens", "token_missing")
		return
	}
	err = c.cfg.Store.DeleteAPIToken(r.Context(), id, s.User.Email)
	if err == nil {
		c.log.InfoContext(r.Context(), "API token revoked", "token_id", id, "by_user_id", s.User.ID)
	}
	c.redirectAfter(w, r, s, "/admin/tokens", err, flashKeys{"": "token_revoked", rechargekit.ENOTFOUND: "token_missing"})
}

type auditRow struct {
	At         timeView
	Actor      string
	Action     string
	ProfileID  string
	CustomerID string
	Detail     string
}

type auditData struct {
	Profile string
	Rows    []auditRow
	Limit   int
}

// auditLimit is how many audit entries the page shows.
const auditLimit = 200

func (c *console) auditPage(w http.ResponseWriter, r *http.Request, s *auth) {
	d := auditData{Profile: strings.TrimSpace(r.URL.Query().Get("profile")), Limit: auditLimit}
	entries, err := c.cfg.Store.Audit(r.Context(), rechargekit.AuditFilter{ProfileID: d.Profile, Limit: auditLimit})
	if err != nil {
		c.renderError(w, r, s, "", fmt.Errorf("server: read audit log: %w", err))
		return
	}
	now := c.cfg.Now()
	for _, e := range entries {
		row := auditRow{At: newTimeView(e.At, now), Actor: cleanText(e.Actor), Action: e.Action,
			ProfileID: e.ProfileID, Detail: cleanText(e.Detail)}
		if e.CustomerID != 0 {
			row.CustomerID = strconv.FormatInt(e.CustomerID, 10)
		}
		d.Rows = append(d.Rows, row)
	}
	c.render(w, r, http.StatusOK, "audit", withAuth(&pageData{Title: "Audit log", Nav: "audit", Data: d}, s))
}
