package postgres

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rechargekit/rechargekit"
)

// Size counts the tables of the store's own schema, indexes included.
func TestSize(t *testing.T) {
	t.Parallel()
	s := MustOpen(t, MustSchemaURL(t))
	empty, err := s.Size(t.Context())
	if err != nil || empty <= 0 {
		t.Fatalf("Size of a new schema = %d, %v; want its tables' pages", empty, err)
	}
	name := strings.Repeat("x", 1000)
	for i := range 300 {
		if _, err := s.UpsertProfile(t.Context(), &rechargekit.Profile{ID: fmt.Sprintf("p%d", i), Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	full, err := s.Size(t.Context())
	if err != nil || full < empty+300*1000 {
		t.Errorf("Size after 300 profiles of 1 kB = %d, %v; want at least %d", full, err, empty+300*1000)
	}
}
