package main

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigDefaults(t *testing.T) {
	c, err := loadConfig("serve", nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.BaseURL != "http://127.0.0.1:8080" || c.DataDir != "./data" ||
		c.MaxBody != 16<<20 || c.MaxBundleBody != 32<<20 || c.MaxBundle != 10000 || c.DatabaseURL != "" || c.NATSURL != "" || c.ShutdownTimeout != 15*time.Second || c.Auth != "on" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestConfigFlagsBeatEnv(t *testing.T) {
	c, err := loadConfig("serve", []string{"--addr", "0.0.0.0:9000", "--max-body", "512KiB", "--max-bundle-entries", "20"}, env(map[string]string{
		"TELEFHIR_ADDR":               "127.0.0.1:7000",
		"TELEFHIR_MAX_BUNDLE_BODY":    "1MiB",
		"TELEFHIR_MAX_BUNDLE_ENTRIES": "10",
		"TELEFHIR_DATABASE_URL":       "postgres://u@db/x",
		"TELEFHIR_BASE_URL":           "https://fhir.example.org/r4/",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "0.0.0.0:9000" || c.DatabaseURL != "postgres://u@db/x" || c.BaseURL != "https://fhir.example.org/r4" || c.MaxBody != 512<<10 ||
		c.MaxBundleBody != 1<<20 || c.MaxBundle != 20 {
		t.Fatalf("got %+v", c)
	}
}

// TestConfigReportsEveryProblem: one start, one list of everything wrong.
func TestConfigReportsEveryProblem(t *testing.T) {
	_, err := loadConfig("serve", []string{
		"--addr", "nonsense", "--base-url", "ftp://x", "--database-url", "mysql://x",
		"--nats-url", "http://x", "--log-level", "loud", "--log-format", "xml",
		"--tls-cert", "c.pem", "--default-count", "5000", "--max-bundle-entries", "0", "--auth", "maybe",
	}, env(nil))
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, want := range []string{"--addr", "--base-url", "--database-url", "--nats-url", "--log-level", "--log-format", "--tls-cert and --tls-key", "--default-count", "--max-bundle-entries", "--auth"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
	_, err = loadConfig("serve", []string{"--max-body", "lots", "--shutdown-timeout", "soon", "--subscription-loopback-http", "maybe"}, env(nil))
	if err == nil || !strings.Contains(err.Error(), "--max-body") || !strings.Contains(err.Error(), "--shutdown-timeout") || !strings.Contains(err.Error(), "--subscription-loopback-http") {
		t.Fatalf("malformed values not all reported: %v", err)
	}
	_, err = loadConfig("serve", []string{"--nats-replicas", "3"}, env(nil))
	if err == nil || !strings.Contains(err.Error(), "--nats-replicas above 1 needs a NATS cluster") {
		t.Fatalf("replicas without a cluster: %v", err)
	}
	c, err := loadConfig("serve", []string{"--nats-replicas", "3", "--nats-url", "nats://n1:4222,nats://n2:4222"}, env(nil))
	if err != nil || c.NATSReplicas != 3 {
		t.Fatalf("replicas on a cluster: %v, %+v", err, c)
	}
}
