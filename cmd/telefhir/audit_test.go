package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/telefhir/telefhir/fhir/store/postgres/pgtest"
)

// trailOnDisk runs a real server over a fresh store, makes a few requests
// and stops it, leaving a sealed audit trail behind. It returns the
// store's flags and a function running SQL on its database directly.
func trailOnDisk(t *testing.T, kind string) ([]string, func(query string, args ...any)) {
	t.Helper()
	dir := t.TempDir()
	args := []string{"--data", dir}
	exec := func(query string, args ...any) {
		t.Helper()
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "telefhir.db")+"?_busy_timeout=5000")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	if kind == "postgres" {
		u := pgtest.URL(t)
		args = append(args, "--database-url", u)
		exec = func(query string, args ...any) {
			t.Helper()
			conn, err := pgx.Connect(context.Background(), u)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			if _, err := conn.Exec(context.Background(), query, args...); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
		}
	}
	c := startChild(t, args...)
	if s := c.request(t, "PUT", "/Patient/p1", `{"resourceType":"Patient","id":"p1"}`, "w"); s != 201 {
		t.Fatalf("PUT: %d", s)
	}
	for i := range 6 {
		if s := c.request(t, "GET", "/Patient/p1", "", fmt.Sprint("r", i)); s != 200 {
			t.Fatalf("GET: %d", s)
		}
	}
	// A clean shutdown seals what is queued.
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-c.exited
	if c.err != nil {
		t.Fatalf("serve: %v: %s", c.err, c.stderr)
	}
	return args, exec
}

func TestAuditVerifyCommand(t *testing.T) {
	for _, kind := range []string{"embedded", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			args, exec := trailOnDisk(t, kind)
			var out bytes.Buffer
			if err := runAudit(t.Context(), append([]string{"verify"}, args...), &out); err != nil {
				t.Fatalf("verify: %v: %s", err, out.String())
			}
			// The server's own writes at start (the subscription topics)
			// are audited too, so the count is read off the output.
			n := intactCount(t, out.String())
			if n < 7 || !strings.Contains(out.String(), fmt.Sprintf("the chain is intact: %d records (positions 1 to %d)", n, n)) || !strings.Contains(out.String(), "0 records queued") {
				t.Fatalf("verify of an untouched trail: %s", out.String())
			}
			// Edit one row in the database directly.
			edited := `CAST(replace(CAST(body AS TEXT), '"outcome":"0"', '"outcome":"4"') AS BLOB)`
			if kind == "postgres" {
				edited = `convert_to(replace(convert_from(body, 'UTF8'), '"outcome":"0"', '"outcome":"4"'), 'UTF8')`
			}
			exec(`UPDATE resource_version SET body = ` + edited + `
WHERE res_type = 'AuditEvent' AND res_id = (SELECT res_id FROM audit_chain WHERE pos = 3)`)
			out.Reset()
			err := runAudit(t.Context(), append([]string{"verify"}, args...), &out)
			if !errors.Is(err, errBroken) {
				t.Fatalf("verify of a tampered trail = %v: %s", err, out.String())
			}
			if !strings.Contains(out.String(), "BROKEN at position 3 (AuditEvent/") || !strings.Contains(out.String(), "do not match the link's hash") ||
				!strings.Contains(out.String(), "checked 2 records") {
				t.Fatalf("verify does not name the broken link: %s", out.String())
			}
		})
	}
}

func TestAuditPurgeCommand(t *testing.T) {
	for _, kind := range []string{"embedded", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			args, _ := trailOnDisk(t, kind)
			var out bytes.Buffer
			if err := runAudit(t.Context(), append([]string{"purge"}, args...), &out); err == nil || !strings.Contains(err.Error(), "--export") {
				t.Fatalf("purge without --export = %v", err)
			}
			if err := runAudit(t.Context(), append([]string{"purge", "--export", t.TempDir()}, args...), &out); err != nil {
				t.Fatalf("purge: %v", err)
			}
			if !strings.Contains(out.String(), "nothing recorded before") {
				t.Fatalf("purge at the default retention: %s", out.String())
			}
			out.Reset()
			if err := runAudit(t.Context(), append([]string{"verify"}, args...), &out); err != nil {
				t.Fatalf("verify: %v: %s", err, out.String())
			}
			// The server's own writes at start (the subscription topics)
			// are audited too, so the count is read off the output.
			total := intactCount(t, out.String())
			out.Reset()
			// Records older than a short retention: the server stopped
			// well over a millisecond ago.
			if err := runAudit(t.Context(), append([]string{"purge", "--retention", "1ms", "--dry-run"}, args...), &out); err != nil {
				t.Fatalf("purge --dry-run: %v", err)
			}
			if !strings.Contains(out.String(), fmt.Sprintf("would export and purge the chain through position %d", total)) {
				t.Fatalf("purge --dry-run: %s", out.String())
			}
			out.Reset()
			dir := filepath.Join(t.TempDir(), "exports")
			if err := runAudit(t.Context(), append([]string{"purge", "--retention", "1ms", "--export", dir}, args...), &out); err != nil {
				t.Fatalf("purge: %v: %s", err, out.String())
			}
			files, err := filepath.Glob(filepath.Join(dir, fmt.Sprintf("auditevents-through-%d-*.ndjson", total)))
			if err != nil || len(files) != 1 {
				t.Fatalf("export files %v, %v", files, err)
			}
			f, err := os.Open(files[0])
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			n := 0
			for sc := bufio.NewScanner(f); sc.Scan(); n++ {
				if !strings.HasPrefix(sc.Text(), `{"resourceType":"AuditEvent",`) {
					t.Fatalf("export line %d: %s", n+1, sc.Text())
				}
			}
			if n != total || !strings.Contains(out.String(), fmt.Sprintf("exported %d records (positions 1 to %d)", total, total)) || !strings.Contains(out.String(), fmt.Sprintf("purged %d", total)) {
				t.Fatalf("%d lines exported; purge said: %s", n, out.String())
			}
			out.Reset()
			if err := runAudit(t.Context(), append([]string{"verify"}, args...), &out); err != nil {
				t.Fatalf("verify after purge: %v: %s", err, out.String())
			}
			if !strings.Contains(out.String(), fmt.Sprintf("the chain is intact: 1 records (positions %d to %d)", total+1, total+1)) {
				t.Fatalf("verify after purge: %s", out.String())
			}
		})
	}
}

// intactCount reads N off "the chain is intact: N records" in the output
// of audit verify.
func intactCount(t *testing.T, out string) int {
	t.Helper()
	var n int
	i := strings.Index(out, "the chain is intact: ")
	if i < 0 {
		t.Fatalf("audit verify did not find the chain intact: %s", out)
	}
	if _, err := fmt.Sscanf(out[i:], "the chain is intact: %d records", &n); err != nil {
		t.Fatalf("audit verify output %q: %v", out, err)
	}
	return n
}
