package keys

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		in    string
		valid bool
	}{
		{"urlsafe base64 (token_urlsafe)", base64.RawURLEncoding.EncodeToString(k[:]), true},
		{"urlsafe base64 padded", base64.URLEncoding.EncodeToString(k[:]), true},
		{"hex", hex.EncodeToString(k[:]), true},
		{"hex upper with newline", strings.ToUpper(hex.EncodeToString(k[:])) + "\n", true},
		{"runbook placeholder", "your-32-char-encryption-key-here", false},
		{"django placeholder", "your-super-secret-production-key-here", false},
		{"empty", "", false},
		{"short", base64.RawURLEncoding.EncodeToString(k[:16]), false},
		{"long", hex.EncodeToString(append(k[:], 1)), false},
		{"zeros", strings.Repeat("0", 64), false},
		{"not encoded", "this is not a key at all!!", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(c.in)
			if c.valid {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if !Equal(got, k) {
					t.Fatal("decoded key differs")
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("want ErrInvalid, got %v", err)
			}
			if c.in != "" && strings.Contains(err.Error(), c.in) {
				t.Fatal("error echoes the rejected key")
			}
		})
	}
}

func TestLoadOrCreate(t *testing.T) {
	dir := t.TempDir()
	k1, src, err := LoadOrCreate("", dir, "master")
	if err != nil || src != FromGenerated {
		t.Fatalf("first: %v %v", src, err)
	}
	st, err := os.Stat(filepath.Join(dir, "keys", "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %o, want 600", st.Mode().Perm())
	}
	k2, src, err := LoadOrCreate("", dir, "master")
	if err != nil || src != FromDataDir || !Equal(k1, k2) {
		t.Fatalf("reload: %v %v equal=%v", src, err, Equal(k1, k2))
	}
	given, _ := Generate()
	k3, src, err := LoadOrCreate(given.String(), dir, "master")
	if err != nil || src != FromSetting || !Equal(k3, given) {
		t.Fatalf("given: %v %v", src, err)
	}
	if _, _, err := LoadOrCreate("your-32-char-encryption-key-here", dir, "master"); err == nil {
		t.Fatal("placeholder accepted")
	}
}

func TestDeriveSeparatesPurposes(t *testing.T) {
	k, _ := Generate()
	a, b := k.Derive(LabelJWT, 32), k.Derive(LabelMediaURL, 32)
	if string(a) == string(b) {
		t.Fatal("labels must give different keys")
	}
	if string(a) != string(k.Derive(LabelJWT, 32)) {
		t.Fatal("derivation must be deterministic")
	}
	k2, _ := Generate()
	if k.CheckValue() == k2.CheckValue() || k.ID() == k2.ID() {
		t.Fatal("different keys, same check value or id")
	}
	if strings.Contains(k.CheckValue(), hex.EncodeToString(k[:])) {
		t.Fatal("check value reveals the key")
	}
}
