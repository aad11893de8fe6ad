package rechargekit_test

import (
	"net/mail"
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
		name  string
		in    *rechargekit.Profile
		want  *rechargekit.Profile
		code  string
		field string // the message names it
	}{
		{
			name: "trims, drops empty and case-insensitive duplicates, keeps order",
			in: &rechargekit.Profile{ID: "p-1", Name: " Ada ", Emails: []string{" b@x.io", "", "A@x.io", "B@X.IO"},
				Phones: []string{"  ", "+1 555", "+1 555"}},
			want: &rechargekit.Profile{ID: "p-1", Name: "Ada", Emails: []string{"b@x.io", "A@x.io"}, Phones: []string{"+1 555"}},
		},
		{
			name: "nil lists become empty",
			in:   &rechargekit.Profile{ID: "p", Name: "Ada"},
			want: &rechargekit.Profile{ID: "p", Name: "Ada", Emails: []string{}, Phones: []string{}},
		},
		{
			name: "emails and phones in their everyday forms",
			in: &rechargekit.Profile{ID: "p", Name: "Ada", Emails: []string{"ada.lovelace+desk@example.co.uk", "é@x.fr"},
				Phones: []string{"+1 (555) 010-0", "020 7946 0000 ext. 42"}},
			want: &rechargekit.Profile{ID: "p", Name: "Ada", Emails: []string{"ada.lovelace+desk@example.co.uk", "é@x.fr"},
				Phones: []string{"+1 (555) 010-0", "020 7946 0000 ext. 42"}},
		},
		{name: "nil", in: nil, code: rechargekit.EINVALID, field: "profile"},
		{name: "blank id", in: &rechargekit.Profile{ID: " \t", Name: "Ada"}, code: rechargekit.EINVALID, field: "profile id"},
		{name: "id too long", in: &rechargekit.Profile{ID: strings.Repeat("x", rechargekit.MaxIDLength+1), Name: "Ada"}, code: rechargekit.EINVALID, field: "profile id"},
		{name: "NUL in id", in: &rechargekit.Profile{ID: "a\x00b", Name: "Ada"}, code: rechargekit.EINVALID, field: "profile id"},
		{name: "no name", in: &rechargekit.Profile{ID: "p"}, code: rechargekit.EINVALID, field: "name"},
		{name: "blank name", in: &rechargekit.Profile{ID: "p", Name: " \u00a0 "}, code: rechargekit.EINVALID, field: "name"},
		{name: "name too long", in: &rechargekit.Profile{ID: "p", Name: strings.Repeat("x", rechargekit.MaxTextLength+1)}, code: rechargekit.EINVALID, field: "name"},
		{name: "invalid UTF-8", in: &rechargekit.Profile{ID: "p\xff", Name: "Ada"}, code: rechargekit.EINVALID, field: "profile id"},
		{name: "NUL", in: &rechargekit.Profile{ID: "p", Name: "Ada", Emails: []string{"a\x00@x.io"}}, code: rechargekit.EINVALID, field: "email"},
		{name: "not an email", in: &rechargekit.Profile{ID: "p", Name: "Ada", Emails: []string{"not-an-email"}}, code: rechargekit.EINVALID, field: "email"},
		{name: "no domain", in: &rechargekit.Profile{ID: "p", Name: "Ada", Emails: []string{"ada@"}}, code: rechargekit.EINVALID, field: "email"},
		{name: "display name", in: &rechargekit.Profile{ID: "p", Name: "Ada", Emails: []string{"Ada <ada@example.com>"}}, code: rechargekit.EINVALID, field: "email"},
		{name: "angle brackets", in: &rechargekit.Profile{ID: "p", Name: "Ada", Emails: []string{"<ada@example.com>"}}, code: rechargekit.EINVALID, field: "email"},
		{name: "two addresses", in: &rechargekit.Profile{ID: "p", Name: "Ada", Emails: []string{"a@x.io, b@x.io"}}, code: rechargekit.EINVALID, field: "email"},
		{name: "phone without digits", in: &rechargekit.Profile{ID: "p", Name: "Ada", Phones: []string{"call me"}}, code: rechargekit.EINVALID, field: "phone"},
		{name: "too many phones", in: &rechargekit.Profile{ID: "p", Name: "Ada", Phones: numbered(rechargekit.MaxProfileItems + 1)}, code: rechargekit.EINVALID, field: "phones"},
		{name: "exactly the maximum", in: &rechargekit.Profile{ID: "p", Name: "Ada", Phones: numbered(rechargekit.MaxProfileItems)},
			want: &rechargekit.Profile{ID: "p", Name: "Ada", Emails: []string{}, Phones: numbered(rechargekit.MaxProfileItems)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rechargekit.NormalizeProfile(tt.in)
			if code := rechargekit.ErrorCode(err); code != tt.code {
				t.Fatalf("NormalizeProfile error %v, want code %q", err, tt.code)
			}
			if err != nil {
				mustBeSentenceNaming(t, rechargekit.ErrorMessage(err), tt.field)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NormalizeProfile mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// mustBeSentenceNaming checks that a message shown to people is a full
// sentence (a capital letter first, a period last) that names the field.
func mustBeSentenceNaming(t *testing.T, msg, field string) {
	t.Helper()
	r, _ := utf8.DecodeRuneInString(msg)
	if !unicode.IsUpper(r) || !strings.HasSuffix(msg, ".") || !strings.Contains(strings.ToLower(msg), field) {
		t.Errorf("message %q is not a sentence naming %q", msg, field)
	}
}

func TestValidateProfileID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"p-1", "desk:123/456", "Élodie", strings.Repeat("x", rechargekit.MaxIDLength)} {
		if err := rechargekit.ValidateProfileID(id); err != nil {
			t.Errorf("ValidateProfileID(%q) = %v, want nil", id, err)
		}
	}
	for _, id := range []string{"", " ", "a\x00b", "a\rb", "a\nb", "a\tb", "a\x1bb", "a\x7fb", "a\u0085b", "\xff",
		strings.Repeat("x", rechargekit.MaxIDLength+1)} {
		err := rechargekit.ValidateProfileID(id)
		if code := rechargekit.ErrorCode(err); code != rechargekit.EINVALID {
			t.Errorf("ValidateProfileID(%q) = %v, want EINVALID", id, err)
			continue
		}
		mustBeSentenceNaming(t, rechargekit.ErrorMessage(err), "profile id")
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
		{"token name with a right-to-left override", (&rechargekit.APIToken{Name: "desk\u202egnp.exe", Hash: "h"}).Validate(), rechargekit.EINVALID},
		{"token name with a bidi isolate", (&rechargekit.APIToken{Name: "\u2066desk\u2069", Hash: "h"}).Validate(), rechargekit.EINVALID},
		{"token name in another script", (&rechargekit.APIToken{Name: "مكتب-desk 日本", Hash: "h"}).Validate(), ""},
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
	f.Add("p", "Ada", "Ada <ada@example.com>\nnot-an-email", "call me")
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
		if strings.TrimSpace(got.Name) == "" {
			t.Fatalf("normalized profile has no name: %+v", got)
		}
		for _, e := range got.Emails {
			if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
				t.Fatalf("normalized email %q is not a bare address", e)
			}
		}
		for _, ph := range got.Phones {
			if rechargekit.PhoneDigits(ph) == "" {
				t.Fatalf("normalized phone %q has no digits", ph)
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
