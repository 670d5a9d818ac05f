package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newAuditCmd(e env) *cobra.Command {
	a := &cobra.Command{Use: "audit", Short: "Inspect the tamper-evident audit log"}
	v := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the audit hash chain and report the first broken link",
		Long: "Every audit row carries SHA-256 over the previous row's hash and its own fields. verify recomputes\n" +
			"the chain and exits 1 at the first row that was edited, deleted or reordered.",
		Args: cobra.NoArgs,
	}
	load := withConfig(v, e)
	v.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := load()
		if err != nil {
			return err
		}
		vault, err := openVault(cmd.Context(), cfg, newLogger(e.stderr, "warn"))
		if err != nil {
			return err
		}
		defer closeLogged(e.stderr, "vault", vault)
		n, brk, err := vault.store.VerifyAudit(cmd.Context())
		if err != nil {
			return err
		}
		if brk != nil {
			fmt.Fprintf(e.stdout, "audit log BROKEN at row %d: %s (%d rows checked)\n", brk.ID, brk.Reason, n)
			return &exitError{code: 1, err: fmt.Errorf("audit chain broken at row %d", brk.ID)}
		}
		fmt.Fprintf(e.stdout, "audit log intact: %d rows verified\n", n)
		return nil
	}
	a.AddCommand(v)
	return a
}
