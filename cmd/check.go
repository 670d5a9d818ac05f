package cmd

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/photovault/photovault/cmd/config"
	"github.com/photovault/photovault/store/keys"
	"github.com/spf13/cobra"
)

// finding is one result of the deploy audit.
type finding struct {
	level string // "error" or "warning"
	id    string
	msg   string
	fix   string
}

func newCheckCmd(e env) *cobra.Command {
	c := &cobra.Command{
		Use:   "check",
		Short: "Audit the deployment settings (like `manage.py check --deploy`)",
		Long: "Audit the deployment: TLS, key placement, file permissions, placeholder secrets, host\n" +
			"settings and logging. Exits 1 when any error is found; warnings alone exit 0.",
		Args: cobra.NoArgs,
	}
	load := withConfig(c, e)
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := load()
		if err != nil {
			fmt.Fprintf(e.stdout, "ERROR   config: %v\n        fix: correct the setting named above\n", err)
			return &exitError{code: 1, err: fmt.Errorf("check: 1 error")}
		}
		fs := auditConfig(cfg)
		errs := report(e.stdout, fs)
		if errs > 0 {
			return &exitError{code: 1, err: fmt.Errorf("check: %d error(s)", errs)}
		}
		return nil
	}
	return c
}

func report(w io.Writer, fs []finding) int {
	errs, warns := 0, 0
	for _, f := range fs {
		tag := "WARNING"
		if f.level == "error" {
			tag = "ERROR  "
			errs++
		} else {
			warns++
		}
		fmt.Fprintf(w, "%s %s: %s\n        fix: %s\n", tag, f.id, f.msg, f.fix)
	}
	if errs == 0 && warns == 0 {
		fmt.Fprintln(w, "System check identified no issues.")
	} else {
		fmt.Fprintf(w, "System check identified %d error(s) and %d warning(s).\n", errs, warns)
	}
	return errs
}

// auditConfig inspects the configuration and the data directory on disk.
func auditConfig(cfg *config.Config) []finding {
	var fs []finding
	add := func(level, id, msg, fix string) { fs = append(fs, finding{level, id, msg, fix}) }

	// Keys: valid, not placeholders, and not stored beside the data they protect.
	for _, k := range []struct{ name, value, env, file string }{
		{"encryption key", cfg.EncryptionKey, "PHOTOVAULT_ENCRYPTION_KEY", "master"},
		{"secret key", cfg.SecretKey, "PHOTOVAULT_SECRET_KEY", "secret"},
	} {
		if strings.TrimSpace(k.value) != "" {
			if _, err := keys.Parse(k.value); err != nil {
				add("error", "keys.invalid", fmt.Sprintf("%s: %v", k.name, err),
					"generate one with `openssl rand -hex 32` and give it via "+k.env+"_FILE")
			}
			continue
		}
		path := filepath.Join(cfg.DataDir, "keys", k.file+".key")
		level := "error"
		if k.file == "secret" {
			level = "warning"
		}
		add(level, "keys.in_data_dir", fmt.Sprintf("%s is kept inside the data dir (%s): a copied data dir or backup carries the key that unlocks it", k.name, path),
			"move the key file out (e.g. /etc/photovault/"+k.file+".key, mode 0600) and set "+k.env+"_FILE to it")
	}

	// TLS on a public address.
	if !cfg.TLS() {
		public := !bindsLoopbackOnly(cfg.Addr)
		httpsURL := strings.HasPrefix(cfg.PublicURL, "https://")
		switch {
		case public && !httpsURL:
			add("error", "tls.missing", fmt.Sprintf("serving plain HTTP on a public address (%s) without TLS", cfg.Addr),
				"set --domain for automatic HTTPS, or put a TLS proxy in front and set PHOTOVAULT_PUBLIC_URL=https://…")
		case httpsURL && len(cfg.TrustedProxies) == 0:
			add("warning", "proxy.untrusted", "public URL is HTTPS but no trusted proxy is configured: client IPs will be the proxy's",
				"set PHOTOVAULT_TRUSTED_PROXIES to the proxy's address")
		}
	}

	// Host checking.
	if len(cfg.AllowedHosts) == 0 {
		add("warning", "hosts.any", "any Host header is accepted", "set PHOTOVAULT_ALLOWED_HOSTS to your domain(s)")
	} else {
		for _, h := range []string{cfg.Domain, hostOf(cfg.PublicURL)} {
			if h != "" && !hostAllowed(h, cfg.AllowedHosts) {
				add("error", "hosts.mismatch", fmt.Sprintf("%q is where clients reach the vault but is not in allowed-hosts", h),
					"add it to PHOTOVAULT_ALLOWED_HOSTS")
			}
		}
	}

	// File permissions.
	if st, err := os.Stat(cfg.DataDir); err == nil && st.Mode().Perm()&0o077 != 0 {
		add("error", "perms.data_dir", fmt.Sprintf("data dir %s is readable by others (mode %04o)", cfg.DataDir, st.Mode().Perm()),
			"chmod 700 "+cfg.DataDir)
	}
	for _, p := range []string{cfg.DBPath(), filepath.Join(cfg.DataDir, "keys", "master.key"), filepath.Join(cfg.DataDir, "keys", "secret.key")} {
		if st, err := os.Stat(p); err == nil && st.Mode().Perm()&0o077 != 0 {
			add("error", "perms.file", fmt.Sprintf("%s is readable by others (mode %04o)", p, st.Mode().Perm()), "chmod 600 "+p)
		}
	}

	// Operations.
	if cfg.LogLevel == "debug" {
		add("warning", "logging.debug", "debug logging is on", "set PHOTOVAULT_LOG_LEVEL=info")
	}
	if cfg.RateLimit == 0 {
		add("warning", "ratelimit.off", "the general per-IP rate limit is off", "set PHOTOVAULT_RATE_LIMIT (default 200)")
	}
	if cfg.MetricsToken != "" && len(cfg.MetricsToken) < 24 {
		add("warning", "metrics.weak_token", "the metrics token is short", "use at least 24 random characters")
	}
	if cfg.SMTP.Host != "" && cfg.SMTP.TLS == "none" && cfg.SMTP.Password != "" {
		add("error", "smtp.cleartext", "the SMTP password would be sent without TLS", "set PHOTOVAULT_SMTP_TLS=starttls or tls")
	}
	return fs
}

func bindsLoopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return strings.ToLower(p.Hostname())
}

func hostAllowed(h string, allowed []string) bool {
	for _, a := range allowed {
		if a == h || a == "*" || (strings.HasPrefix(a, ".") && strings.HasSuffix(h, a)) {
			return true
		}
	}
	return false
}
