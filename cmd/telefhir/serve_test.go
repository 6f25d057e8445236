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
func startServe(t *testing.T, dataDir string, extra ...string) (string, func()) {
	base, _, stop := startServeOutput(t, dataDir, extra...)
	return base, stop
}

// startServeOutput is startServe that also returns what serve printed
// up to its auth lines.
func startServeOutput(t *testing.T, dataDir string, extra ...string) (string, string, func()) {
	t.Helper()
	t.Setenv("TELEFHIR_LOG_LEVEL", "error")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, append([]string{"--addr", "127.0.0.1:0", "--data", dataDir}, extra...), pw)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	base := ""
	var out strings.Builder
	for lines.Scan() {
		out.WriteString(lines.Text() + "\n")
		if i := strings.Index(lines.Text(), "serving FHIR R4 at "); i >= 0 {
			base = strings.TrimSpace(lines.Text()[i+len("serving FHIR R4 at "):])
		}
		if strings.Contains(lines.Text(), "a token for curl") || strings.Contains(lines.Text(), "auth:   OFF") {
			break
		}
	}
	if base == "" {
		cancel()
		t.Fatalf("serve did not print its base URL: %v", <-done)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	return base, out.String(), func() {
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

// do sends a request with an optional bearer token and returns the
// status and body.
func do(t *testing.T, method, u, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/fhir+json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// mint runs `telefhir token` against dataDir.
func mint(t *testing.T, dataDir string, args ...string) string {
	t.Helper()
	var out strings.Builder
	if err := runToken(t.Context(), append([]string{"--data", dataDir}, args...), &out); err != nil {
		t.Fatalf("telefhir token: %v", err)
	}
	return strings.TrimSpace(out.String())
}

// TestServeEmbeddedDefault starts the real server on the embedded default
// (authorization on, dev identity), writes with a token from `telefhir
// token`, restarts on the same data directory, and reads the write back.
func TestServeEmbeddedDefault(t *testing.T) {
	dir := t.TempDir()
	base, out, stop := startServeOutput(t, dir)
	if !strings.HasPrefix(base, "http://127.0.0.1:") || strings.HasSuffix(base, ":0") {
		t.Fatalf("base URL %q", base)
	}
	for _, want := range []string{"DEV IDENTITY", "practitioner patient admin auditor", "demo-public", "demo-confidential", "telefhir token"} {
		if !strings.Contains(out, want) {
			t.Errorf("serve output lacks %q:\n%s", want, out)
		}
	}
	code, body := do(t, "GET", base+"/metadata", "", "")
	if code != 200 || !strings.Contains(body, "SMART-on-FHIR") || !strings.Contains(body, base+"/auth/token") {
		t.Fatalf("/metadata: %d, no SMART security block", code)
	}
	if code, _ := do(t, "GET", base+"/.well-known/smart-configuration", "", ""); code != 200 {
		t.Fatalf("smart-configuration: %d", code)
	}
	// The dev users' resources exist, so fhirUser resolves.
	tok := mint(t, dir, "--user", "practitioner", "--scope", "user/*.cruds")
	if code, _ := do(t, "GET", base+"/Practitioner/dev-practitioner", tok, ""); code != 200 {
		t.Fatalf("seeded practitioner: %d", code)
	}
	if code, _ := do(t, "PUT", base+"/Patient/keep", "", `{"resourceType":"Patient","id":"keep"}`); code != 401 {
		t.Fatalf("PUT without a token: %d", code)
	}
	if code, _ := do(t, "PUT", base+"/Patient/keep", "not-a-token", `{"resourceType":"Patient","id":"keep"}`); code != 401 {
		t.Fatalf("PUT with a bad token: %d", code)
	}
	if code, _ := do(t, "PUT", base+"/Patient/keep", tok, `{"resourceType":"Patient","id":"keep"}`); code != 201 {
		t.Fatalf("PUT: %d", code)
	}
	stop()

	base, stop = startServe(t, dir)
	defer stop()
	// The token and the write survive the restart.
	if code, _ := do(t, "GET", base+"/Patient/keep", tok, ""); code != 200 {
		t.Fatalf("after restart GET: %d", code)
	}
}

// TestServeAuthOff: TELEFHIR_AUTH=off lets requests through and says so
// at start and in /metadata.
func TestServeAuthOff(t *testing.T) {
	base, out, stop := startServeOutput(t, t.TempDir(), "--auth", "off")
	defer stop()
	if !strings.Contains(out, "auth:   OFF") {
		t.Errorf("serve did not say authorization is off:\n%s", out)
	}
	code, body := do(t, "GET", base+"/metadata", "", "")
	if code != 200 || !strings.Contains(body, "authorization is OFF") {
		t.Fatalf("/metadata does not warn: %d", code)
	}
	if code, _ := do(t, "PUT", base+"/Patient/open", "", `{"resourceType":"Patient","id":"open"}`); code != 201 {
		t.Fatalf("PUT with auth off: %d", code)
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
		if tc.status == 401 && !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer ") {
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

// TestServeSubscriptions: serve wires the outbox relay and subscriptions:
// the topics are advertised, and a websocket Subscription created over
// REST becomes active through the change stream and its matcher.
func TestServeSubscriptions(t *testing.T) {
	dir := t.TempDir()
	base, stop := startServe(t, dir)
	defer stop()
	token := mint(t, dir, "--user", "practitioner", "--scope", "user/Subscription.cruds")
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
	req.Header.Set("Authorization", "Bearer "+token)
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
		req, _ := http.NewRequest("GET", base+"/Subscription/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
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
