package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// config is everything `serve` and `migrate` read from flags and the
// environment. Flags win over TELEFHIR_* variables, which win over defaults.
type config struct {
	Addr            string
	BaseURL         string
	DataDir         string
	DatabaseURL     string
	NATSURL         string
	NATSListen      string
	MaxBody         int64
	MaxBundleBody   int64
	MaxBundle       int
	DefaultCount    int
	MaxCount        int
	LogLevel        string
	LogFormat       string
	TLSCert         string
	TLSKey          string
	ShutdownTimeout time.Duration
	authConfig
	// LoopbackHooks accepts http:// rest-hook endpoints on loopback
	// addresses (development).
	LoopbackHooks bool
	// NATSReplicas is the replication factor of telefhir's JetStream
	// streams and buckets on a NATS cluster.
	NATSReplicas int
	Audit        bool

	// baseDerived is set when BaseURL was derived from Addr rather than
	// configured, so serve can re-derive it from the bound port.
	baseDerived bool
}

// setting describes one configuration value: its flag, its variable, its
// default and its help, once, so the usage text and README table agree.
type setting struct {
	flag, env, def, help string
	bind                 func(*config, string) error
}

func settings() []setting {
	str := func(f func(*config) *string) func(*config, string) error {
		return func(c *config, v string) error { *f(c) = v; return nil }
	}
	num := func(f func(*config) *int) func(*config, string) error {
		return func(c *config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%q is not a whole number", v)
			}
			*f(c) = n
			return nil
		}
	}
	return append([]setting{
		{"addr", "TELEFHIR_ADDR", "127.0.0.1:8080", "listen address (host:port)", str(func(c *config) *string { return &c.Addr })},
		{"base-url", "TELEFHIR_BASE_URL", "", "public FHIR base URL (default: derived from --addr)", str(func(c *config) *string { return &c.BaseURL })},
		{"data", "TELEFHIR_DATA_DIR", "./data", "directory of the embedded store and embedded NATS", str(func(c *config) *string { return &c.DataDir })},
		{"database-url", "TELEFHIR_DATABASE_URL", "", "PostgreSQL URL; empty uses the embedded store", str(func(c *config) *string { return &c.DatabaseURL })},
		{"nats-url", "TELEFHIR_NATS_URL", "", "external NATS URL(s), comma-separated; empty runs NATS in-process", str(func(c *config) *string { return &c.NATSURL })},
		{"nats-listen", "TELEFHIR_NATS_LISTEN", "", "host:port on which the embedded NATS also accepts TCP clients (default: none)", str(func(c *config) *string { return &c.NATSListen })},
		{"max-body", "TELEFHIR_MAX_BODY", "16MiB", "largest accepted request body after gzip inflation (bytes, KiB, MiB)", func(c *config, v string) error {
			n, err := parseSize(v)
			c.MaxBody = n
			return err
		}},
		{"max-bundle-body", "TELEFHIR_MAX_BUNDLE_BODY", "32MiB", "largest transaction or batch Bundle body (POST to the base) after gzip inflation", func(c *config, v string) error {
			n, err := parseSize(v)
			c.MaxBundleBody = n
			return err
		}},
		{"max-bundle-entries", "TELEFHIR_MAX_BUNDLE_ENTRIES", "10000", "most entries in one transaction or batch Bundle", num(func(c *config) *int { return &c.MaxBundle })},
		{"default-count", "TELEFHIR_DEFAULT_COUNT", "50", "page size of Bundles when _count is not given", num(func(c *config) *int { return &c.DefaultCount })},
		{"max-count", "TELEFHIR_MAX_COUNT", "1000", "largest page size a client may ask for with _count", num(func(c *config) *int { return &c.MaxCount })},
		{"log-level", "TELEFHIR_LOG_LEVEL", "info", "debug, info, warn or error", str(func(c *config) *string { return &c.LogLevel })},
		{"log-format", "TELEFHIR_LOG_FORMAT", "json", "json or text", str(func(c *config) *string { return &c.LogFormat })},
		{"tls-cert", "TELEFHIR_TLS_CERT", "", "PEM certificate file; with --tls-key serves HTTPS", str(func(c *config) *string { return &c.TLSCert })},
		{"tls-key", "TELEFHIR_TLS_KEY", "", "PEM private key file for --tls-cert", str(func(c *config) *string { return &c.TLSKey })},
		{"audit", "TELEFHIR_AUDIT", "on", "the audit trail: on, or off (only to measure what it costs)", func(c *config, v string) error {
			switch v {
			case "on":
				c.Audit = true
			case "off":
				c.Audit = false
			default:
				return fmt.Errorf("%q is not on or off", v)
			}
			return nil
		}},
		{"shutdown-timeout", "TELEFHIR_SHUTDOWN_TIMEOUT", "15s", "how long to let in-flight requests finish on shutdown", func(c *config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%q is not a duration such as 15s", v)
			}
			c.ShutdownTimeout = d
			return nil
		}},
		{"nats-replicas", "TELEFHIR_NATS_REPLICAS", "1", "replicas of telefhir's JetStream streams and buckets (up to the cluster's size, at most 5)", num(func(c *config) *int { return &c.NATSReplicas })},
		{"subscription-loopback-http", "TELEFHIR_SUBSCRIPTION_LOOPBACK_HTTP", "false", "accept http:// rest-hook endpoints on loopback addresses (development only)", func(c *config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%q is not true or false", v)
			}
			c.LoopbackHooks = b
			return nil
		}},
	}, authSettings()...)
}

