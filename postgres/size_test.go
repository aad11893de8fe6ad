package postgres

import (
	"testing"

	"github.com/rechargekit/rechargekit/storetest"
)

func TestSize(t *testing.T) {
	t.Parallel()
	storetest.RunSize(t, MustOpen(t, MustSchemaURL(t)))
}
