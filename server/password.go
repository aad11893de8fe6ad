package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters for new password hashes: OWASP's recommended minimum
// (19 MiB, two passes, one lane). A sign-in costs tens of milliseconds, and
// a stolen database costs an attacker that much per guess. The parameters
// travel in the encoded hash, so they can be raised later without breaking
// the hashes already stored.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonSaltLen   = 16
	argonKeyLen    = 32
)

// Bounds on the parameters CheckPassword accepts from a stored hash, so a
// tampered or corrupt row cannot make one sign-in allocate gigabytes or
// spin for minutes.
const (
	maxArgonMemoryKiB = 256 * 1024
	maxArgonTime      = 16
	maxArgonThreads   = 16
	maxPasswordLen    = 1024 // longer input is refused before hashing
)

// HashPassword returns pw hashed with argon2id and a fresh random salt, in
// the self-describing PHC form
// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>" (unpadded base64), which
// is what the stores keep in User.PasswordHash.
func HashPassword(pw string) (string, error) {
	if pw == "" {
		return "", errors.New("server: hash password: the password is empty")
	}
	if len(pw) > maxPasswordLen {
		return "", fmt.Errorf("server: hash password: the password is longer than %d bytes", maxPasswordLen)
	}
	salt := make([]byte, argonSaltLen)
	rand.Read(salt) // never fails (crypto/rand's guarantee since Go 1.24)
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	return encodeArgon2id(argon2Params{memory: argonMemoryKiB, time: argonTime, threads: argonThreads}, salt, key), nil
}

// CheckPassword reports whether pw matches an encoded hash made by
// HashPassword. A malformed hash, or one whose parameters are out of the
// accepted bounds, never matches. The comparison is constant-time.
func CheckPassword(hash, pw string) bool {
	if pw == "" || len(pw) > maxPasswordLen {
		return false
	}
	p, salt, key, err := parseArgon2id(hash)
	if err != nil {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1
}

type argon2Params struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
}

func encodeArgon2id(p argon2Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// parseArgon2id splits a PHC-form argon2id hash into its parameters, salt
// and key, refusing anything outside the bounds above.
func parseArgon2id(s string) (argon2Params, []byte, []byte, error) {
	var p argon2Params
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errors.New("not an argon2id hash")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("unsupported argon2 version %q", parts[2])
	}
	// Exactly "m=N,t=N,p=N", in this order and in canonical decimal, so
	// that one hash has one spelling.
	kvs := strings.Split(parts[3], ",")
	if len(kvs) != 3 {
		return p, nil, nil, errors.New("argon2 parameters must be m, t and p")
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		k, v, ok := strings.Cut(kvs[i], "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || k != name || err != nil || n == 0 || v != strconv.FormatUint(n, 10) {
			return p, nil, nil, fmt.Errorf("bad argon2 parameter %q", kvs[i])
		}
		vals[i] = n
	}
	switch {
	case vals[0] > maxArgonMemoryKiB:
		return p, nil, nil, fmt.Errorf("argon2 memory %d KiB is over the limit", vals[0])
	case vals[1] > maxArgonTime:
		return p, nil, nil, fmt.Errorf("argon2 time %d is over the limit", vals[1])
	case vals[2] > maxArgonThreads:
		return p, nil, nil, fmt.Errorf("argon2 threads %d is over the limit", vals[2])
	}
	p = argon2Params{memory: uint32(vals[0]), time: uint32(vals[1]), threads: uint8(vals[2])}
	// Argon2 needs at least 8 KiB per lane.
	if p.memory < 8*uint32(p.threads) {
		return p, nil, nil, errors.New("argon2 memory is below 8 KiB per lane")
	}
	b64 := base64.RawStdEncoding.Strict()
	salt, err := b64.DecodeString(parts[4])
	// The decoder skips line breaks; re-encoding keeps one spelling per hash.
	if err != nil || len(salt) < 8 || len(salt) > 64 || b64.EncodeToString(salt) != parts[4] {
		return p, nil, nil, errors.New("bad argon2 salt")
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 || b64.EncodeToString(key) != parts[5] {
		return p, nil, nil, errors.New("bad argon2 key")
	}
	return p, salt, key, nil
}

// dummyHash is checked against when a sign-in names an unknown user, so
// that the answer takes as long as for a known user with a wrong password
// and does not tell which emails have accounts.
var dummyHash = sync.OnceValue(func() string {
	h, err := HashPassword(rand.Text())
	if err != nil {
		panic(err) // unreachable: the password is neither empty nor long
	}
	return h
})

// GeneratePassword returns a new random password for a user: 26 characters
// of base32 (128 bits), shown once to whoever creates the user.
func GeneratePassword() string { return rand.Text() }

// apiTokenPrefix marks rechargekit API tokens, so that secret scanners and
// people can tell what a leaked string is.
const apiTokenPrefix = "rk_"

// NewAPIToken returns a new random API token for the JSON API and the hash
// the stores keep (see HashAPIToken). The token itself is shown once and
// never stored.
func NewAPIToken() (token, hash string) {
	b := make([]byte, 32)
	rand.Read(b)
	token = apiTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashAPIToken(token)
}

// HashAPIToken returns the SHA-256 of an API token, in hex: what
// TokenStore.APITokenByHash looks tokens up by. A fast hash is right here:
// the tokens are 256 random bits, not guessable passwords.
func HashAPIToken(token string) string {
	return hashToken(token)
}

// hashToken is the SHA-256 hex of a random bearer secret (API token or
// session cookie).
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// randomToken returns 32 random bytes, base64url-encoded.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
