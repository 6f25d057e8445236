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

func TestRunUnknownCommand(t *testing.T) {
	var out, errOut strings.Builder
	if code := run([]string{"frobnicate"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "unknown command") {
		t.Fatalf("code %d, stderr %q", code, errOut.String())
	}
	if code := run([]string{"version"}, &out, &errOut); code != 0 || out.Len() == 0 {
		t.Fatalf("version: code %d, out %q", code, out.String())
	}
}

// TestServeSubscriptions: serve wires the outbox relay and subscriptions:
// the topics are advertised, and a websocket Subscription created over
// REST becomes active through the change stream and its matcher.
func TestServeSubscriptions(t *testing.T) {
	base, stop := startServe(t, t.TempDir())
	defer stop()
	res, err := http.Get(base + "/metadata")
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(meta), "http://telefhir.dev/SubscriptionTopic/observation-created") {
		t.Fatal("/metadata does not advertise the observation-created topic")
	}
	body := `{"resourceType":"Subscription","status":"requested","reason":"t","criteria":"http://telefhir.dev/SubscriptionTopic/observation-created","channel":{"type":"websocket"}}`
	req, _ := http.NewRequest("POST", base+"/Subscription", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/fhir+json")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	loc := res.Header.Get("Location")
	res.Body.Close()
	if res.StatusCode != 201 || loc == "" {
		t.Fatalf("POST Subscription: %d", res.StatusCode)
	}
	id := strings.Split(strings.TrimPrefix(loc, base+"/Subscription/"), "/")[0]
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get(base + "/Subscription/" + id)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if strings.Contains(string(b), `"status":"active"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Subscription/%s not active within 20s: %s", id, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
