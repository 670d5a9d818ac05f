package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/photovault/photovault/server/auth"
	"github.com/photovault/photovault/store"
	"github.com/spf13/cobra"
)

func newUserCmd(e env) *cobra.Command {
	u := &cobra.Command{Use: "user", Short: "Manage owner accounts"}
	u.AddCommand(newUserCreateCmd(e), newUserListCmd(e), newUserPasswdCmd(e), newUserDisableCmd(e, true), newUserDisableCmd(e, false))
	return u
}

// readPassword reads one line from stdin. Passwords never come from argv,
// where every local user could read them.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password on standard input")
	}
	return pw, nil
}

func newUserCreateCmd(e env) *cobra.Command {
	c := &cobra.Command{
		Use:   "create --username NAME --password-stdin",
		Short: "Create an owner account; the password is read from standard input",
		Args:  cobra.NoArgs,
	}
	var username string
	var fromStdin bool
	c.Flags().StringVar(&username, "username", "", "login name of the new owner")
	c.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input (required)")
	load := withConfig(c, e)
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		username = strings.TrimSpace(username)
		if username == "" {
			return errors.New("--username is required")
		}
		if !fromStdin {
			return errors.New("--password-stdin is required: passwords are never taken from the command line")
		}
		pw, err := readPassword(e.stdin)
		if err != nil {
			return err
		}
		if err := auth.CheckPassword(pw, username); err != nil {
			return weakPassword(err)
		}
		cfg, err := load()
		if err != nil {
			return err
		}
		v, err := openVault(cmd.Context(), cfg, newLogger(e.stderr, "warn"))
		if err != nil {
			return err
		}
		defer closeLogged(e.stderr, "vault", v)
		hash, err := auth.HashPassword(pw)
		if err != nil {
			return err
		}
		u, err := v.store.CreateUser(cmd.Context(), username, hash)
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("user %q already exists", username)
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, u.ID)
		return nil
	}
	return c
}

func newUserListCmd(e env) *cobra.Command {
	c := &cobra.Command{Use: "list", Short: "List owner accounts", Args: cobra.NoArgs}
	vaultRunE(c, e, func(ctx context.Context, v *vault) error {
		users, err := v.store.ListUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSERNAME\tSTATUS\tCREATED")
		for _, u := range users {
			status := "active"
			if u.Disabled {
				status = "disabled"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.ID, u.Username, status, u.CreatedAt.Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	})
	return c
}

func newUserPasswdCmd(e env) *cobra.Command {
	c := &cobra.Command{Use: "passwd --username NAME", Short: "Set an owner's password from standard input; ends all their sessions", Args: cobra.NoArgs}
	var username string
	c.Flags().StringVar(&username, "username", "", "login name")
	vaultRunE(c, e, func(ctx context.Context, v *vault) error {
		pw, err := readPassword(e.stdin)
		if err != nil {
			return err
		}
		if err := auth.CheckPassword(pw, username); err != nil {
			return weakPassword(err)
		}
		u, err := v.store.UserByUsername(ctx, username)
		if err != nil {
			return fmt.Errorf("user %q: %w", username, err)
		}
		hash, err := auth.HashPassword(pw)
		if err != nil {
			return err
		}
		if err := v.store.SetPassword(ctx, u.ID, hash, ""); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "password changed; all sessions of", u.Username, "ended")
		return nil
	})
	return c
}

func newUserDisableCmd(e env, disable bool) *cobra.Command {
	use, short := "enable --username NAME", "Re-enable an owner account"
	if disable {
		use, short = "disable --username NAME", "Disable an owner account and end all its sessions"
	}
	c := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs}
	var username string
	c.Flags().StringVar(&username, "username", "", "login name")
	vaultRunE(c, e, func(ctx context.Context, v *vault) error {
		u, err := v.store.UserByUsername(ctx, username)
		if err != nil {
			return fmt.Errorf("user %q: %w", username, err)
		}
		return v.store.SetUserDisabled(ctx, u.ID, disable)
	})
	return c
}

// weakPassword turns a policy rejection into "weak password: <reason>".
func weakPassword(err error) error {
	var wp *auth.WeakPasswordError
	if errors.As(err, &wp) {
		return fmt.Errorf("weak password: %s", wp.Reason)
	}
	return fmt.Errorf("weak password: %w", err)
}
