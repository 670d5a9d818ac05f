package server

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/crc32"
	"net/http"

	"github.com/rs/zerolog"
)

func crc32IEEE(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

func shortHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// zlog is the request-scoped logger.
func zlog(r *http.Request) *zerolog.Logger { return zerolog.Ctx(r.Context()) }
