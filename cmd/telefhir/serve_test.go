package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startServe runs `telefhir serve` in-process on a random port over dataDir
// and returns its base URL and a stop function that waits for shutdown.
func startServe(t *testing.T, dataDir string) (string, func()) {
	t.Helper()
	t.Setenv("TELEFHIR_LOG_LEVEL", "warn")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, []string{"--addr", "127.0.0.1:0", "--data", dataDir}, pw)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	base := ""
	for lines.Scan() {
		if i := strings.Index(lines.Text(), "serving FHIR R4 at "); i >= 0 {
			base = strings.TrimSpace(lines.Text()[i+len("serving FHIR R4 at "):])
			break
		}
	}
	if base == "" {
		cancel()
		t.Fatalf("serve did not print its base URL: %v", <-done)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	return base, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not shut down")
		}
	}
}

// TestServeEmbeddedDefault starts the real server on the embedded default,
// writes, restarts on the same data directory, and reads the write back.
func TestServeEmbeddedDefault(t *testing.T) {
	t.Setenv("TELEFHIR_AUTH", "off") // no token layer in this test
	dir := t.TempDir()
	base, stop := startServe(t, dir)
	if !strings.HasPrefix(base, "http://127.0.0.1:") || strings.HasSuffix(base, ":0") {
		t.Fatalf("base URL %q", base)
	}
	res, err := http.Get(base + "/metadata")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("/metadata: %d", res.StatusCode)
	}
	req, _ := http.NewRequest("PUT", base+"/Patient/keep", strings.NewReader(`{"resourceType":"Patient","id":"keep"}`))
	req.Header.Set("Content-Type", "application/fhir+json")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("PUT: %d", res.StatusCode)
	}
	stop()

	base, stop = startServe(t, dir)
	defer stop()
	res, err = http.Get(base + "/Patient/keep")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("after restart GET: %d", res.StatusCode)
	}
}

// TestServeEnforcesAccess: by default every FHIR request needs an access
// token (401 with a Bearer challenge without one); discovery does not.
func TestServeEnforcesAccess(t *testing.T) {
	base, stop := startServe(t, t.TempDir())
	defer stop()
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/metadata", 200},
		{"GET", "/Patient/keep", 401},
		{"GET", "/Observation?code=8867-4", 401},
		{"PUT", "/Patient/keep", 401},
		{"GET", "/_history", 401},
	} {
		var body io.Reader
		if tc.method == "PUT" {
			body = strings.NewReader(`{"resourceType":"Patient","id":"keep"}`)
		}
		req, _ := http.NewRequest(tc.method, base+tc.path, body)
		req.Header.Set("Content-Type", "application/fhir+json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, res.StatusCode, tc.status)
		}
		if tc.status == 401 && res.Header.Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("%s %s: WWW-Authenticate %q", tc.method, tc.path, res.Header.Get("WWW-Authenticate"))
		}
	}
}

func TestRunUnknownCommand(t *testing.T) {
	var out, errOut strings.Builder
	if code := run([]string{"frobnicate"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "unknown command") {
		t.Fatalf("code %d, stderr %q", code, errOut.String())
	}
	if code := run([]string{"version"}, &out, &errOut); code != 0 || out.Len() == 0 {
		t.Fatalf("version: code %d, out %q", code, out.String())
	}
}
