package cmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/photovault/photovault/cmd/config"
	"github.com/photovault/photovault/server"
	"github.com/photovault/photovault/store/blob"
	"github.com/photovault/photovault/store/kv"
	"github.com/spf13/cobra"
)

func newServeCmd(e env) *cobra.Command {
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the PhotoVault server",
		Long: "Run the PhotoVault server. With no settings at all it listens on :8080, keeps everything in\n" +
			"./photovault-data and generates its keys there on first start.",
		Args: cobra.NoArgs,
	}
	load := withConfig(c, e)
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := load()
		if err != nil {
			return err
		}
		return serve(cmd.Context(), cfg, e)
	}
	return c
}

// serve runs until ctx is cancelled (SIGTERM/SIGINT), then stops accepting,
// drains in-flight requests for at most cfg.ShutdownTimeout and closes the
// stores cleanly.
func serve(ctx context.Context, cfg *config.Config, e env) error {
	log := newLogger(e.stdout, cfg.LogLevel)
	start := time.Now()
	v, err := openVault(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeLogged(e.stderr, "vault", v)

	// tmp/ holds only in-flight uploads: anything there now is a crash orphan.
	if err := os.RemoveAll(cfg.TmpDir()); err != nil {
		return fmt.Errorf("clean tmp: %w", err)
	}
	if err := os.MkdirAll(cfg.TmpDir(), 0o700); err != nil {
		return fmt.Errorf("tmp dir: %w", err)
	}
	blobs, err := blob.New(cfg.BlobRoot(), cfg.TmpDir())
	if err != nil {
		return fmt.Errorf("blobs: %w", err)
	}
	kvs, err := kv.Open(cfg.KVDir(), log)
	if err != nil {
		return fmt.Errorf("kv: %w", err)
	}
	defer closeLogged(e.stderr, "kv", kvs)

	ver, _, _ := buildInfo()
	srv, err := server.New(server.Deps{
		Config: cfg, Log: log, Store: v.store, Blobs: blobs, KV: kvs, Master: v.master, Secret: v.secret, Version: ver, Banner: e.stderr,
	})
	if err != nil {
		return err
	}
	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); kvs.RunGC(bg, 10*time.Minute) }()
	if err := srv.Start(bg, &wg); err != nil {
		stopBG()
		return err
	}

	var servers []*http.Server
	errc := make(chan error, 2)
	listen := func(hs *http.Server, ln net.Listener, tls bool) {
		servers = append(servers, hs)
		go func() {
			var err error
			if tls {
				err = hs.ServeTLS(ln, "", "")
			} else {
				err = hs.Serve(ln)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	if cfg.TLS() {
		https, redirect, err := srv.TLSServers(ctx)
		if err != nil {
			stopBG()
			return err
		}
		for _, p := range []struct {
			hs  *http.Server
			tls bool
		}{{https, true}, {redirect, false}} {
			ln, err := net.Listen("tcp", p.hs.Addr)
			if err != nil {
				stopBG()
				return fmt.Errorf("listen %s: %w", p.hs.Addr, err)
			}
			log.Info().Str("addr", ln.Addr().String()).Bool("tls", p.tls).Msg("listening")
			listen(p.hs, ln, p.tls)
		}
	} else {
		hs := srv.HTTPServer(cfg.Addr)
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			stopBG()
			return fmt.Errorf("listen %s: %w", cfg.Addr, err)
		}
		if _, port, _ := net.SplitHostPort(cfg.Addr); port == "0" {
			cfg.Addr = ln.Addr().String() // share links must name the real port
		}
		log.Info().Str("addr", ln.Addr().String()).Str("url", cfg.BaseURL()).Str("data_dir", cfg.DataDir).
			Dur("startup", time.Since(start)).Msg("listening")
		listen(hs, ln, false)
	}
	srv.Announce(ctx)

	var runErr error
	select {
	case <-ctx.Done():
		log.Info().Msg("shutting down: draining in-flight requests")
	case runErr = <-errc:
		log.Error().Err(runErr).Msg("server failed")
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	for _, hs := range servers {
		if err := hs.Shutdown(sctx); err != nil {
			log.Warn().Err(err).Msg("shutdown did not drain in time")
			_ = hs.Close()
		}
	}
	stopBG()
	srv.Stop(sctx)
	wg.Wait()
	log.Info().Msg("stopped")
	return runErr
}
