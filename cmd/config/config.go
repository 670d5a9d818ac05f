// Package config turns flags, PHOTOVAULT_* environment variables, an optional
// env file and built-in defaults into one validated Config. Precedence: flag >
// environment > env file > default. Secrets are never taken from a flag value
// (argv is visible to every local user via ps); they come from the environment,
// the env file, or a file named by a *_FILE variable or --*-file flag.
package config

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Config is every setting of the appliance, parsed and validated once in cmd/
// and passed down explicitly.
type Config struct {
	Addr            string
	DataDir         string
	Domain          string
	PublicURL       string
	ACMEEmail       string
	ACMECA          string
	EncryptionKey   string // raw setting; parsed by store/keys
	SecretKey       string
	MetricsToken    string
	MaxUploadBytes  int64
	MaxPixels       int64
	RateLimit       int
	TrustedProxies  []*net.IPNet
	AllowedHosts    []string
	LogLevel        string
	ShutdownTimeout time.Duration
	Workers         int
	ShareDefaultTTL time.Duration
	BlobGrace       time.Duration
	SMTP            SMTP

	// Sources records where each setting came from (flag, env, env-file,
	// default, file) for `photovault check`; values are never recorded.
	Sources map[string]string
}

// SMTP holds outgoing mail settings; Host empty disables mail.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string
	TLS      string
}

// setting describes one knob: its flag, environment variable and default.
type setting struct {
	name   string // flag name
	def    string
	usage  string
	secret bool // value only via env/env file/*_FILE; the flag is --NAME-file
}

func (s setting) env() string {
	return "PHOTOVAULT_" + strings.ToUpper(strings.ReplaceAll(s.name, "-", "_"))
}

// Defaults, documented in docs/CONFIG.md.
const (
	DefaultMaxUploadBytes = 4 << 30     // 4 GiB: large RAW files and short videos
	DefaultMaxPixels      = 250_000_000 // 250 MP: any real camera or panorama; pixel floods are 10x more
	DefaultRateLimit      = 200         // requests/s per client IP; a 300-photo gallery bursts thumbs
)

var settings = []setting{
	{name: "addr", def: ":8080", usage: "listen address (ignored for HTTPS when --domain is set: :443 and :80 are used)"},
	{name: "data-dir", def: "./photovault-data", usage: "directory holding the database, encrypted blobs and state"},
	{name: "domain", usage: "public domain name; enables automatic HTTPS (certmagic/ACME)"},
	{name: "public-url", usage: "external base URL used in share links (default derived from domain or addr)"},
	{name: "acme-email", usage: "contact email for the ACME account"},
	{name: "acme-ca", usage: "ACME directory URL (default Let's Encrypt production)"},
	{name: "encryption-key", secret: true, usage: "master encryption key: 32 bytes as URL-safe base64 or 64 hex (default: generated in data-dir/keys)"},
	{name: "secret-key", secret: true, usage: "signing key: 32 bytes as URL-safe base64 or 64 hex (default: generated in data-dir/keys)"},
	{name: "metrics-token", secret: true, usage: "bearer token that opens /metrics to non-loopback clients"},
	{name: "max-upload-bytes", def: strconv.Itoa(DefaultMaxUploadBytes), usage: "per-file upload cap in bytes"},
	{name: "max-pixels", def: strconv.Itoa(DefaultMaxPixels), usage: "largest accepted image pixel count (pixel-flood guard)"},
	{name: "rate-limit", def: strconv.Itoa(DefaultRateLimit), usage: "general per-IP requests per second; 0 disables it (login/unlock throttles stay on)"},
	{name: "trusted-proxies", usage: "comma-separated CIDRs/IPs whose X-Forwarded-For is believed"},
	{name: "allowed-hosts", usage: "comma-separated Host names accepted (empty: any)"},
	{name: "log-level", def: "info", usage: "debug, info, warn or error"},
	{name: "shutdown-timeout", def: "25s", usage: "how long SIGTERM waits for in-flight requests"},
	{name: "workers", def: "0", usage: "derivative workers (0: one per CPU)"},
	{name: "share-default-ttl", def: "720h", usage: "expiry of a share link when none is given (30 days)"},
	{name: "blob-grace", def: "168h", usage: "how long deleted blobs stay on disk before the collector removes them"},
	{name: "smtp-host", usage: "SMTP server host (empty disables email)"},
	{name: "smtp-port", def: "587", usage: "SMTP server port"},
	{name: "smtp-username", usage: "SMTP user name"},
	{name: "smtp-password", secret: true, usage: "SMTP password"},
	{name: "smtp-from", usage: "sender address, e.g. studio@example.com"},
	{name: "smtp-tls", def: "starttls", usage: "starttls, tls or none"},
}

