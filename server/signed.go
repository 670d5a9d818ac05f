package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/keys"
)

// Media URL variants a share can hand out.
const (
	variantThumb    = "thumb"
	variantPreview  = "preview"
	variantOriginal = "original" // the original (location stripped when the share says so), as a download
	variantDownload = "download" // the preview as a download, for download=preview shares
)

// mediaURLTTL bounds a signed media URL; never beyond the share's expiry.
// URLs are stable within a bucket so browsers can revalidate (ETag) instead
// of refetching when a gallery is reopened.
const (
	mediaURLTTL    = 2 * time.Hour
	mediaURLBucket = time.Hour
)

// mediaSig is HMAC-SHA256 over share, media, variant, expiry and the share's
// password version (SECURITY.md #10), under a key used for nothing else.
// A password change bumps the version, so earlier URLs die with it.
func (s *Server) mediaSig(shareID, mediaID, variant string, exp int64, pwv int) string {
	m := hmac.New(sha256.New, s.subkeys.mediaURL)
	for _, f := range []string{shareID, mediaID, variant, strconv.FormatInt(exp, 10), strconv.Itoa(pwv)} {
		m.Write([]byte(f))
		m.Write([]byte{0})
	}
	// Truncated to 128 bits (RFC 2104 §5 allows truncation to half the
	// output): forging one still takes 2^128 work, and a 300-photo gallery
	// carries ~900 signatures, so the JSON shrinks by a tenth.
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// mediaURLExpiry is the expiry for URLs signed now for share sh.
func (s *Server) mediaURLExpiry(sh store.Share) int64 {
	now := s.now()
	exp := now.Truncate(mediaURLBucket).Add(mediaURLTTL)
	if sh.ExpiresAt != nil && sh.ExpiresAt.Before(exp) {
		exp = *sh.ExpiresAt
	}
	return exp.Unix()
}

// signedMediaURL is a relative URL for one variant of one media item.
func (s *Server) signedMediaURL(sh store.Share, mediaID, variant string, exp int64) string {
	return "/api/public/m/" + sh.ID + "/" + mediaID + "/" + variant + "?e=" + strconv.FormatInt(exp, 10) +
		"&s=" + s.cachedSig(sh.ID, mediaID, variant, exp, sh.PasswordVersion) + "&v=" + strconv.Itoa(sh.PasswordVersion)
}

var errBadSignature = errors.New("server: bad media signature")

// verifyMediaURL checks signature and expiry; it says nothing about whether
// the share is still live — the caller reads that from the database.
func (s *Server) verifyMediaURL(shareID, mediaID, variant string, q url.Values) (pwv int, err error) {
	exp, err1 := strconv.ParseInt(q.Get("e"), 10, 64)
	pwv, err2 := strconv.Atoi(q.Get("v"))
	if err1 != nil || err2 != nil || q.Get("s") == "" {
		return 0, errBadSignature
	}
	want := s.mediaSig(shareID, mediaID, variant, exp, pwv)
	if !hmac.Equal([]byte(q.Get("s")), []byte(want)) {
		return 0, errBadSignature
	}
	if s.now().Unix() >= exp {
		return 0, errBadSignature
	}
	return pwv, nil
}

// Unlock sessions are stateless: share id, password version and expiry,
// MACed under the share-session key. They open exactly one link (the share
// id is inside the MAC) and die when the password changes.
const shareSessionTTL = 12 * time.Hour

func (s *Server) shareSession(sh store.Share) (string, time.Duration) {
	exp := s.now().Add(shareSessionTTL)
	if sh.ExpiresAt != nil && sh.ExpiresAt.Before(exp) {
		exp = *sh.ExpiresAt
	}
	var buf [12]byte
	binary.BigEndian.PutUint64(buf[:8], uint64(exp.Unix()))
	binary.BigEndian.PutUint32(buf[8:], uint32(sh.PasswordVersion))
	payload := base64.RawURLEncoding.EncodeToString(buf[:])
	return payload + "." + s.sessionMAC(sh.ID, payload), exp.Sub(s.now())
}

func (s *Server) sessionMAC(shareID, payload string) string {
	m := hmac.New(sha256.New, s.subkeys.session)
	m.Write([]byte(shareID))
	m.Write([]byte{0})
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validShareSession checks a session value for share sh.
func (s *Server) validShareSession(sh store.Share, v string) bool {
	payload, mac, ok := strings.Cut(v, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(s.sessionMAC(sh.ID, payload))) {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || len(raw) != 12 {
		return false
	}
	exp := int64(binary.BigEndian.Uint64(raw[:8])) // #nosec G115 -- authenticated value we wrote
	pwv := int(binary.BigEndian.Uint32(raw[8:]))
	return pwv == sh.PasswordVersion && s.now().Unix() < exp
}

// dailyIPHash hashes the client IP with a salt that rotates every UTC day:
// analytics can count visitors per day, nobody can track an IP across days.
func (s *Server) dailyIPHash(ip string) string {
	m := hmac.New(sha256.New, s.subkeys.ipHash)
	m.Write([]byte(s.now().UTC().Format("2006-01-02")))
	m.Write([]byte{0})
	m.Write([]byte(ip))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:12])
}

// subkeys are the HKDF sub-keys of the secret key, derived once at start
// (HKDF per request measurably cost throughput on hot public routes).
type subkeys struct {
	mediaURL, session, csrf, ipHash []byte
}

func deriveSubkeys(secret keys.Key) subkeys {
	return subkeys{
		mediaURL: secret.Derive(keys.LabelMediaURL, 32),
		session:  secret.Derive(keys.LabelShareSession, 32),
		csrf:     secret.Derive(keys.LabelCSRF, 32),
		ipHash:   secret.Derive(keys.LabelIPHash, 32),
	}
}

// sigCache memoises media URL signatures. URLs are stable within an hour
// bucket, so a gallery opened by many clients signs each URL once per hour
// instead of on every /content. Bounded: cleared wholesale when full.
type sigCache struct {
	mu sync.Mutex
	m  map[sigKey]string
}

type sigKey struct {
	share, media, variant string
	exp                   int64
	pwv                   int
}

const sigCacheMax = 200_000

func (s *Server) cachedSig(shareID, mediaID, variant string, exp int64, pwv int) string {
	k := sigKey{shareID, mediaID, variant, exp, pwv}
	s.sigs.mu.Lock()
	if v, ok := s.sigs.m[k]; ok {
		s.sigs.mu.Unlock()
		return v
	}
	s.sigs.mu.Unlock()
	v := s.mediaSig(shareID, mediaID, variant, exp, pwv)
	s.sigs.mu.Lock()
	if s.sigs.m == nil || len(s.sigs.m) >= sigCacheMax {
		s.sigs.m = make(map[sigKey]string, 1024)
	}
	s.sigs.m[k] = v
	s.sigs.mu.Unlock()
	return v
}
