package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// OpaqueTokenBytes is the entropy of an opaque token: 256 bits from the
// CSPRNG (SECURITY.md #5 asks at least 128 for refresh tokens, #7 exactly 32
// bytes for share tokens).
const OpaqueTokenBytes = 32

// NewOpaqueToken returns a fresh random token — refresh, setup or share token —
// as unpadded URL-safe base64 (43 characters), and the SHA-256 of that string,
// which is all the server keeps: a database dump holds no usable token.
func NewOpaqueToken() (token string, hash []byte) {
	var b [OpaqueTokenBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token)
}

// HashToken returns the SHA-256 of token as presented, the form stored and
// looked up. A high-entropy token needs no salt or slow hash.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// TokenMatches reports in constant time whether token hashes to hash, for
// callers that compare against a hash they already hold.
func TokenMatches(token string, hash []byte) bool {
	return subtle.ConstantTimeCompare(HashToken(token), hash) == 1
}
