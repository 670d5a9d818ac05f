// Package keys loads, validates, generates and derives PhotoVault's two root keys.
//
// The master key encrypts what is kept (it wraps every blob's data key and the
// encrypted metadata fields); the secret key authenticates what is handed out
// (JWTs, signed media URLs, share unlock sessions, CSRF tokens). Both are 32
// random bytes. Sub-keys are derived with HKDF-SHA256 and a distinct label per
// purpose, so a leak of one purpose's key never exposes another's.
package keys

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Size is the length of every root key in bytes.
const Size = 32

// Key is a 32-byte root key.
type Key [Size]byte

// Labels for HKDF sub-keys. Each purpose has its own label so keys never
// cross purposes (a signed media URL can never be replayed as a JWT).
const (
	LabelKeyCheck     = "photovault/master/key-check/v1"
	LabelLocation     = "photovault/master/location/v1"
	LabelMetadata     = "photovault/master/metadata/v1"
	LabelJWT          = "photovault/secret/jwt/v1"
	LabelMediaURL     = "photovault/secret/media-url/v1"
	LabelShareSession = "photovault/secret/share-session/v1"
	LabelCSRF         = "photovault/secret/csrf/v1"
	LabelIPHash       = "photovault/secret/ip-hash/v1"
)

// ErrInvalid reports a key that is not 32 bytes of URL-safe base64 or hex.
var ErrInvalid = errors.New("keys: invalid key")

// placeholders are fragments of the example values found in runbooks and
// sample .env files; a key containing one was copied, not generated.
var placeholders = []string{"your", "change", "example", "placeholder", "secret-key", "encryption-key", "replace", "xxxx", "todo", "dummy", "sample"}

// Parse decodes a key given by setting: 32 bytes as URL-safe base64 (what
// `secrets.token_urlsafe(32)` prints, with or without padding) or as 64 hex
// digits. Placeholders, short keys and keys of visibly low entropy are refused.
func Parse(s string) (Key, error) {
	var k Key
	s = strings.TrimSpace(s)
	if s == "" {
		return k, fmt.Errorf("%w: empty", ErrInvalid)
	}
	low := strings.ToLower(s)
	for _, p := range placeholders {
		if strings.Contains(low, p) {
			return k, fmt.Errorf("%w: looks like a placeholder from an example; generate one with `openssl rand -hex 32`", ErrInvalid)
		}
	}
	var raw []byte
	switch {
	case len(s) == 64 && isHex(s):
		raw, _ = hex.DecodeString(s)
	default:
		for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
			if b, err := enc.DecodeString(s); err == nil {
				raw = b
				break
			}
		}
	}
	if raw == nil {
		return k, fmt.Errorf("%w: must be 32 bytes as URL-safe base64 (43 characters) or 64 hex digits; generate one with `openssl rand -hex 32`", ErrInvalid)
	}
	if len(raw) != Size {
		return k, fmt.Errorf("%w: decodes to %d bytes, need %d", ErrInvalid, len(raw), Size)
	}
	if distinct(raw) < 12 {
		return k, fmt.Errorf("%w: too little entropy (repeated bytes); generate a random key", ErrInvalid)
	}
	copy(k[:], raw)
	return k, nil
}

func isHex(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

func distinct(b []byte) int {
	var seen [256]bool
	n := 0
	for _, c := range b {
		if !seen[c] {
			seen[c] = true
			n++
		}
	}
	return n
}

// Generate returns a fresh random key.
func Generate() (Key, error) {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		return k, fmt.Errorf("keys: generate: %w", err)
	}
	return k, nil
}

// String encodes the key as URL-safe base64 without padding, the format Parse
// accepts. Only for writing key files: never log it.
func (k Key) String() string { return base64.RawURLEncoding.EncodeToString(k[:]) }

// ID is a short public identifier of a key (not a secret): it lets rows and
// tokens name the key they were made with so keys can rotate.
func (k Key) ID() string {
	m := hmac.New(sha256.New, k[:])
	m.Write([]byte("photovault key id v1"))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// Derive returns an HKDF-SHA256 sub-key of n bytes for the given label.
func (k Key) Derive(label string, n int) []byte {
	out, err := hkdf.Key(sha256.New, k[:], nil, label, n)
	if err != nil { // only for n > 255*32, a programming error
		panic(fmt.Sprintf("keys: derive %q: %v", label, err))
	}
	return out
}

// CheckValue is stored in SQLite when a vault is created and compared at every
// start, so a vault refuses to run with a different master key. It reveals
// nothing about the key (HMAC under an HKDF sub-key).
func (k Key) CheckValue() string {
	m := hmac.New(sha256.New, k.Derive(LabelKeyCheck, 32))
	m.Write([]byte("photovault vault key check"))
	return hex.EncodeToString(m.Sum(nil))
}

// Source says where a key came from, for logs and `photovault check`.
type Source string

// Key sources.
const (
	FromSetting   Source = "setting"
	FromGenerated Source = "generated"
	FromDataDir   Source = "data-dir"
)

// LoadOrCreate returns the key given by setting (value, already read from a
// *_FILE if one was named) or, when none was given, the key in
// <dataDir>/keys/<name>.key, generating it (mode 0600) on first start.
func LoadOrCreate(given, dataDir, name string) (Key, Source, error) {
	if strings.TrimSpace(given) != "" {
		k, err := Parse(given)
		return k, FromSetting, err
	}
	dir := filepath.Join(dataDir, "keys")
	path := filepath.Join(dir, name+".key")
	b, err := os.ReadFile(path) // #nosec G304 -- path is built from the configured data dir and a constant name
	if err == nil {
		k, err := Parse(string(b))
		if err != nil {
			return k, FromDataDir, fmt.Errorf("keys: %s: %w", path, err)
		}
		return k, FromDataDir, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return Key{}, FromDataDir, fmt.Errorf("keys: read %s: %w", path, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Key{}, FromGenerated, fmt.Errorf("keys: %w", err)
	}
	k, err := Generate()
	if err != nil {
		return k, FromGenerated, err
	}
	if err := writeFileSync(path, []byte(k.String()+"\n")); err != nil {
		return Key{}, FromGenerated, err
	}
	return k, FromGenerated, nil
}

// writeFileSync creates path exclusively with mode 0600 and fsyncs it, so a
// crash never leaves a half-written key behind a started vault.
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 -- constant name under data dir
	if err != nil {
		return fmt.Errorf("keys: create %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("keys: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("keys: sync %s: %w", path, err)
	}
	return f.Close()
}

// Equal compares two keys in constant time.
func Equal(a, b Key) bool { return hmac.Equal(a[:], b[:]) }

// IsZero reports whether k is unset.
func (k Key) IsZero() bool { return bytes.Equal(k[:], make([]byte, Size)) }
