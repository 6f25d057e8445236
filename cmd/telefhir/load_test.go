package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/rest"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/fhir/store/postgres/pgtest"
	"github.com/telefhir/telefhir/fhir/store/sqlite"
	"github.com/telefhir/telefhir/internal/server"
)

// syntheaDir holds the 50 Synthea patient Bundles: 16,497 resources, of
// which 50 Patients and 6,936 Observations.
const syntheaDir = "../../testdata/synthea"

// synthea is the sample the loading tests load: the 50 Bundles, or under
// the race detector the first 3, and what they hold.
type synthea struct {
	files                            []string
	resources, patients, observation int
}

func syntheaSample(t *testing.T) synthea {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(syntheaDir, "*.json.gz"))
	if err != nil || len(files) != 50 {
		t.Fatalf("want the 50 Synthea Bundles in %s, found %d (%v)", syntheaDir, len(files), err)
	}
	if raceBuild {
		files = files[:3]
	}
	s := synthea{files: files}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(fh)
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Entry []struct {
				Resource struct{ ResourceType string }
			}
		}
		err = json.NewDecoder(zr).Decode(&b)
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		s.resources += len(b.Entry)
		for _, e := range b.Entry {
			switch e.Resource.ResourceType {
			case "Patient":
				s.patients++
			case "Observation":
				s.observation++
			}
		}
	}
	if !raceBuild && (s.resources != 16497 || s.patients != 50 || s.observation != 6936) {
		t.Fatalf("the sample holds %d resources, %d Patients, %d Observations; its README says 16,497, 50 and 6,936", s.resources, s.patients, s.observation)
	}
	return s
}

// loadRun runs telefhir load with args and the environment env, and
// returns its summary and progress output.
func loadRun(t *testing.T, env map[string]string, args ...string) (out, progress string, err error) {
	t.Helper()
	o, err := parseLoadOptions(args, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("load %v: %v", args, err)
	}
	var ob, pb bytes.Buffer
	err = load(t.Context(), o, &ob, &pb, false)
	return ob.String(), pb.String(), err
}

