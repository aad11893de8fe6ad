package rechargekit_test

import (
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/rechargekit/rechargekit"
)

func TestNormalizeProfile(t *testing.T) {
	tests := []struct {
		name string
		in   *rechargekit.Profile
		want *rechargekit.Profile
		code string
	}{
		{
			name: "trims, drops empty and case-insensitive duplicates, keeps order",
			in: &rechargekit.Profile{ID: "p-1", Name: " Ada ", Emails: []string{" b@x.io", "", "A@x.io", "B@X.IO"},
				Phones: []string{"  ", "+1 555", "+1 555"}},
			want: &rechargekit.Profile{ID: "p-1", Name: "Ada", Emails: []string{"b@x.io", "A@x.io"}, Phones: []string{"+1 555"}},
		},
		{
			name: "nil lists become empty",
			in:   &rechargekit.Profile{ID: "p"},
			want: &rechargekit.Profile{ID: "p", Emails: []string{}, Phones: []string{}},
		},
		{name: "nil", in: nil, code: rechargekit.EINVALID},
		{name: "blank id", in: &rechargekit.Profile{ID: " \t"}, code: rechargekit.EINVALID},
		{name: "id too long", in: &rechargekit.Profile{ID: strings.Repeat("x", rechargekit.MaxIDLength+1)}, code: rechargekit.EINVALID},
		{name: "name too long", in: &rechargekit.Profile{ID: "p", Name: strings.Repeat("x", rechargekit.MaxTextLength+1)}, code: rechargekit.EINVALID},
		{name: "invalid UTF-8", in: &rechargekit.Profile{ID: "p\xff"}, code: rechargekit.EINVALID},
		{name: "NUL", in: &rechargekit.Profile{ID: "p", Emails: []string{"a\x00@x.io"}}, code: rechargekit.EINVALID},
		{name: "too many phones", in: &rechargekit.Profile{ID: "p", Phones: numbered(rechargekit.MaxProfileItems + 1)}, code: rechargekit.EINVALID},
		{name: "exactly the maximum", in: &rechargekit.Profile{ID: "p", Phones: numbered(rechargekit.MaxProfileItems)},
			want: &rechargekit.Profile{ID: "p", Emails: []string{}, Phones: numbered(rechargekit.MaxProfileItems)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rechargekit.NormalizeProfile(tt.in)
			if code := rechargekit.ErrorCode(err); code != tt.code {
				t.Fatalf("NormalizeProfile error %v, want code %q", err, tt.code)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NormalizeProfile mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func numbered(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "+1 555 " + strings.Repeat("1", i+1)
	}
	return out
}

func TestValidate(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		err  error
		code string
	}{
		{"link ok", (&rechargekit.Link{ProfileID: "p", CustomerID: 1, Method: rechargekit.LinkAuto, By: "auto"}).Validate(), ""},
		{"link nil", (*rechargekit.Link)(nil).Validate(), rechargekit.EINVALID},
		{"link no customer", (&rechargekit.Link{ProfileID: "p", Method: rechargekit.LinkAuto, By: "auto"}).Validate(), rechargekit.EINVALID},
		{"link bad method", (&rechargekit.Link{ProfileID: "p", CustomerID: 1, Method: "AUTO", By: "auto"}).Validate(), rechargekit.EINVALID},
		{"link no by", (&rechargekit.Link{ProfileID: "p", CustomerID: 1, Method: rechargekit.LinkManual}).Validate(), rechargekit.EINVALID},
		{"user ok", (&rechargekit.User{Email: "a@b.c", Role: rechargekit.RoleAdmin, PasswordHash: "h"}).Validate(), ""},
		{"user nil", (*rechargekit.User)(nil).Validate(), rechargekit.EINVALID},
		{"user two at signs is fine", (&rechargekit.User{Email: `"a@b"@c.d`, Role: rechargekit.RoleAgent, PasswordHash: "h"}).Validate(), ""},
		{"user no local part", (&rechargekit.User{Email: "@b.c", Role: rechargekit.RoleAgent, PasswordHash: "h"}).Validate(), rechargekit.EINVALID},
		{"user tab", (&rechargekit.User{Email: "a\t@b.c", Role: rechargekit.RoleAgent, PasswordHash: "h"}).Validate(), rechargekit.EINVALID},
		{"user role case", (&rechargekit.User{Email: "a@b.c", Role: "Admin", PasswordHash: "h"}).Validate(), rechargekit.EINVALID},
		{"session ok", (&rechargekit.Session{TokenHash: "h", UserID: 1, CSRFToken: "c", ExpiresAt: now}).Validate(), ""},
		{"session nil", (*rechargekit.Session)(nil).Validate(), rechargekit.EINVALID},
		{"session expires at creation", (&rechargekit.Session{TokenHash: "h", UserID: 1, CSRFToken: "c", CreatedAt: now, ExpiresAt: now}).Validate(), rechargekit.EINVALID},
		{"token ok", (&rechargekit.APIToken{Name: "desk", Hash: "h"}).Validate(), ""},
		{"token nil", (*rechargekit.APIToken)(nil).Validate(), rechargekit.EINVALID},
		{"token agent", (&rechargekit.APIToken{Name: "desk", Hash: "h", Role: rechargekit.RoleAgent}).Validate(), ""},
		{"token admin", (&rechargekit.APIToken{Name: "desk", Hash: "h", Role: rechargekit.RoleAdmin}).Validate(), ""},
		{"token gladly role", (&rechargekit.APIToken{Name: "desk", Hash: "h", Role: rechargekit.RoleGladly}).Validate(), rechargekit.EINVALID},
		{"token unknown role", (&rechargekit.APIToken{Name: "desk", Hash: "h", Role: "Admin"}).Validate(), rechargekit.EINVALID},
		{"token long name", (&rechargekit.APIToken{Name: strings.Repeat("n", rechargekit.MaxIDLength+1), Hash: "h"}).Validate(), rechargekit.EINVALID},
		{"actor ok", rechargekit.ValidateActor("admin@example.com"), ""},
		{"actor blank", rechargekit.ValidateActor("  "), rechargekit.EINVALID},
		{"actor newline", rechargekit.ValidateActor("a\nb"), rechargekit.EINVALID},
	}
	for _, tt := range tests {
		if code := rechargekit.ErrorCode(tt.err); code != tt.code {
			t.Errorf("%s: error %v, want code %q", tt.name, tt.err, tt.code)
		}
	}
}

func TestDefaultSettings(t *testing.T) {
	a, b := rechargekit.DefaultSettings(), rechargekit.DefaultSettings()
	if a == b {
		t.Fatal("DefaultSettings returns a shared value; callers may change it")
	}
	if !a.AutoLink {
		t.Error("DefaultSettings().AutoLink = false, want true (documented default)")
	}
}

// FuzzNormalizeProfile checks that whatever a desk sends, a normalized
// profile is one both stores can keep, and normalizing it again changes
// nothing.
func FuzzNormalizeProfile(f *testing.F) {
	f.Add("p-1", " Ada ", "a@x.io\nA@X.IO\n", "+1 555\n\n")
	f.Add("\xff", "", "", "")
	f.Add("p", "n\x00", "é@x.fr\nÉ@X.FR", "ext. 42")
	f.Fuzz(func(t *testing.T, id, name, emails, phones string) {
		p := &rechargekit.Profile{ID: id, Name: name, Emails: strings.Split(emails, "\n"), Phones: strings.Split(phones, "\n")}
		got, err := rechargekit.NormalizeProfile(p)
		if err != nil {
			if rechargekit.ErrorCode(err) != rechargekit.EINVALID {
				t.Fatalf("NormalizeProfile error %v is not EINVALID", err)
			}
			return
		}
		for _, v := range append(append([]string{got.ID, got.Name}, got.Emails...), got.Phones...) {
			if !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) {
				t.Fatalf("normalized profile holds %q", v)
			}
		}
		for _, v := range append(append([]string{}, got.Emails...), got.Phones...) {
			if v == "" || v != strings.TrimSpace(v) {
				t.Fatalf("normalized list item %q is empty or untrimmed", v)
			}
		}
		again, err := rechargekit.NormalizeProfile(got)
		if err != nil {
			t.Fatalf("normalizing a normalized profile: %v", err)
		}
		if diff := cmp.Diff(got, again); diff != "" {
			t.Fatalf("NormalizeProfile is not idempotent (-once +twice):\n%s", diff)
		}
	})
}

func TestPhoneQueryDigits(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ q, want string }{
		{"555 0100", "5550100"},
		{"+1 (555) 010-0", "15550100"},
		{"12", ""},      // too short to be a phone
		{"sam 555", ""}, // not only phone characters
		{"a@example.com", ""},
	} {
		if got := rechargekit.PhoneQueryDigits(tt.q); got != tt.want {
			t.Errorf("PhoneQueryDigits(%q) = %q, want %q", tt.q, got, tt.want)
		}
	}
	if got := rechargekit.PhoneDigits("+1 (555) 010-0"); got != "15550100" {
		t.Errorf("PhoneDigits = %q", got)
	}
}
