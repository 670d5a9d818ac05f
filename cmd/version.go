package cmd

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set at build time: -ldflags "-X github.com/photovault/photovault/cmd.version=v1.2.3".
var (
	version = "dev"
	commit  = ""
)

// buildInfo returns version, commit and Go version; the commit falls back to
// the VCS stamp Go records in the binary.
func buildInfo() (v, c, goVersion string) {
	v, c = version, commit
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && c == "" {
				c = s.Value
			}
		}
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	if c == "" {
		c = "unknown"
	}
	return v, c, runtime.Version()
}

func newVersionCmd(e env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, c, g := buildInfo()
			fmt.Fprintf(e.stdout, "photovault %s\ncommit %s\n%s %s/%s\n", v, c, g, runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
