package blob

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// Sentinel errors. Callers compare with errors.Is; every error this package
// returns wraps at most one of them.
var (
	// ErrNotFound reports that no committed blob file exists for the id.
	ErrNotFound = errors.New("blob: not found")
	// ErrCorrupt reports a blob file that fails authentication or is
	// malformed: bit flips, truncation, appended or reordered chunks, chunks
	// or whole files moved between blobs, a tampered header, or a plaintext
	// size that differs from the size recorded in the Ref.
	ErrCorrupt = errors.New("blob: corrupt or tampered ciphertext")
	// ErrWrongKey reports that the KEK does not open the Ref's wrapped data
	// key: its id differs from Ref.KeyID, the key bytes are not the ones that
	// wrapped it, or the wrapped key belongs to another blob or was altered.
	ErrWrongKey = errors.New("blob: wrong key encryption key")
	// ErrInvalidID reports a blob id that is not 32 lowercase hex characters.
	ErrInvalidID = errors.New("blob: invalid blob id")
	// ErrInvalidKey reports an unusable KEK (empty id or all-zero key).
	ErrInvalidKey = errors.New("blob: invalid key encryption key")
	// ErrClosed reports use of a Writer after Commit or Abort, or of a
	// Reader after Close.
	ErrClosed = errors.New("blob: already closed")
)

// KEK is a key-encryption (master) key together with its id. The id is
// recorded in every Ref so that key rotation can tell which key wrapped a
// blob's data key; derive it with KeyID.
type KEK struct {
	// ID names the key; normally KeyID(Key).
	ID string
	// Key is the 32-byte AES-256 key that wraps data keys.
	Key [32]byte
}

// KeyID returns a stable, non-secret short id for a key:
// hex(HMAC-SHA256(key, "photovault key id v1")[:8]). It reveals nothing
// usable about the key, so it may be logged and stored next to wrapped keys.
func KeyID(key [32]byte) string {
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte("photovault key id v1"))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// Ref is everything the metadata database keeps about one blob. The
// wrapped key lives here, not in the blob file, so rotating the master key
// rewrites rows and never media.
type Ref struct {
	// ID is the blob id: 32 lowercase hex characters from crypto/rand.
	ID string
	// KeyID is the id of the KEK that wrapped WrappedKey.
	KeyID string
	// WrappedKey is nonce(12) || AES-256-GCM(KEK, data key) (60 bytes).
	WrappedKey []byte
	// Size is the plaintext size in bytes. Open refuses a file whose
	// length implies another size, which catches truncation up front.
	Size int64
}

const (
	idBytes = 16
	idLen   = 2 * idBytes

	magic         = "PVB1"
	formatVersion = 1
	// defaultChunkExp gives 64 KiB plaintext chunks.
	defaultChunkExp = 16
	// minChunkExp and maxChunkExp bound what a reader accepts, so a hostile
	// header cannot make it allocate more than 1 MiB per reader.
	minChunkExp = 10
	maxChunkExp = 20

	prefixLen = 7
	// headerLen is magic(4) version(1) chunkExp(1) prefix(7) id(16).
	headerLen = 4 + 1 + 1 + prefixLen + idBytes
	tagLen    = 16
	nonceLen  = 12

	wrapNonceLen  = 12
	wrappedKeyLen = wrapNonceLen + 32 + tagLen
	wrapADPrefix  = "photovault-blob-key-v1|"
	maxChunkCount = 1 << 32
	tmpPrefix     = "blob-"
	tmpSuffix     = ".tmp"
	dirPerm       = 0o700
	blobsDirName  = "blobs"

	// defaultWriteback starts disk writes every 4 MiB while streaming.
	defaultWriteback = 4 << 20
)

