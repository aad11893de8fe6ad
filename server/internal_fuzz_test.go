package server

import (
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/rechargekit/rechargekit"
)

// Fuzz targets of the console's text helpers. Their corpora live in
// testdata/fuzz/<FuzzName>; scripts/fuzz runs them for longer.

// FuzzCleanText checks the cleaning of Recharge and desk text for pages:
// no control or bidi character survives, spaces are collapsed and trimmed,
// valid UTF-8 stays valid, and cleaning twice changes nothing.
func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"", "a\x00b", "\u202e", " x  y ", "\xff\xfe", "日本\n", "a\u2066b\u2069 c", " \u00a0x\u3000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := cleanText(s)
		if strings.IndexFunc(got, func(r rune) bool { return unicode.IsControl(r) || isBidiControl(r) }) >= 0 {
			t.Errorf("cleanText(%q) = %q keeps a control character", s, got)
		}
		if strings.Contains(got, "  ") || strings.HasPrefix(got, " ") || strings.HasSuffix(got, " ") {
			t.Errorf("cleanText(%q) = %q has loose spaces", s, got)
		}
		if !utf8.ValidString(got) && utf8.ValidString(s) {
			t.Errorf("cleanText(%q) made invalid UTF-8", s)
		}
		if again := cleanText(got); again != got {
			t.Errorf("cleanText is not idempotent: %q -> %q -> %q", s, got, again)
		}
	})
}

// FuzzParseFind checks the manual search box: an error is EINVALID with a
// message; a search is never empty, and what it searches for is what the
// agent could have asked for explicitly (an email with its parts and no
// spaces, a positive Recharge id, a Shopify id without spaces).
func FuzzParseFind(f *testing.F) {
	for _, s := range []string{"a@b.c", "123", "shopify:9", "shopify:", "x y", "", "SHOPIFY:1@2", " 0012 ", "99999999999999999999", "a@b@c"} {
		for _, by := range []string{"", "email", "recharge", "shopify", "other"} {
			f.Add(s, by)
		}
	}
	f.Fuzz(func(t *testing.T, text, by string) {
		q, err := parseFind(text, by)
		if err != nil {
			if rechargekit.ErrorCode(err) != rechargekit.EINVALID || rechargekit.ErrorMessage(err) == "" {
				t.Fatalf("parseFind(%q, %q) error %v is not EINVALID with a message", text, by, err)
			}
			return
		}
		if q.IsZero() {
			t.Fatalf("parseFind(%q, %q) = an empty search without error", text, by)
		}
		if q.CustomerID < 0 {
			t.Fatalf("negative customer id %d", q.CustomerID)
		}
		for _, e := range q.Emails {
			local, domain, ok := strings.Cut(e, "@")
			if !ok || local == "" || domain == "" || strings.ContainsFunc(e, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) || len(e) > maxFindLength {
				t.Fatalf("parseFind(%q, %q) searches for the email %q", text, by, e)
			}
			if again, err := parseFind(e, findEmail); err != nil || !cmp.Equal(again, q) {
				t.Fatalf("the email %q found by parseFind(%q, %q) searched explicitly: %+v, %v", e, text, by, again, err)
			}
		}
		if q.ExternalID != "" && strings.ContainsFunc(q.ExternalID, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
			t.Fatalf("parseFind(%q, %q) searches for the Shopify id %q", text, by, q.ExternalID)
		}
		if q.CustomerID > 0 {
			if again, err := parseFind(strconv.FormatInt(q.CustomerID, 10), findRecharge); err != nil || again.CustomerID != q.CustomerID {
				t.Fatalf("the Recharge id %d found by parseFind(%q, %q) searched explicitly: %+v, %v", q.CustomerID, text, by, again, err)
			}
		}
	})
}

// FuzzParseArgon2id checks the stored password hash parser: it accepts only
// parameters within bounds, and what it accepts encodes back to the same
// text.
func FuzzParseArgon2id(f *testing.F) {
	h, err := HashPassword("pw")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{h, "", "$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=1,t=1,p=1$$", "$argon2id$v=19$m=9,m=9,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := parseArgon2id(s)
		if err != nil {
			return
		}
		if p.memory == 0 || p.memory > maxArgonMemoryKiB || p.time == 0 || p.time > maxArgonTime ||
			p.threads == 0 || p.threads > maxArgonThreads || p.memory < 8*uint32(p.threads) {
			t.Fatalf("parseArgon2id(%q) accepted out-of-bounds parameters %+v", s, p)
		}
		if len(salt) < 8 || len(key) < 16 || len(key) > 64 {
			t.Fatalf("parseArgon2id(%q) accepted salt %d, key %d bytes", s, len(salt), len(key))
		}
		// A parsed hash round-trips to the same text.
		if got := encodeArgon2id(p, salt, key); got != s {
			t.Fatalf("round trip of %q = %q", s, got)
		}
	})
}

// TestParseArgon2idOneSpelling is the regression test of a FuzzParseArgon2id
// finding: the base64 decoder skips line breaks, so a stored hash with one
// inside its salt or key was accepted as another spelling of the same hash.
// The input is also in testdata/fuzz/FuzzParseArgon2id.
func TestParseArgon2idOneSpelling(t *testing.T) {
	t.Parallel()
	h, err := HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := parseArgon2id(h); err != nil {
		t.Fatalf("parseArgon2id(%q): %v", h, err)
	}
	salt := strings.LastIndex(h, "$") - 4 // inside the salt
	for _, s := range []string{
		h + "\n",
		h[:len(h)-3] + "\n" + h[len(h)-3:],
		h[:len(h)-3] + "\r\n" + h[len(h)-3:],
		h[:salt] + "\n" + h[salt:],
		// The fuzzer's input.
		"$argon2id$v=19$m=10,t=1,p=1$00000000000$0000000000000000000000\n0",
	} {
		if _, _, _, err := parseArgon2id(s); err == nil {
			t.Errorf("parseArgon2id(%q) accepted a line break", s)
		}
	}
}
