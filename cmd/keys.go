package cmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/photovault/photovault/cmd/config"
	"github.com/photovault/photovault/server"
	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/blob"
	"github.com/photovault/photovault/store/keys"
	"github.com/photovault/photovault/store/kv"
	"github.com/spf13/cobra"
)

// signingOverlap is how long tokens of the previous signing generation keep
// verifying after `keys rotate --signing`: their whole lifetime (15 min)
// plus a margin for clock skew.
const signingOverlap = 16 * time.Minute

func newKeysCmd(e env) *cobra.Command {
	k := &cobra.Command{Use: "keys", Short: "Rotate the vault's keys"}
	k.AddCommand(newKeysRotateCmd(e))
	return k
}

func newKeysRotateCmd(e env) *cobra.Command {
	c := &cobra.Command{
		Use:   "rotate (--new-encryption-key-file FILE | --signing)",
		Short: "Rotate the master encryption key or the token signing key",
		Long: "With --new-encryption-key-file, re-wraps every blob's data key (and re-encrypts the stored GPS\n" +
			"positions) under the new master key in one transaction; media files are not rewritten. Stop\n" +
			"`serve` first. The current key comes from PHOTOVAULT_ENCRYPTION_KEY[_FILE] or the data dir, as\n" +
			"for serve. An interrupted rotation changes nothing and may simply be run again.\n\n" +
			"With --signing, starts a new signing-key generation for access tokens; tokens of the previous\n" +
			"generation keep verifying until they expire. Safe while `serve` runs.",
		Args: cobra.NoArgs,
	}
	var newKeyFile string
	var signing bool
	c.Flags().StringVar(&newKeyFile, "new-encryption-key-file", "", "file holding the new master key (32 random bytes as URL-safe base64 or 64 hex digits)")
	c.Flags().BoolVar(&signing, "signing", false, "rotate the JWT signing key (derived from the secret key) instead")
	load := withConfig(c, e)
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if (newKeyFile == "") == !signing {
			return errors.New("keys rotate needs exactly one of --new-encryption-key-file FILE or --signing")
		}
		cfg, err := load()
		if err != nil {
			return err
		}
		if _, err := os.Stat(cfg.DBPath()); err != nil {
			return fmt.Errorf("no vault in %s: %w", cfg.DataDir, err)
		}
		if signing {
			return rotateSigning(cmd, cfg, e.stdout)
		}
		return rotateMaster(cmd, cfg, newKeyFile, e)
	}
	return c
}