// ValidID reports whether id has the form of a blob id: exactly 32
// lowercase hexadecimal characters. Only valid ids are ever turned into
// paths, which rules out path traversal through ids.
func ValidID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// newID returns a fresh random blob id read from rnd.
func newID(rnd io.Reader) (string, error) {
	var b [idBytes]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return "", fmt.Errorf("blob: random id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// checkKEK rejects KEKs that are obviously unset.
func checkKEK(kek KEK) error {
	var zero [32]byte
	if kek.ID == "" {
		return fmt.Errorf("%w: empty key id", ErrInvalidKey)
	}
	if subtle.ConstantTimeCompare(kek.Key[:], zero[:]) == 1 {
		return fmt.Errorf("%w: all-zero key", ErrInvalidKey)
	}
	return nil
}

// wrapAD binds a wrapped data key to its blob and to the KEK id, so a
// wrapped key copied to another row, or relabelled with another key id,
// does not open.
func wrapAD(blobID, keyID string) []byte {
	ad := make([]byte, 0, len(wrapADPrefix)+len(blobID)+1+len(keyID))
	ad = append(ad, wrapADPrefix...)
	ad = append(ad, blobID...)
	ad = append(ad, '|')
	ad = append(ad, keyID...)
	return ad
}

func newGCM(key []byte) (cipher.AEAD, error) {
	c, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("blob: aes: %w", err)
	}
	g, err := cipher.NewGCM(c)
	if err != nil {
		return nil, fmt.Errorf("blob: gcm: %w", err)
	}
	return g, nil
}

// wrapKey seals a data key under kek for blobID.
func wrapKey(rnd io.Reader, kek KEK, blobID string, dataKey *[32]byte) ([]byte, error) {
	g, err := newGCM(kek.Key[:])
	if err != nil {
		return nil, err
	}
	out := make([]byte, wrapNonceLen, wrappedKeyLen)
	if _, err := io.ReadFull(rnd, out); err != nil {
		return nil, fmt.Errorf("blob: random nonce: %w", err)
	}
	return g.Seal(out, out[:wrapNonceLen], dataKey[:], wrapAD(blobID, kek.ID)), nil
}

// unwrapKey opens ref.WrappedKey with kek into dst.
func unwrapKey(kek KEK, ref Ref, dst *[32]byte) error {
	if err := checkKEK(kek); err != nil {
		return err
	}
	if kek.ID != ref.KeyID {
		return fmt.Errorf("%w: blob %s is wrapped by key %q, not %q", ErrWrongKey, ref.ID, ref.KeyID, kek.ID)
	}
	if len(ref.WrappedKey) != wrappedKeyLen {
		return fmt.Errorf("%w: blob %s: wrapped key has %d bytes", ErrWrongKey, ref.ID, len(ref.WrappedKey))
	}
	g, err := newGCM(kek.Key[:])
	if err != nil {
		return err
	}
	var buf [32 + tagLen]byte
	wk := ref.WrappedKey
	pt, err := g.Open(buf[:0], wk[:wrapNonceLen], wk[wrapNonceLen:], wrapAD(ref.ID, ref.KeyID))
	if err != nil {
		return fmt.Errorf("%w: blob %s: data key does not unwrap with key %q", ErrWrongKey, ref.ID, kek.ID)
	}
	copy(dst[:], pt)
	clear(buf[:])
	return nil
}

// header is the parsed fixed-size file header.
type header struct {
	chunkExp uint8
	prefix   [prefixLen]byte
	id       [idBytes]byte
	raw      [headerLen]byte
}

func (h *header) encode() {
	copy(h.raw[0:4], magic)
	h.raw[4] = formatVersion
	h.raw[5] = h.chunkExp
	copy(h.raw[6:6+prefixLen], h.prefix[:])
	copy(h.raw[6+prefixLen:], h.id[:])
}

// parseHeader validates raw and that it names wantID.
func parseHeader(raw []byte, wantID string) (header, error) {
	var h header
	if len(raw) != headerLen {
		return h, fmt.Errorf("%w: short header", ErrCorrupt)
	}
	copy(h.raw[:], raw)
	if string(raw[0:4]) != magic {
		return h, fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	if raw[4] != formatVersion {
		return h, fmt.Errorf("%w: unsupported version %d", ErrCorrupt, raw[4])
	}
	h.chunkExp = raw[5]
	if h.chunkExp < minChunkExp || h.chunkExp > maxChunkExp {
		return h, fmt.Errorf("%w: chunk size exponent %d out of range", ErrCorrupt, h.chunkExp)
	}
	copy(h.prefix[:], raw[6:6+prefixLen])
	copy(h.id[:], raw[6+prefixLen:])
	var want [idBytes]byte
	if _, err := hex.Decode(want[:], []byte(wantID)); err != nil {
		return h, fmt.Errorf("%w: %s", ErrInvalidID, wantID)
	}
	if h.id != want {
		// A whole file copied over another blob's path.
		return h, fmt.Errorf("%w: header names blob %x, not %s", ErrCorrupt, h.id, wantID)
	}
	return h, nil
}

// plainSize returns the plaintext size for a ciphertext file of fileSize
// bytes with 2^exp-byte chunks, without decrypting. The only valid layouts
// are: one empty last chunk (empty plaintext), or ceil(P/C) chunks where all
// but the last are full and the last holds 1..C bytes.
func plainSize(fileSize int64, exp uint8) (int64, error) {
	body := fileSize - headerLen
	if body < tagLen {
		return 0, fmt.Errorf("%w: file too short", ErrCorrupt)
	}
	if body == tagLen {
		return 0, nil
	}
	full := int64(1)<<exp + tagLen
	n := (body + full - 1) / full
	last := body - (n-1)*full
	if last <= tagLen {
		return 0, fmt.Errorf("%w: empty trailing chunk", ErrCorrupt)
	}
	if n > maxChunkCount {
		return 0, fmt.Errorf("%w: too many chunks", ErrCorrupt)
	}
	return body - n*tagLen, nil
}

// chunkNonce fills nonce with prefix || uint32be(counter) || lastFlag.
func chunkNonce(nonce *[nonceLen]byte, prefix *[prefixLen]byte, counter uint32, last bool) {
	copy(nonce[:prefixLen], prefix[:])
	nonce[7] = byte(counter >> 24)
	nonce[8] = byte(counter >> 16)
	nonce[9] = byte(counter >> 8)
	nonce[10] = byte(counter)
	nonce[11] = 0
	if last {
		nonce[11] = 1
	}
}
