// Package cmd is PhotoVault's command line: one cobra command per file. It
// loads configuration once, builds the logger, opens the stores and passes
// them down. It is the only package that exits the process.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/photovault/photovault/cmd/config"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
)

// env is the process environment seen by commands; tests replace it.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// Execute runs the command line and returns the process exit code.
func Execute() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return run(ctx, os.Args[1:], env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
}

// exitError carries a specific exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func run(ctx context.Context, args []string, e env) int {
	root := newRootCmd(e)
	root.SetArgs(args)
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(e.stderr, "photovault:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

func newRootCmd(e env) *cobra.Command {
	root := &cobra.Command{
		Use:           "photovault",
		Short:         "A self-hosted photo vault with secure client delivery",
		Long:          "PhotoVault keeps a photographer's originals encrypted at rest and delivers them to clients through safe share links.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(e), newVersionCmd(e), newUserCmd(e), newCheckCmd(e))
	root.AddCommand(newAuditCmd(e))
	root.AddCommand(newKeysCmd(e))
	root.AddCommand(newImportCmd(e))
	root.AddCommand(newBackupCmd(e), newRestoreCmd(e))
	return root
}

// withConfig registers every setting on c and returns a loader for them.
func withConfig(c *cobra.Command, e env) func() (*config.Config, error) {
	config.Register(c.Flags())
	return func() (*config.Config, error) {
		return config.Load(c.Flags(), e.getenv)
	}
}

// newLogger builds the JSON-lines logger on w.
func newLogger(w io.Writer, level string) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

// closeLogged closes c when a command ends and reports a failure on w: a
// store that cannot close cleanly is worth knowing about, but must not mask
// the command's own result.
func closeLogged(w io.Writer, what string, c io.Closer) {
	if err := c.Close(); err != nil {
		fmt.Fprintf(w, "photovault: closing %s: %v\n", what, err)
	}
}
