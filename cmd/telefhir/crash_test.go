package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/telefhir/telefhir/fhir/store/postgres/pgtest"
)

// TestMain lets the test binary run as telefhir itself: with
// TELEFHIR_TEST_MAIN=1 it runs the command in its arguments. The crash
// test starts real `telefhir serve` processes this way.
func TestMain(m *testing.M) {
	if os.Getenv("TELEFHIR_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// child is a `telefhir serve` process.
type child struct {
	cmd    *exec.Cmd
	base   string
	stderr *bytes.Buffer
	exited chan struct{} // closed when the process has exited, with err set
	err    error
}

// startChild starts `telefhir serve` with args on a free port and waits
// until it says where it serves.
func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--addr", "127.0.0.1:0", "--log-level", "warn"}, args...)...)
	// The audit trail, not access control, is under test: the child
	// answers anonymous requests.
	cmd.Env = append(os.Environ(), "TELEFHIR_TEST_MAIN=1", "TELEFHIR_AUTH=off")
	c := &child{cmd: cmd, stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	cmd.Stderr = c.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.exited
	})
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if _, after, ok := strings.Cut(lines.Text(), "serving FHIR R4 at "); ok {
			c.base = strings.TrimSpace(after)
			break
		}
	}
	if c.base == "" {
		t.Fatalf("telefhir serve did not start: %s", c.stderr)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return c
}

func (c *child) request(t *testing.T, method, path, body, requestID string) int {
	t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Request-Id", requestID)
	if body != "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode
}

// TestAuditSurvivesCrash kills a real `telefhir serve` (SIGKILL) right
// after it answered, restarts it on the same data, and finds the
// AuditEvent of every answered request.
func TestAuditSurvivesCrash(t *testing.T) {
	for _, kind := range []string{"embedded", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			args := []string{"--data", t.TempDir()}
			if kind == "postgres" {
				args = append(args, "--database-url", pgtest.URL(t))
			}
			c := startChild(t, args...)
			if s := c.request(t, "PUT", "/Patient/crash", `{"resourceType":"Patient","id":"crash"}`, "crash-write"); s != 201 {
				t.Fatalf("PUT: %d", s)
			}
			const reads = 30
			var wg sync.WaitGroup
			for i := range reads {
				wg.Go(func() {
					if s := c.request(t, "GET", "/Patient/crash", "", fmt.Sprintf("crash-read-%02d", i)); s != 200 {
						t.Errorf("GET: %d", s)
					}
				})
			}
			wg.Wait()
			// Every request has its answer: kill the server at once.
			if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			select {
			case <-c.exited:
			case <-time.After(10 * time.Second):
				t.Fatal("the server did not die")
			}

			c = startChild(t, args...)
			req, err := http.NewRequest("GET", c.base+"/AuditEvent?entity=Patient/crash&_count=100", nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("AuditEvent search after restart: %d %v %s", res.StatusCode, err, body)
			}
			var b struct {
				Entry []struct {
					Resource struct {
						Outcome string
						Entity  []struct {
							What struct{ Identifier struct{ Value string } }
						}
					}
				}
			}
			if err := json.Unmarshal(body, &b); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range b.Entry {
				if e.Resource.Outcome != "0" {
					t.Errorf("an AuditEvent has outcome %s", e.Resource.Outcome)
				}
				for _, en := range e.Resource.Entity {
					if v := en.What.Identifier.Value; strings.HasPrefix(v, "crash-") {
						got = append(got, v)
					}
				}
			}
			want := []string{"crash-write"}
			for i := range reads {
				want = append(want, fmt.Sprintf("crash-read-%02d", i))
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("after the crash the trail holds the records of %v,\nwant %v", got, want)
			}
			if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-c.exited:
			case <-time.After(30 * time.Second):
				t.Fatal("the server did not stop on SIGTERM")
			}
			if c.err != nil {
				t.Fatalf("serve after SIGTERM: %v: %s", c.err, c.stderr)
			}
			var out bytes.Buffer
			if err := runAudit(t.Context(), append([]string{"verify"}, args...), &out); err != nil {
				t.Fatalf("audit verify: %v: %s", err, out.String())
			}
			if !strings.Contains(out.String(), "the chain is intact") {
				t.Fatalf("audit verify: %s", out.String())
			}
		})
	}
}