// loadConfig parses args and the environment. Every malformed value and
// every invalid combination is reported at once.
func loadConfig(name string, args []string, getenv func(string) string) (*config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	ss := settings()
	vals := make(map[string]*string, len(ss))
	for _, s := range ss {
		def := s.def
		if v := getenv(s.env); v != "" {
			def = v
		}
		vals[s.flag] = fs.String(s.flag, def, fmt.Sprintf("%s (env %s)", s.help, s.env))
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	c := &config{}
	var errs []error
	for _, s := range ss {
		if err := s.bind(c, *vals[s.flag]); err != nil {
			errs = append(errs, fmt.Errorf("--%s / %s: %w", s.flag, s.env, err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// addShared registers the shared settings names (flag names) on the flag
// set of a tool command, and returns the function that, once fs is
// parsed, reads them through loadConfig: the same TELEFHIR_* variables,
// defaults and validation as serve.
func addShared(fs *flag.FlagSet, names []string) func(command string, getenv func(string) string) (*config, error) {
	byFlag := make(map[string]setting)
	for _, s := range settings() {
		byFlag[s.flag] = s
	}
	for _, name := range names {
		s := byFlag[name]
		fs.String(s.flag, s.def, fmt.Sprintf("%s (env %s)", s.help, s.env))
	}
	return func(command string, getenv func(string) string) (*config, error) {
		var shared []string
		fs.Visit(func(f *flag.Flag) {
			if _, ok := byFlag[f.Name]; ok {
				shared = append(shared, "--"+f.Name, f.Value.String())
			}
		})
		return loadConfig(command, shared, getenv)
	}
}

// Validate reports every problem with c at once and fills derived values.
func (c *config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		bad("--addr %q is not host:port: %v", c.Addr, err)
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		bad("--addr %q has an invalid port", c.Addr)
	}
	if c.BaseURL == "" && err == nil {
		c.BaseURL = c.deriveBaseURL(host, port)
		c.baseDerived = true
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			bad("--base-url %q must be an absolute http(s) URL without query or fragment", c.BaseURL)
		}
		c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	}
	if c.DatabaseURL == "" && c.DataDir == "" {
		bad("--data must name a directory when no --database-url is given")
	}
	if c.NATSURL == "" && c.DataDir == "" {
		bad("--data must name a directory when no --nats-url is given")
	}
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("--database-url must be a postgres:// or postgresql:// URL")
		}
	}
	if c.NATSURL != "" {
		for _, s := range strings.Split(c.NATSURL, ",") {
			u, err := url.Parse(strings.TrimSpace(s))
			if err != nil || (u.Scheme != "nats" && u.Scheme != "tls" && u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
				bad("--nats-url %q must be nats://host:port (or tls://, ws://, wss://)", s)
			}
		}
		if c.NATSListen != "" {
			bad("--nats-listen applies to the embedded NATS only; it cannot be combined with --nats-url")
		}
	}
	if c.NATSReplicas < 1 || c.NATSReplicas > 5 {
		bad("--nats-replicas must be 1 to 5")
	}
	if c.NATSURL == "" && c.NATSReplicas > 1 {
		bad("--nats-replicas above 1 needs a NATS cluster (--nats-url); the embedded NATS is one server")
	}
	if c.NATSListen != "" {
		if _, _, err := net.SplitHostPort(c.NATSListen); err != nil {
			bad("--nats-listen %q is not host:port", c.NATSListen)
		}
	}
	if c.MaxBody <= 0 {
		bad("--max-body must be positive")
	}
	if c.MaxBundleBody <= 0 {
		bad("--max-bundle-body must be positive")
	}
	if c.MaxBundle < 1 {
		bad("--max-bundle-entries must be at least 1")
	}
	if c.DefaultCount < 1 {
		bad("--default-count must be at least 1")
	}
	if c.MaxCount < 1 {
		bad("--max-count must be at least 1")
	}
	if c.DefaultCount > c.MaxCount {
		bad("--default-count (%d) may not exceed --max-count (%d)", c.DefaultCount, c.MaxCount)
	}
	if _, err := c.level(); err != nil {
		bad("--log-level: %v", err)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		bad("--log-format must be json or text, not %q", c.LogFormat)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("--tls-cert and --tls-key go together")
	}
	if c.ShutdownTimeout <= 0 {
		bad("--shutdown-timeout must be positive")
	}
	errs = append(errs, c.validateAuth()...)
	return errors.Join(errs...)
}

func (c *config) level() (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(c.LogLevel))
	return l, err
}

// deriveBaseURL is the base URL clients on this machine reach addr at.
func (c *config) deriveBaseURL(host, port string) string {
	scheme := "http"
	if c.TLSCert != "" {
		scheme = "https"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// sqlitePath is where the embedded store keeps its file.
func (c *config) sqlitePath() string { return filepath.Join(c.DataDir, "telefhir.db") }

// natsDir is where the embedded NATS keeps JetStream data.
func (c *config) natsDir() string { return filepath.Join(c.DataDir, "nats") }

// parseSize parses a byte size: a plain number, or one with a B, KiB, MiB
// or GiB suffix.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.m
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size such as 1048576, 512KiB or 16MiB", s)
	}
	return n * mult, nil
}