// counts checks how many resources st holds: in all, Patients and
// Observations.
func checkCounts(t *testing.T, st store.Store, total, patients, observations int) {
	t.Helper()
	reg, err := search.NewRegistry(search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc := &fhir.Service{Store: st, Registry: reg}
	for _, c := range []struct {
		typ  string
		want int
	}{{"", total}, {"Patient", patients}, {"Observation", observations}} {
		res, err := svc.Search(t.Context(), fhir.SearchRequest{Type: c.typ, Params: url.Values{"_summary": {"count"}}, DefaultCount: 10, MaxCount: 10})
		if err != nil {
			t.Fatal(err)
		}
		if res.Page.Total != c.want {
			t.Errorf("%q: %d resources, want %d", c.typ, res.Page.Total, c.want)
		}
	}
}

// TestLoadSyntheaIntoStore loads the Synthea Bundles straight into a
// store (Postgres), then runs the same command again: the checkpoint
// makes it send nothing.
func TestLoadSyntheaIntoStore(t *testing.T) {
	t.Parallel()
	sample := syntheaSample(t)
	n := len(sample.files)
	dbURL := pgtest.URL(t)
	ckpt := filepath.Join(t.TempDir(), "ckpt")
	args := append([]string{"--database-url", dbURL, "--checkpoint", ckpt, "--concurrency", "4", "--progress", "50ms"}, sample.files...)
	out, progress, err := loadRun(t, nil, args...)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("loaded %d resources", sample.resources); !strings.Contains(out, want) || !strings.Contains(out, fmt.Sprintf("files: %d complete, 0 with failures", n)) {
		t.Errorf("summary does not say %q and %d complete files:\n%s", want, n, out)
	}
	if !strings.Contains(progress, "telefhir load: ") || strings.Contains(progress, "\r") {
		t.Errorf("progress on a non-terminal is not plain lines:\n%q", progress)
	}
	out, _, err = loadRun(t, nil, args...)
	if err != nil || !strings.Contains(out, "loaded 0 resources") || !strings.Contains(out, fmt.Sprintf("%d complete (%d before this run)", n, n)) {
		t.Errorf("second run: %v\n%s", err, out)
	}
	st := openPostgres(t, dbURL)
	checkCounts(t, st, sample.resources, sample.patients, sample.observation)
}

func openPostgres(t *testing.T, dbURL string) store.Store {
	t.Helper()
	c, err := loadConfig("test", []string{"--database-url", dbURL}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := openStore(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// testServer runs the FHIR API over a fresh embedded store, behind wrap.
func testServer(t *testing.T, wrap func(http.Handler) http.Handler) (*httptest.Server, *sqlite.Store) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	reg, err := search.NewRegistry(search.Options{BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	e, err := server.New(server.Options{Service: &fhir.Service{Store: st, Registry: reg}, REST: rest.Config{BaseURL: base}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = wrap(e)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, st
}

// TestLoadSyntheaOverHTTPResumes loads the Synthea Bundles into a running
// server whose back end fails after a fifth of them; a second run, against
// the recovered server, sends only those that failed. Every resource ends
// up stored exactly once. The bearer token goes with every request.
func TestLoadSyntheaOverHTTPResumes(t *testing.T) {
	t.Parallel()
	sample := syntheaSample(t)
	n, ok := len(sample.files), int64(max(1, len(sample.files)/5))
	var served, broken atomic.Int64
	broken.Store(1)
	srv, st := testServer(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer s3cret" {
				http.Error(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"login","diagnostics":"no token"}]}`, http.StatusUnauthorized)
				return
			}
			if broken.Load() == 1 && served.Add(1) > ok {
				w.Header().Set("Content-Type", "application/fhir+json")
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"exception","diagnostics":"the database is down"}]}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	ckpt := filepath.Join(t.TempDir(), "ckpt")
	env := map[string]string{"TELEFHIR_TOKEN": "s3cret"}
	args := append([]string{"--server", srv.URL, "--checkpoint", ckpt, "--concurrency", "1"}, sample.files...)
	out, _, err := loadRun(t, env, args...)
	if err == nil || !strings.Contains(out, fmt.Sprintf("files: %d complete, %d with failures", ok, int64(n)-ok)) || !strings.Contains(out, "500: the database is down") {
		t.Fatalf("first run against a failing server: %v\n%s", err, out)
	}
	broken.Store(0)
	args[5] = "4" // --concurrency
	out, _, err = loadRun(t, env, args...)
	if err != nil || !strings.Contains(out, fmt.Sprintf("files: %d complete (%d before this run), 0 with failures", n, ok)) {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	checkCounts(t, st, sample.resources, sample.patients, sample.observation)

	// Without the token the server refuses, and load says why.
	out, _, err = loadRun(t, nil, "--server", srv.URL, "--checkpoint", "", sample.files[0])
	if err == nil || !strings.Contains(out, "401: no token") {
		t.Errorf("load without a token: %v\n%s", err, out)
	}
}

// TestLoadNDJSONAndCollections loads NDJSON with bad lines and a
// collection Bundle into the embedded store: the good lines load, each
// bad one is reported with its line and reason, and a second run retries
// only the bad lines (the good ones keep version 1).
func TestLoadNDJSONAndCollections(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := os.MkdirAll(in, 0o750); err != nil {
		t.Fatal(err)
	}
	ndjson := strings.Join([]string{
		`{"resourceType":"Patient","id":"n1","active":true}`,
		`{"resourceType":"Patient","id":"n2","gender":"sometimes"}`,
		``,
		`{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/n1"}}`,
		`not json`,
		`{"resourceType":"Patient","active":false}`,
	}, "\n")
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(in, name), []byte(body), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	write("data.ndjson", ndjson)
	write("collection.json", `{"resourceType":"Bundle","type":"collection","entry":[`+
		`{"fullUrl":"urn:uuid:3f0d0c8e-0000-4000-8000-000000000001","resource":{"resourceType":"Organization","name":"Clinic"}},`+
		`{"resource":{"resourceType":"Patient","id":"c1","managingOrganization":{"reference":"urn:uuid:3f0d0c8e-0000-4000-8000-000000000001"}}}]}`)
	write("notes.txt", "ignored")
	args := []string{"--data", filepath.Join(dir, "data"), "--checkpoint", filepath.Join(dir, "ckpt"), "--batch", "2", in}
	out, _, err := loadRun(t, nil, args...)
	if err == nil {
		t.Fatalf("load with bad lines succeeded:\n%s", out)
	}
	for _, want := range []string{
		"loaded 5 resources", "1 other files ignored",
		"data.ndjson line 2: 400: Patient.gender: invalid code", "data.ndjson line 5: not a JSON object",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	out, _, err = loadRun(t, nil, args...)
	if err == nil || !strings.Contains(out, "loaded 0 resources") || !strings.Contains(out, "files: 1 complete (1 before this run), 1 with failures") {
		t.Errorf("second run: %v\n%s", err, out)
	}

	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "data", "telefhir.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, id := range []string{"n1", "c1"} {
		r, err := st.Read(t.Context(), "Patient", id)
		if err != nil || r.VersionID != 1 {
			t.Errorf("Patient/%s: version %d, %v; want version 1, loaded once", id, r.VersionID, err)
		}
	}
	c1, _ := st.Read(context.Background(), "Patient", "c1")
	if bytes.Contains(c1.Body, []byte("urn:uuid")) || !bytes.Contains(c1.Body, []byte(`"reference":"Organization/`)) {
		t.Errorf("the collection's reference was not resolved: %s", c1.Body)
	}
	checkCounts(t, st, 5, 3, 1)
}

func TestLoadOptions(t *testing.T) {
	noEnv := func(string) string { return "" }
	for _, args := range [][]string{
		{},
		{"--server", "ftp://x", "a"},
		{"--server", "http://x", "--data", "d", "a"},
		{"--token", "t", "a"},
		{"--concurrency", "0", "a"},
		{"--batch", "0", "a"},
	} {
		if _, err := parseLoadOptions(args, noEnv); err == nil {
			t.Errorf("options %q accepted", args)
		}
	}
	o, err := parseLoadOptions([]string{"--server", "http://h:1/fhir/", "a", "b"}, func(k string) string { return map[string]string{"TELEFHIR_TOKEN": "tok"}[k] })
	if err != nil || o.Server != "http://h:1/fhir" || o.Token != "tok" || o.toStore || len(o.Paths) != 2 {
		t.Errorf("options %+v, %v", o, err)
	}
}
