package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func load(t *testing.T, args []string, env map[string]string) (*Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	Register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return Load(fs, func(k string) string { return env[k] })
}

func TestDefaults(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.DataDir != "./photovault-data" || c.RateLimit != DefaultRateLimit || c.MaxUploadBytes != DefaultMaxUploadBytes {
		t.Fatalf("defaults: %+v", c)
	}
	if c.Sources["addr"] != "default" {
		t.Fatalf("source %q", c.Sources["addr"])
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, ".env")
	if err := os.WriteFile(envFile, []byte("# comment\nPHOTOVAULT_ADDR=:1111\nexport PHOTOVAULT_RATE_LIMIT='7'\nPHOTOVAULT_LOG_LEVEL=\"warn\"\nPHOTOVAULT_MAX_PIXELS=5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PHOTOVAULT_ADDR": ":2222", "PHOTOVAULT_RATE_LIMIT": "9"}
	c, err := load(t, []string{"--env-file", envFile, "--addr", ":3333"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":3333" {
		t.Errorf("flag must win: addr %q", c.Addr)
	}
	if c.RateLimit != 9 {
		t.Errorf("env must beat env file: rate %d", c.RateLimit)
	}
	if c.LogLevel != "warn" || c.MaxPixels != 5 {
		t.Errorf("env file must beat default: %q %d", c.LogLevel, c.MaxPixels)
	}
	if c.Sources["addr"] != "flag" || c.Sources["rate-limit"] != "env" || c.Sources["log-level"] != "env-file" {
		t.Errorf("sources %v", c.Sources)
	}
	// PHOTOVAULT_ENV_FILE names the env file too.
	c, err = load(t, nil, map[string]string{"PHOTOVAULT_ENV_FILE": envFile})
	if err != nil || c.Addr != ":1111" {
		t.Fatalf("PHOTOVAULT_ENV_FILE: %v %q", err, c.Addr)
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "k")
	if err := os.WriteFile(keyFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := load(t, nil, map[string]string{"PHOTOVAULT_ENCRYPTION_KEY_FILE": keyFile})
	if err != nil || c.EncryptionKey != "from-file" {
		t.Fatalf("_FILE: %v %q", err, c.EncryptionKey)
	}
	c, err = load(t, nil, map[string]string{"PHOTOVAULT_ENCRYPTION_KEY": "from-env", "PHOTOVAULT_ENCRYPTION_KEY_FILE": keyFile})
	if err != nil || c.EncryptionKey != "from-env" {
		t.Fatalf("env value beats _FILE: %v %q", err, c.EncryptionKey)
	}
	c, err = load(t, []string{"--encryption-key-file", keyFile}, map[string]string{"PHOTOVAULT_ENCRYPTION_KEY": "from-env"})
	if err != nil || c.EncryptionKey != "from-file" {
		t.Fatalf("flag file beats env: %v %q", err, c.EncryptionKey)
	}
	// A secret is never a flag value.
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	Register(fs)
	if err := fs.Parse([]string{"--encryption-key", "x"}); err == nil {
		t.Fatal("--encryption-key must not exist: keys never go on the command line")
	}
	if _, err := load(t, nil, map[string]string{"PHOTOVAULT_SECRET_KEY_FILE": filepath.Join(dir, "missing")}); err == nil {
		t.Fatal("missing secret file accepted")
	}
}

func TestValidate(t *testing.T) {
	bad := []map[string]string{
		{"PHOTOVAULT_RATE_LIMIT": "-1"},
		{"PHOTOVAULT_RATE_LIMIT": "lots"},
		{"PHOTOVAULT_LOG_LEVEL": "loud"},
		{"PHOTOVAULT_ADDR": "8080"},
		{"PHOTOVAULT_PUBLIC_URL": "photos.example.com"},
		{"PHOTOVAULT_TRUSTED_PROXIES": "10.0.0.0/33"},
		{"PHOTOVAULT_SMTP_HOST": "mail.example.com"},
		{"PHOTOVAULT_MAX_UPLOAD_BYTES": "0"},
	}
	for _, env := range bad {
		if _, err := load(t, nil, env); err == nil {
			t.Errorf("accepted %v", env)
		} else if !strings.HasPrefix(err.Error(), "config: ") {
			t.Errorf("error without prefix: %v", err)
		}
	}
	c, err := load(t, nil, map[string]string{"PHOTOVAULT_TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16", "PHOTOVAULT_ALLOWED_HOSTS": "Photos.Example.com"})
	if err != nil || len(c.TrustedProxies) != 2 || c.AllowedHosts[0] != "photos.example.com" {
		t.Fatalf("%v %+v", err, c)
	}
	if c.BaseURL() != "http://localhost:8080" {
		t.Fatalf("base url %q", c.BaseURL())
	}
}
