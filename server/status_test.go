package server_test

import (
	"context"
	"testing"
	"time"

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