// rotateSigning bumps the signing generation; a running serve reloads it
// within seconds.
func rotateSigning(cmd *cobra.Command, cfg *config.Config, out io.Writer) error {
	st, err := store.Open(cmd.Context(), cfg.DBPath(), store.Options{})
	if err != nil {
		return err
	}
	defer closeLogged(out, "database", st)
	until := time.Now().Add(signingOverlap)
	gen, err := st.RotateSigning(cmd.Context(), server.SettingJWTGeneration, server.SettingJWTPrevUntil, until,
		store.AuditEvent{Type: "key_rotated", Actor: "cli", Target: "signing"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Signing key rotated: access tokens are now signed by generation %d.\n", gen)
	fmt.Fprintf(out, "Tokens of generation %d keep verifying until %s (their lifetime); a running serve picks this up within seconds.\n",
		gen-1, until.UTC().Format(time.RFC3339))
	return nil
}

// rotateMaster re-wraps every data key under a new master key.
func rotateMaster(cmd *cobra.Command, cfg *config.Config, newKeyFile string, e env) error {
	ctx := cmd.Context()
	cur, curSrc, err := currentMasterKey(cfg)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(newKeyFile) // #nosec G304 -- the operator names the key file
	if err != nil {
		return fmt.Errorf("new encryption key: %w", err)
	}
	next, err := keys.Parse(string(raw))
	if err != nil {
		return fmt.Errorf("new encryption key (%s): %w", newKeyFile, err)
	}
	if keys.Equal(cur, next) {
		return errors.New("the new encryption key is the current one; generate a new key with `openssl rand -hex 32`")
	}
	// No other command may run meanwhile: a serve or an import on the old
	// key would keep wrapping new blobs with it (they hold the data dir
	// lock shared, and serve also the kv directory lock).
	lock, err := lockDataDir(cfg.DataDir, true)
	if errors.Is(err, errDataDirBusy) {
		return errors.New("another photovault command (serve, import, backup, …) is using this data dir: stop it before rotating the master key")
	}
	if err != nil {
		return err
	}
	defer func() { _ = lock.Close() }()
	kvs, err := kv.Open(cfg.KVDir(), newLogger(io.Discard, "error"))
	if err != nil {
		if strings.Contains(err.Error(), "in use by another process") {
			return errors.New("photovault serve appears to be running on this data dir (the kv directory is locked): stop it before rotating the master key")
		}
		return err
	}
	if err := kvs.Close(); err != nil {
		return err
	}

	st, err := store.Open(ctx, cfg.DBPath(), store.Options{})
	if err != nil {
		return err
	}
	defer closeLogged(e.stderr, "database", st)
	blobs, err := blob.New(cfg.BlobRoot(), cfg.TmpDir())
	if err != nil {
		return fmt.Errorf("blobs: %w", err)
	}
	oldKEK := blob.KEK{ID: blob.KeyID(cur), Key: cur}
	newKEK := blob.KEK{ID: blob.KeyID(next), Key: next}
	stats, err := st.RewrapAll(ctx, store.Rotation{
		NewKeyID: newKEK.ID,
		OldCheck: cur.CheckValue(),
		NewCheck: next.CheckValue(),
		Blob:     func(ref blob.Ref) (blob.Ref, error) { return blobs.Rewrap(ref, oldKEK, newKEK) },
		Text: func(mediaID, field, stored string) (string, error) {
			if server.TextKeyID(stored) == next.ID() {
				return stored, nil
			}
			v, err := server.OpenText(cur, mediaID, field, stored)
			if err != nil {
				return "", err
			}
			return server.SealText(next, mediaID, field, v)
		},
		Location: func(mediaID string, rec []byte) ([]byte, error) {
			if server.LocationKeyID(rec) == next.ID() {
				return rec, nil // re-run: already under the new key
			}
			lat, lon, err := server.OpenLocation(cur, mediaID, rec)
			if err != nil {
				return nil, err
			}
			return server.SealLocation(next, mediaID, lat, lon)
		},
		Audit: store.AuditEvent{Type: "key_rotated", Actor: "cli", Target: "master",
			Detail: "master key " + cur.ID() + " -> " + next.ID()},
	})
	if errors.Is(err, store.ErrWrongKey) {
		return fmt.Errorf("this vault was created with a different encryption key than the current one (key id %s); run with the vault's PHOTOVAULT_ENCRYPTION_KEY", cur.ID())
	}
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(newKeyFile)
	out := e.stdout
	fmt.Fprintf(out, "Master key rotated from %s to %s: %d data keys re-wrapped (%d already under the new key), %d locations and %d metadata fields re-encrypted.\n",
		cur.ID(), next.ID(), stats.Blobs, stats.Skipped, stats.Locations, stats.Texts)
	fmt.Fprintln(out, "No media file was changed.")
	fmt.Fprintln(out, "Next:")
	fmt.Fprintf(out, "  1. Start serve (and every other photovault command) with PHOTOVAULT_ENCRYPTION_KEY_FILE=%s\n", abs)
	fmt.Fprintln(out, "     (or PHOTOVAULT_ENCRYPTION_KEY set to its contents). The old key is refused from now on.")
	if curSrc == keys.FromDataDir {
		fmt.Fprintf(out, "  2. The old key is %s: once serve runs with the new key, destroy it.\n", filepath.Join(cfg.DataDir, "keys", "master.key"))
		fmt.Fprintln(out, "     Keep the new key outside the data dir.")
	} else {
		fmt.Fprintln(out, "  2. Once serve runs with the new key, destroy the old key.")
	}
	fmt.Fprintln(out, "  Backups taken before this rotation still need the old key: keep it as long as you keep them.")
	return nil
}

// currentMasterKey loads the vault's current master key like serve does,
// but never generates one.
func currentMasterKey(cfg *config.Config) (keys.Key, keys.Source, error) {
	if strings.TrimSpace(cfg.EncryptionKey) == "" {
		p := filepath.Join(cfg.DataDir, "keys", "master.key")
		if _, err := os.Stat(p); err != nil {
			return keys.Key{}, "", fmt.Errorf("no current encryption key: set PHOTOVAULT_ENCRYPTION_KEY[_FILE] to the vault's key (%s: %w)", p, err)
		}
	}
	k, src, err := keys.LoadOrCreate(cfg.EncryptionKey, cfg.DataDir, "master")
	if err != nil {
		return keys.Key{}, "", fmt.Errorf("current encryption key (PHOTOVAULT_ENCRYPTION_KEY): %w", err)
	}
	return k, src, nil
}
