package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/server"
)

// TestAdminStatusPanel checks that the admin's Settings page shows what
// /readyz checks, with the failing state, its fixed message and its age,
// and that agents never see it.
func TestAdminStatusPanel(t *testing.T) {
	t.Parallel()
	var e *env
	e = MustEnv(t, envOptions{Config: func(c *server.Config) {
		c.Ready = func(context.Context) []server.Check {
			return []server.Check{
				{Name: "database", OK: true, State: "ok", Critical: true},
				{Name: "recharge", State: "refused", Message: "Recharge refuses the API token (401): it was revoked or lacks a scope",
					Since: e.Clock.Now().Add(-3 * time.Minute)},
			}
		}
	}})
	admin := e.Browser(t).MustLogin(adminEmail, adminPassword)
	p := admin.Get("/admin/settings")
	mustContain(t, p.Body, `id="status"`, `id="status-database"`, `id="status-recharge"`,
		`badge--cancelled">refused`, "Recharge refuses the API token (401): it was revoked or lacks a scope", "3 minutes ago")
	agent := e.Browser(t).MustLogin(agentEmail, agentPassword)
	if p := agent.Get("/admin/settings"); p.Status != 403 {
		t.Errorf("agent on settings = %d, want 403", p.Status)
	}
	mustNotContain(t, agent.Get("/profiles").Body, `id="status"`)
}

// TestAdminMirrorPanel checks the Settings page's mirror panel in each
// state: the backfill's percent while syncing, the records held by
// resource, the last reconciliation's age, the syncing replica, the drift
// finding and the webhooks re-created; behind says cards may be out of
// date; off says every card is read from Recharge. Agents never see it.
func TestAdminMirrorPanel(t *testing.T) {
	t.Parallel()
	var e *env
	var mu sync.Mutex
	status := &server.MirrorStatus{}
	e = MustEnv(t, envOptions{Config: func(c *server.Config) {
		c.Mirror = func(context.Context) *server.MirrorStatus {
			mu.Lock()
			defer mu.Unlock()
			return status
		}
	}})
	set := func(st *server.MirrorStatus) {
		mu.Lock()
		defer mu.Unlock()
		status = st
	}
	admin := e.Browser(t).MustLogin(adminEmail, adminPassword)

	set(&server.MirrorStatus{State: rechargekit.MirrorSyncing, Percent: 42.46, Holder: "rk-1:4242", Leader: true,
		Records: map[string]int64{rechargekit.MirrorCustomers: 1250, rechargekit.MirrorAddresses: 1300}})
	p := admin.Get("/admin/settings")
	mustContain(t, p.Body, `id="mirror"`, `badge--cancelled">syncing`, `id="mirror-percent">42.5 %`,
		"phone and name searches find nobody yet", `2,550: 1,250 customers, 1,300 addresses, 0 subscriptions, 0 charges, 0 payment methods, 0 events`,
		`id="mirror-reconciled">none yet`, "rk-1:4242 (this one)")
	mustNotContain(t, p.Body, `id="mirror-drift"`, `id="mirror-webhooks"`, `id="mirror-error"`)

	set(&server.MirrorStatus{State: rechargekit.MirrorBehind, Holder: "rk-2:7", LastReconcile: e.Clock.Now().Add(-12 * time.Minute),
		Drift: "3 customers' subscription counts differ from Recharge's", WebhooksRecreated: []string{"subscription/updated", "charge/created"},
		Err: "Recharge is unavailable"})
	p = admin.Get("/admin/settings")
	mustContain(t, p.Body, `badge--cancelled">behind`, "(marked as possibly out of date) only when Recharge fails", "12 minutes ago", `id="mirror-holder">rk-2:7<`,
		"3 customers&#39; subscription counts differ from Recharge&#39;s", "<code>subscription/updated</code>, <code>charge/created</code>",
		`id="mirror-error">Recharge is unavailable<`)

	set(&server.MirrorStatus{State: rechargekit.MirrorReady, Holder: "<script>x</script>", Records: map[string]int64{rechargekit.MirrorCustomers: 3}})
	p = admin.Get("/admin/settings")
	mustContain(t, p.Body, `badge--active">ready`, "complete and current", "&lt;script&gt;x&lt;/script&gt;")
	mustNotContain(t, p.Body, "<script>x</script>")

	set(&server.MirrorStatus{State: rechargekit.MirrorOff})
	p = admin.Get("/admin/settings")
	mustContain(t, p.Body, `badge--active">off`, "(<code>RECHARGE_MIRROR=off</code>): every card is read from Recharge")
	mustNotContain(t, p.Body, `id="mirror-records"`)

	agent := e.Browser(t).MustLogin(agentEmail, agentPassword)
	mustNotContain(t, agent.Get("/profiles").Body, `id="mirror"`)
}

// TestReadyzPercent checks that a check under way shows its percent in
// /readyz, and that the others carry none.
func TestReadyzPercent(t *testing.T) {
	t.Parallel()
	pct := 37.5
	e := MustEnv(t, envOptions{Config: func(c *server.Config) {
		c.Ready = func(context.Context) []server.Check {
			return []server.Check{
				{Name: "database", OK: true, State: "ok"},
				{Name: "mirror", OK: true, State: rechargekit.MirrorSyncing, Percent: &pct},
			}
		}
	}})
	resp, err := http.Get(e.Srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Status string
		Checks map[string]map[string]any
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || got.Status != "ready" || got.Checks["mirror"]["percent"] != 37.5 || got.Checks["mirror"]["state"] != "syncing" {
		t.Errorf("/readyz = %d %+v", resp.StatusCode, got)
	}
	if _, ok := got.Checks["database"]["percent"]; ok {
		t.Errorf("the database check carries a percent: %+v", got.Checks["database"])
	}
}
