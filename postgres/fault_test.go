package postgres

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/internal/faultnet"
)

// TestHungDatabase puts a proxy between the store and the real PostgreSQL
// and makes it hang, as a stopped or overloaded server does (connections
// accepted, nothing answered): every call must end within a bound with
// EUPSTREAM and a sentence for people, whether or not its context has a
// deadline, and the store must work again once the server answers.
func TestHungDatabase(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(MustSchemaURL(t))
	if err != nil || !strings.HasPrefix(u.Scheme, "postgres") {
		t.Skipf("RECHARGEKIT_TEST_POSTGRES is not a postgres:// URL (%v): the proxy needs its host", err)
	}
	proxy := faultnet.New(t, u.Host)
	u.Host = proxy.Addr()
	q := u.Query()
	q.Set("connect_timeout", "1")
	q.Set("statement_timeout", "1s")
	u.RawQuery = q.Encode()
	s := MustOpen(t, u.String())
	ctx := t.Context()
	if _, err := s.UpsertProfile(ctx, &rechargekit.Profile{ID: "p", Name: "Ada"}); err != nil {
		t.Fatal(err)
	}

	proxy.SetMode(faultnet.Hang)
	// The store's own bound: connect_timeout + statement_timeout + margin.
	bound := time.Second + time.Second + callMargin
	for _, tt := range []struct {
		name  string
		ctx   func() (context.Context, context.CancelFunc)
		limit time.Duration
	}{
		{"no deadline", func() (context.Context, context.CancelFunc) { return context.WithCancel(ctx) }, bound + time.Second},
		{"request deadline", func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 300*time.Millisecond) }, time.Second},
	} {
		for _, call := range []struct {
			name string
			fn   func(ctx context.Context) error
		}{
			{"read", func(ctx context.Context) error { _, err := s.Profile(ctx, "p"); return err }},
			{"write", func(ctx context.Context) error {
				_, err := s.UpsertProfile(ctx, &rechargekit.Profile{ID: "p", Name: "Ada"})
				return err
			}},
		} {
			callCtx, cancel := tt.ctx()
			start := time.Now()
			err := call.fn(callCtx)
			took := time.Since(start)
			cancel()
			t.Logf("%s, %s: %v after %v", tt.name, call.name, err, took.Round(time.Millisecond))
			if took > tt.limit {
				t.Errorf("%s, %s: a hung database held the call %v, want at most %v", tt.name, call.name, took, tt.limit)
			}
			if rechargekit.ErrorCode(err) != rechargekit.EUPSTREAM || rechargekit.ErrorMessage(err) != "The database is not answering right now." {
				t.Errorf("%s, %s: error %v, want EUPSTREAM saying the database is not answering", tt.name, call.name, err)
			}
		}
	}

	proxy.SetMode(faultnet.Pass)
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, err := s.Profile(ctx, "p")
		if err == nil {
			if p.Name != "Ada" {
				t.Errorf("after the database answers again, Profile = %+v, want Ada's", p)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store still fails 10s after the database answers again: %v", err)
		}
	}
}

// TestOpenDefaults checks the bounds Open adds to a URL that sets none,
// and that the URL's own statement_timeout wins.
func TestOpenDefaults(t *testing.T) {
	t.Parallel()
	url := MustSchemaURL(t)
	if !strings.Contains(url, "?") {
		t.Skip("RECHARGEKIT_TEST_POSTGRES is not a postgres:// URL")
	}
	for _, tt := range []struct {
		extra string
		want  string
	}{{"", "5s"}, {"&statement_timeout=2500", "2500ms"}} {
		s := MustOpen(t, url+tt.extra)
		var got string
		if err := s.db.QueryRowContext(t.Context(), "SHOW statement_timeout").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("statement_timeout with %q = %s, want %s", tt.extra, got, tt.want)
		}
	}
	for _, bad := range []string{"&pool_max_conns=none", "&pool_max_conns=0", "&pool_min_conns=2"} {
		if _, err := Open(t.Context(), url+bad); rechargekit.ErrorCode(err) != rechargekit.EINVALID {
			t.Errorf("Open with %s = %v, want EINVALID", bad, err)
		}
	}
	MustOpen(t, url+"&pool_max_conns=2")
}
