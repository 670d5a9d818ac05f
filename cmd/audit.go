package cmd

import (
	"context"
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
	vaultRunE(v, e, func(ctx context.Context, vault *vault) error {
		n, brk, err := vault.store.VerifyAudit(ctx)
		if err != nil {
			return err
		}
		if brk != nil {
			fmt.Fprintf(e.stdout, "audit log BROKEN at row %d: %s (%d rows checked)\n", brk.ID, brk.Reason, n)
			return &exitError{code: 1, err: fmt.Errorf("audit chain broken at row %d", brk.ID)}
		}
		fmt.Fprintf(e.stdout, "audit log intact: %d rows verified\n", n)
		return nil
	})
	a.AddCommand(v)
	return a
}