// Register adds every setting's flag (and --env-file) to fs.
func Register(fs *pflag.FlagSet) {
	fs.String("env-file", "", "read PHOTOVAULT_* settings from this file (KEY=VALUE lines, like a .env)")
	for _, s := range settings {
		if s.secret {
			fs.String(s.name+"-file", "", "file holding the "+s.usage+" (env "+s.env()+" or "+s.env()+"_FILE)")
			continue
		}
		fs.String(s.name, s.def, s.usage+" (env "+s.env()+")")
	}
}

// Load resolves every setting from fs, the environment (getenv) and the env
// file, then parses and validates the result.
func Load(fs *pflag.FlagSet, getenv func(string) string) (*Config, error) {
	envFile := map[string]string{}
	path, _ := fs.GetString("env-file")
	if path == "" {
		path = getenv("PHOTOVAULT_ENV_FILE")
	}
	if path != "" {
		m, err := ReadEnvFile(path)
		if err != nil {
			return nil, err
		}
		envFile = m
	}
	vals := map[string]string{}
	sources := map[string]string{}
	for _, s := range settings {
		v, src, err := resolve(fs, getenv, envFile, s)
		if err != nil {
			return nil, err
		}
		vals[s.name], sources[s.name] = v, src
	}
	c, err := parse(vals)
	if err != nil {
		return nil, err
	}
	c.Sources = sources
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func resolve(fs *pflag.FlagSet, getenv func(string) string, envFile map[string]string, s setting) (string, string, error) {
	env := s.env()
	if s.secret {
		if f := fs.Lookup(s.name + "-file"); f != nil && f.Changed {
			v, err := readSecretFile(f.Value.String(), "--"+s.name+"-file")
			return v, "flag-file", err
		}
		if v := getenv(env); v != "" {
			return v, "env", nil
		}
		if p := getenv(env + "_FILE"); p != "" {
			v, err := readSecretFile(p, env+"_FILE")
			return v, "env-file-ref", err
		}
		if v, ok := envFile[env]; ok && v != "" {
			return v, "env-file", nil
		}
		if p, ok := envFile[env+"_FILE"]; ok && p != "" {
			v, err := readSecretFile(p, env+"_FILE")
			return v, "env-file-ref", err
		}
		return s.def, "default", nil
	}
	if f := fs.Lookup(s.name); f != nil && f.Changed {
		return f.Value.String(), "flag", nil
	}
	if v, ok := lookup(getenv, env); ok {
		return v, "env", nil
	}
	if v, ok := envFile[env]; ok {
		return v, "env-file", nil
	}
	return s.def, "default", nil
}

func lookup(getenv func(string) string, key string) (string, bool) {
	v := getenv(key)
	return v, v != ""
}

func readSecretFile(path, what string) (string, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the operator names this file on purpose
	if err != nil {
		return "", fmt.Errorf("config: %s: %w", what, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// ReadEnvFile parses KEY=VALUE lines (blank lines and # comments skipped,
// optional `export `, single or double quotes stripped).
func ReadEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path) // #nosec G304 -- the operator names this file on purpose
	if err != nil {
		return nil, fmt.Errorf("config: env file: %w", err)
	}
	defer func() { _ = f.Close() }() // read-only
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		t = strings.TrimPrefix(t, "export ")
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			return nil, fmt.Errorf("config: env file %s line %d: want KEY=VALUE", path, line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		m[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("config: env file: %w", err)
	}
	return m, nil
}

func parse(v map[string]string) (*Config, error) {
	c := &Config{
		Addr:          v["addr"],
		DataDir:       v["data-dir"],
		Domain:        strings.ToLower(strings.TrimSpace(v["domain"])),
		PublicURL:     strings.TrimRight(strings.TrimSpace(v["public-url"]), "/"),
		ACMEEmail:     v["acme-email"],
		ACMECA:        v["acme-ca"],
		EncryptionKey: v["encryption-key"],
		SecretKey:     v["secret-key"],
		MetricsToken:  v["metrics-token"],
		LogLevel:      strings.ToLower(v["log-level"]),
		SMTP: SMTP{Host: v["smtp-host"], Username: v["smtp-username"], Password: v["smtp-password"],
			From: v["smtp-from"], TLS: strings.ToLower(v["smtp-tls"])},
	}
	var errs []error
	num := func(name string) int64 {
		n, err := strconv.ParseInt(strings.TrimSpace(v[name]), 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a whole number", name, v[name]))
		}
		return n
	}
	dur := func(name string) time.Duration {
		d, err := time.ParseDuration(strings.TrimSpace(v[name]))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a duration like 30s or 720h", name, v[name]))
		}
		return d
	}
	c.MaxUploadBytes = num("max-upload-bytes")
	c.MaxPixels = num("max-pixels")
	c.RateLimit = int(num("rate-limit"))
	c.Workers = int(num("workers"))
	c.SMTP.Port = int(num("smtp-port"))
	c.ShutdownTimeout = dur("shutdown-timeout")
	c.ShareDefaultTTL = dur("share-default-ttl")
	c.BlobGrace = dur("blob-grace")
	for _, p := range splitList(v["trusted-proxies"]) {
		n, err := parseCIDR(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("trusted-proxies: %w", err))
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, n)
	}
	for _, h := range splitList(v["allowed-hosts"]) {
		c.AllowedHosts = append(c.AllowedHosts, strings.ToLower(h))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseCIDR(s string) (*net.IPNet, error) {
	if !strings.Contains(s, "/") {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("%q is not an IP or CIDR", s)
		}
		bits := 128
		if ip4 := ip.To4(); ip4 != nil {
			ip, bits = ip4, 32
		}
		return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
	}
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not an IP or CIDR", s)
	}
	return n, nil
}

// Validate cross-checks the settings. Key material is validated by
// store/keys when it is loaded.
func (c *Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data-dir must not be empty"))
	}
	if c.Domain == "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			errs = append(errs, fmt.Errorf("addr %q: want host:port such as :8080", c.Addr))
		}
	} else if strings.ContainsAny(c.Domain, "/: ") {
		errs = append(errs, fmt.Errorf("domain %q: give a bare host name such as photos.example.com", c.Domain))
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("public-url %q: want an absolute http(s) URL", c.PublicURL))
		}
	}
	if c.MaxUploadBytes <= 0 {
		errs = append(errs, errors.New("max-upload-bytes must be positive"))
	}
	if c.MaxPixels <= 0 {
		errs = append(errs, errors.New("max-pixels must be positive"))
	}
	if c.RateLimit < 0 {
		errs = append(errs, errors.New("rate-limit must be 0 (off) or positive"))
	}
	if c.Workers < 0 {
		errs = append(errs, errors.New("workers must be 0 (auto) or positive"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log-level %q: want debug, info, warn or error", c.LogLevel))
	}
	if c.ShutdownTimeout <= 0 || c.ShareDefaultTTL <= 0 || c.BlobGrace < 0 {
		errs = append(errs, errors.New("durations must be positive"))
	}
	switch c.SMTP.TLS {
	case "starttls", "tls", "none":
	default:
		errs = append(errs, fmt.Errorf("smtp-tls %q: want starttls, tls or none", c.SMTP.TLS))
	}
	if c.SMTP.Host != "" && c.SMTP.From == "" {
		errs = append(errs, errors.New("smtp-from is required when smtp-host is set"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// TLS reports whether the server terminates TLS itself.
func (c *Config) TLS() bool { return c.Domain != "" }

// BaseURL is the external URL share links are built on.
func (c *Config) BaseURL() string {
	switch {
	case c.PublicURL != "":
		return c.PublicURL
	case c.Domain != "":
		return "https://" + c.Domain
	}
	host, port, _ := net.SplitHostPort(c.Addr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// DBPath is the metadata database; it and BlobRoot, TmpDir, KVDir and CertDir
// are the fixed places inside the data dir.
func (c *Config) DBPath() string   { return filepath.Join(c.DataDir, "photovault.db") }
func (c *Config) BlobRoot() string { return filepath.Join(c.DataDir, "blobs") }
func (c *Config) TmpDir() string   { return filepath.Join(c.DataDir, "tmp") }
func (c *Config) KVDir() string    { return filepath.Join(c.DataDir, "kv") }
func (c *Config) CertDir() string  { return filepath.Join(c.DataDir, "certs") }
