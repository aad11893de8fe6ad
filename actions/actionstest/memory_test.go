package actionstest_test

import (
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/actions/actionstest"
)

func TestMemoryStore(t *testing.T) {
	actionstest.RunStore(t, func(t *testing.T, now func() time.Time) rechargekit.ActionStore {
		return actionstest.NewStore(now)
	})
}
