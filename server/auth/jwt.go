package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Access-token constants (SECURITY.md #3).
const (
	// AccessTokenTTL is the lifetime of an access token.
	AccessTokenTTL = 15 * time.Minute
	// TokenIssuer is the iss claim of every access token.
	TokenIssuer = "photovault"
	// TokenAudience is the aud claim of every access token.
	TokenAudience = "photovault"
	// AccessTokenType is the typ header (RFC 9068) that tells an access token
	// apart from any other JWT signed with a related key.
	AccessTokenType = "at+jwt"
	// MinSigningKeyLen is the shortest HMAC key accepted (RFC 7518 §3.2 asks
	// for at least the hash size).
	MinSigningKeyLen = 32
	// maxTokenLen bounds the input Verify will parse; real tokens are ~350 bytes.
	maxTokenLen = 4096
)

// ErrInvalidToken is returned (wrapped with the reason) by Verify for every
// token that must be refused. Handlers map it to 401.
var ErrInvalidToken = errors.New("auth: invalid access token")

// SigningKey is one HMAC-SHA256 key with the id carried in the kid header.
// The caller derives Key from the secret key (HKDF); it must be at least
// MinSigningKeyLen bytes.
type SigningKey struct {
	ID  string
	Key []byte
}

// Claims are the verified contents of an access token.
type Claims struct {
	UserID    string    // sub
	SessionID string    // sid: the refresh-token family, revoked on logout
	ID        string    // jti: unique per token, for the denylist
	IssuedAt  time.Time // iat
	ExpiresAt time.Time // exp
}

// Tokens issues and verifies access tokens. The first key signs; every key
// verifies, so a new key can be put first while tokens signed with the old
// one stay valid until the old key is dropped. Safe for concurrent use.
type Tokens struct {
	signer SigningKey
	keys   map[string][]byte
	now    func() time.Time
	parser *jwt.Parser
}

// NewTokens returns a Tokens for keys (first one signs). now is the clock;
// nil means time.Now.
func NewTokens(keys []SigningKey, now func() time.Time) (*Tokens, error) {
	if len(keys) == 0 {
		return nil, errors.New("auth: tokens: no signing key")
	}
	if now == nil {
		now = time.Now
	}
	t := &Tokens{keys: make(map[string][]byte, len(keys)), now: now}
	for i, k := range keys {
		if k.ID == "" {
			return nil, fmt.Errorf("auth: tokens: key %d has no id", i)
		}
		if len(k.Key) < MinSigningKeyLen {
			return nil, fmt.Errorf("auth: tokens: key %q shorter than %d bytes", k.ID, MinSigningKeyLen)
		}
		if _, dup := t.keys[k.ID]; dup {
			return nil, fmt.Errorf("auth: tokens: duplicate key id %q", k.ID)
		}
		t.keys[k.ID] = append([]byte(nil), k.Key...)
	}
	t.signer = SigningKey{ID: keys[0].ID, Key: t.keys[keys[0].ID]}
	t.parser = jwt.NewParser(
		// A fixed algorithm: alg=none, RS*/ES*/PS*/EdDSA (key confusion) and
		// HS384/512 are refused before any key is looked at.
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithAudience(TokenAudience),
		jwt.WithIssuer(TokenIssuer),
		jwt.WithExpirationRequired(),
		jwt.WithNotBeforeRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(now),
		jwt.WithStrictDecoding(),
	)
	return t, nil
}

// accessClaims is the wire form of an access token's claims.
type accessClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
}

// Validate is called by the jwt parser after the registered-claim checks.
func (c accessClaims) Validate() error {
	switch {
	case c.Subject == "":
		return errors.New("missing sub")
	case c.SessionID == "":
		return errors.New("missing sid")
	case c.ID == "":
		return errors.New("missing jti")
	case c.IssuedAt == nil:
		return errors.New("missing iat")
	}
	return nil
}

// Issue signs a new access token for userID in refresh family sessionID,
// valid for AccessTokenTTL from now. expiresAt is the exp claim exactly.
func (t *Tokens) Issue(userID, sessionID string) (token string, expiresAt time.Time, err error) {
	if userID == "" || sessionID == "" {
		return "", time.Time{}, errors.New("auth: issue: empty user or session id")
	}
	var jti [16]byte
	_, _ = rand.Read(jti[:]) // crypto/rand.Read never fails (Go 1.24+)
	now := t.now()
	claims := accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    TokenIssuer,
			Subject:   userID,
			Audience:  jwt.ClaimStrings{TokenAudience},
			ExpiresAt: jwt.NewNumericDate(now.Add(AccessTokenTTL)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        base64.RawURLEncoding.EncodeToString(jti[:]),
		},
		SessionID: sessionID,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = t.signer.ID
	tok.Header["typ"] = AccessTokenType
	signed, err := tok.SignedString(t.signer.Key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: issue: %w", err)
	}
	return signed, claims.ExpiresAt.Time, nil
}

// Verify checks token and returns its claims. Any failure — malformed, not
// HS256, unknown kid, wrong typ, aud or iss, expired, not yet valid, issued in
// the future, missing sub/sid/jti, bad signature — is ErrInvalidToken wrapped
// with the reason. Revocation (the denylist, logout) is the caller's check.
func (t *Tokens) Verify(token string) (Claims, error) {
	if len(token) > maxTokenLen {
		return Claims{}, fmt.Errorf("%w: too long", ErrInvalidToken)
	}
	var c accessClaims
	_, err := t.parser.ParseWithClaims(token, &c, t.key)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return Claims{
		UserID:    c.Subject,
		SessionID: c.SessionID,
		ID:        c.ID,
		IssuedAt:  c.IssuedAt.Time,
		ExpiresAt: c.ExpiresAt.Time,
	}, nil
}

// key is the jwt.Keyfunc: it checks the header, then picks the key by kid.
func (t *Tokens) key(tok *jwt.Token) (any, error) {
	// Belt and braces with WithValidMethods: never hand an HMAC secret to a
	// non-HMAC method.
	if tok.Method != jwt.SigningMethodHS256 {
		return nil, fmt.Errorf("unexpected signing method %v", tok.Header["alg"])
	}
	typ, _ := tok.Header["typ"].(string)
	if !strings.EqualFold(typ, AccessTokenType) && !strings.EqualFold(typ, "application/"+AccessTokenType) {
		return nil, errors.New("not an access token (typ)")
	}
	kid, _ := tok.Header["kid"].(string)
	key, ok := t.keys[kid]
	if !ok {
		return nil, errors.New("unknown key id")
	}
	return key, nil
}
