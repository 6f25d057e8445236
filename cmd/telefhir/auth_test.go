package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestClientsCommand: add prints a symmetric client's secret once, list
// shows the client without it, remove deletes it.
func TestClientsCommand(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) (string, error) {
		var out strings.Builder
		err := runClients(t.Context(), append(args[:1:1], append([]string{"--data", dir}, args[1:]...)...), &out)
		return out.String(), err
	}
	out, err := run("add", "--id", "my-app", "--name", "My app", "--kind", "symmetric",
		"--redirect-uri", "https://app.example/cb,http://localhost:3000/cb", "--scope", "launch/patient patient/*.rs")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`client secret \(shown once, stored only hashed\): (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("add did not print the secret:\n%s", out)
	}
	list, err := run("list")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(list, "my-app") || !strings.Contains(list, "confidential-symmetric") || strings.Contains(list, m[1]) {
		t.Fatalf("list:\n%s", list)
	}
	if _, err := run("add", "--id", "bad", "--kind", "public", "--redirect-uri", "http://evil.example/cb"); err == nil || !strings.Contains(err.Error(), "localhost") {
		t.Fatalf("invalid client accepted: %v", err)
	}
	if _, err := run("remove", "--id", "my-app"); err != nil {
		t.Fatal(err)
	}
	if _, err := run("remove", "--id", "my-app"); err == nil {
		t.Fatal("removing a missing client succeeded")
	}
	if _, err := run("frobnicate"); err == nil {
		t.Fatal("unknown verb accepted")
	}
}

func TestConfigAuth(t *testing.T) {
	_, err := loadConfig("serve", []string{"--auth", "maybe", "--oidc-issuer", "https://idp", "--dev-auto-approve", "nobody", "--oidc-default-role", "king"}, env(nil))
	if err == nil {
		t.Fatal("invalid auth settings accepted")
	}
	for _, want := range []string{"--auth", "--oidc-client-id", "--dev-auto-approve", "--oidc-default-role"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
	c, err := loadConfig("serve", nil, env(map[string]string{"TELEFHIR_AUTH": "off"}))
	if err != nil || c.Auth != "off" {
		t.Fatalf("TELEFHIR_AUTH=off: %v %+v", err, c)
	}
	if c, _ := loadConfig("serve", nil, env(nil)); c.Auth != "on" {
		t.Fatalf("auth is not on by default: %q", c.Auth)
	}
}
