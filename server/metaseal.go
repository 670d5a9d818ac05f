package server

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/keys"
)

// Camera and lens names are sealed in the database like GPS positions: a
// stolen disk or backup must not reveal which camera (often unique to a
// photographer, with serial-like model strings) shot what. Format:
//
//	"pv1:" + master key id (16 hex) + ":" + base64url(nonce(12) || AES-256-GCM(value))
//
// under the HKDF sub-key keys.LabelMetadata, with the media id, the field
// name and the key id as associated data, so a value copied to another row
// or field does not open.
const sealedTextPrefix = "pv1:"

// ErrSealedText reports a sealed value that does not open.
var ErrSealedText = errors.New("server: sealed metadata does not open")

func textAEAD(master keys.Key) (cipher.AEAD, error) {
	block, err := aes.NewCipher(master.Derive(keys.LabelMetadata, 32))
	if err != nil {
		return nil, fmt.Errorf("server: metadata key: %w", err)
	}
	return cipher.NewGCM(block)
}

func textAD(mediaID, field, keyID string) []byte {
	return []byte("photovault-text-v1|" + field + "|" + mediaID + "|" + keyID)
}

// SealText encrypts one metadata field of a media item; "" stays "".
func SealText(master keys.Key, mediaID, field, value string) (string, error) {
	if value == "" {
		return "", nil
	}
	aead, err := textAEAD(master)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(value)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("server: metadata nonce: %w", err)
	}
	ct := aead.Seal(nonce, nonce, []byte(value), textAD(mediaID, field, master.ID()))
	return sealedTextPrefix + master.ID() + ":" + base64.RawURLEncoding.EncodeToString(ct), nil
}

// OpenText decrypts a value made by SealText. Values without the prefix
// (written before sealing existed) are returned as they are.
func OpenText(master keys.Key, mediaID, field, stored string) (string, error) {
	rest, ok := strings.CutPrefix(stored, sealedTextPrefix)
	if !ok {
		return stored, nil
	}
	kid, b64, ok := strings.Cut(rest, ":")
	if !ok || kid != master.ID() {
		return "", ErrSealedText
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	aead, aerr := textAEAD(master)
	if err != nil || aerr != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return "", ErrSealedText
	}
	pt, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], textAD(mediaID, field, kid))
	if err != nil {
		return "", ErrSealedText
	}
	return string(pt), nil
}

// TextKeyID is the master key id a sealed value was made with ("" if none).
func TextKeyID(stored string) string {
	rest, ok := strings.CutPrefix(stored, sealedTextPrefix)
	if !ok {
		return ""
	}
	kid, _, _ := strings.Cut(rest, ":")
	return kid
}

// openMeta returns m with its sealed camera and lens opened for display. A
// value that does not open is shown empty rather than failing the request.
func (s *Server) openMeta(m store.Media) store.Media {
	for _, f := range []struct {
		name string
		v    *string
	}{{"camera", &m.Camera}, {"lens", &m.Lens}} {
		v, err := OpenText(s.master, m.ID, f.name, *f.v)
		if err != nil {
			s.log.Warn().Err(err).Str("media_id", m.ID).Str("field", f.name).Msg("sealed metadata does not open")
			v = ""
		}
		*f.v = v
	}
	return m
}
