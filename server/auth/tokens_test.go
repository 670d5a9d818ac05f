package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"testing"
)

func TestNewOpaqueToken(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		tok, hash := NewOpaqueToken()
		if len(tok) != 43 {
			t.Fatalf("token length %d, want 43", len(tok))
		}
		raw, err := base64.RawURLEncoding.Strict().DecodeString(tok)
		if err != nil || len(raw) != 32 {
			t.Fatalf("token is not 32 bytes of unpadded URL-safe base64: %v", err)
		}
		if seen[tok] {
			t.Fatal("duplicate token")
		}
		seen[tok] = true
		want := sha256.Sum256([]byte(tok))
		if !bytes.Equal(hash, want[:]) || !bytes.Equal(HashToken(tok), hash) {
			t.Fatal("hash is not SHA-256 of the token string")
		}
		if bytes.Contains(hash, []byte(tok)) || bytes.Contains(hash, raw) {
			t.Fatal("hash contains the token")
		}
		if !TokenMatches(tok, hash) {
			t.Fatal("TokenMatches(token, its hash) = false")
		}
	}
}

func TestTokenMatchesRefuses(t *testing.T) {
	tok, hash := NewOpaqueToken()
	other, _ := NewOpaqueToken()
	for name, tc := range map[string]struct {
		tok  string
		hash []byte
	}{
		"other token":       {other, hash},
		"token with space":  {tok + " ", hash},
		"truncated token":   {tok[:42], hash},
		"hash of nothing":   {"", hash},
		"empty hash":        {tok, nil},
		"truncated hash":    {tok, hash[:16]},
		"raw token as hash": {tok, []byte(tok)},
	} {
		if TokenMatches(tc.tok, tc.hash) {
			t.Errorf("%s: TokenMatches = true", name)
		}
	}
}
