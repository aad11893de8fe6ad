package storetest

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
)

// SizedStore is a store that says how many bytes its data takes on disk
// (sqlite.Store and postgres.Store do, for the benchmark's figures).
type SizedStore interface {
	rechargekit.Store
	Size(ctx context.Context) (int64, error)
}

// RunSize checks Size on a fresh, empty store: its schema takes room,
// and 300 profiles of 1 kB, then 300 mirrored records of 1.5 kB that do
// not compress, add at
// least that much. It returns the last size.
func RunSize(t *testing.T, s SizedStore) int64 {
	t.Helper()
	ctx := t.Context()
	size := func(what string, atLeast int64) int64 {
		t.Helper()
		n, err := s.Size(ctx)
		if err != nil || n < atLeast {
			t.Fatalf("Size %s = %d, %v; want at least %d", what, n, err, atLeast)
		}
		return n
	}
	empty := size("of a new database", 1)
	kB := strings.Repeat("x", 1000)
	// Mirrored documents are stored compressed: theirs must not compress,
	// so they hold 1.5 kB of seeded random bytes in base64 (2 kB).
	rnd := rand.New(rand.NewPCG(1, 2))
	noise := func() string {
		b := make([]byte, 1500)
		for i := range b {
			b[i] = byte(rnd.UintN(256))
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	for i := range 300 {
		if _, err := s.UpsertProfile(ctx, &rechargekit.Profile{ID: fmt.Sprintf("p%d", i), Name: kB}); err != nil {
			t.Fatal(err)
		}
	}
	profiles := size("after 300 profiles of 1 kB", empty+300*1000)
	for i := range 300 {
		recs := []*rechargekit.MirrorRecord{{Resource: rechargekit.MirrorCustomers, ID: int64(i + 1), CustomerID: int64(i + 1),
			UpdatedAt: time.Now(), Doc: []byte(`{"note":"` + noise() + `"}`)}}
		if _, err := s.PutMirror(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	return size("after 300 mirrored records of 1 kB", profiles+300*1000)
}
