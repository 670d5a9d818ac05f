package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/photovault/photovault/cmd/config"
	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/keys"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
)

// vault is an opened data directory: keys loaded and checked, database open.
type vault struct {
	cfg       *config.Config
	store     *store.Store
	master    keys.Key
	secret    keys.Key
	masterSrc keys.Source
	secretSrc keys.Source
	lock      *dataDirLock
}

// openVault creates the data dir (0700) if needed, loads or generates the
// keys, opens the database and refuses a master key other than the one the
// vault was created with.
func openVault(ctx context.Context, cfg *config.Config, log zerolog.Logger) (*vault, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	lock, err := lockDataDir(cfg.DataDir, false)
	switch {
	case errors.Is(err, errDataDirBusy):
		return nil, errors.New("a master key rotation (`photovault keys rotate`) is running on this data dir; try again when it has finished")
	case err != nil:
		// Not fatal: the lock only guards rotations, which then rely on
		// the kv directory lock to see a running serve.
		log.Warn().Err(err).Msg("cannot take the data dir lock")
	}
	ok := false
	defer func() {
		if !ok {
			_ = lock.Close()
		}
	}()
	master, msrc, err := keys.LoadOrCreate(cfg.EncryptionKey, cfg.DataDir, "master")
	if err != nil {
		return nil, fmt.Errorf("encryption key (PHOTOVAULT_ENCRYPTION_KEY): %w", err)
	}
	secret, ssrc, err := keys.LoadOrCreate(cfg.SecretKey, cfg.DataDir, "secret")
	if err != nil {
		return nil, fmt.Errorf("secret key (PHOTOVAULT_SECRET_KEY): %w", err)
	}
	for name, src := range map[string]keys.Source{"master": msrc, "secret": ssrc} {
		if src == keys.FromGenerated {
			log.Warn().Str("key", name).Str("dir", cfg.DataDir+"/keys").
				Msg("generated a new key inside the data dir; back it up and move it out (see `photovault check`)")
		}
	}
	st, err := store.Open(ctx, cfg.DBPath(), store.Options{})
	if err != nil {
		return nil, err
	}
	if err := st.BindMasterKey(ctx, master.CheckValue()); err != nil {
		_ = st.Close()
		if errors.Is(err, store.ErrWrongKey) {
			return nil, fmt.Errorf("this vault was created with a different encryption key (given key id %s); start it with the original PHOTOVAULT_ENCRYPTION_KEY", master.ID())
		}
		return nil, err
	}
	ok = true
	return &vault{cfg: cfg, store: st, master: master, secret: secret, masterSrc: msrc, secretSrc: ssrc, lock: lock}, nil
}

// Close closes the database, then releases the data dir lock.
func (v *vault) Close() error {
	err := v.store.Close()
	if lerr := v.lock.Close(); err == nil {
		err = lerr
	}
	return err
}

// vaultRunE registers the settings on c and sets its RunE to: load the
// configuration, open the vault, run fn, close the vault.
func vaultRunE(c *cobra.Command, e env, fn func(ctx context.Context, v *vault) error) {
	load := withConfig(c, e)
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := load()
		if err != nil {
			return err
		}
		v, err := openVault(cmd.Context(), cfg, newLogger(e.stderr, "warn"))
		if err != nil {
			return err
		}
		defer closeLogged(e.stderr, "vault", v)
		return fn(cmd.Context(), v)
	}
}
