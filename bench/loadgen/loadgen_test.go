package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store/sqlite"
)

// fakeFHIR is a throwaway FHIR server: it creates Patients (answering with
// a body id or, for every other one, only a Location header), serves them
// back after readDelay with a 500 for every fourth id, and accepts
// Observations after checking them. It counts everything it sees.
type fakeFHIR struct {
	readDelay time.Duration
	token     string

	mu       sync.Mutex
	patients map[string]bool

	patientPosts, reads, obsPosts, txPosts, txEntries atomic.Int64
	unauthorized, unknownID, bad                      atomic.Int64
	badReasons                                        sync.Map
}

func newFakeFHIR(t *testing.T, readDelay time.Duration, token string) (*fakeFHIR, *httptest.Server) {
	t.Helper()
	f := &fakeFHIR{readDelay: readDelay, token: token, patients: make(map[string]bool)}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeFHIR) fail(reason string) { f.bad.Add(1); f.badReasons.Store(reason, true) }

func (f *fakeFHIR) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.token != "" && r.Header.Get("Authorization") != "Bearer "+f.token {
		f.unauthorized.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	body, _ := io.ReadAll(r.Body)
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/Patient":
		n := f.patientPosts.Add(1) - 1
		id := "p" + strconv.FormatInt(n, 10)
		var p struct{ ResourceType string }
		if json.Unmarshal(body, &p) != nil || p.ResourceType != "Patient" {
			f.fail("patient body")
		}
		f.mu.Lock()
		f.patients[id] = true
		f.mu.Unlock()
		w.Header().Set("Location", "http://example.org/fhir/Patient/"+id+"/_history/1")
		w.WriteHeader(http.StatusCreated)
		if n%2 == 0 {
			fmt.Fprintf(w, `{"resourceType":"Patient","id":%q}`, id)
		}
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/Patient/"):
		f.reads.Add(1)
		id := strings.TrimPrefix(r.URL.Path, "/Patient/")
		f.mu.Lock()
		known := f.patients[id]
		f.mu.Unlock()
		time.Sleep(f.readDelay) // stands in for the server's work
		if !known {
			f.unknownID.Add(1)
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if n, _ := strconv.Atoi(id[1:]); n%4 == 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, `{"resourceType":"Patient","id":%q,"text":%q}`, id, strings.Repeat("x", 4096))
	case r.Method == http.MethodPost && r.URL.Path == "/Observation":
		f.obsPosts.Add(1)
		var o struct {
			ResourceType string
			Subject      struct{ Reference string }
		}
		if err := json.Unmarshal(body, &o); err != nil || o.ResourceType != "Observation" {
			f.fail("observation body")
		}
		f.mu.Lock()
		known := f.patients[strings.TrimPrefix(o.Subject.Reference, "Patient/")]
		f.mu.Unlock()
		if !known {
			f.fail("observation subject " + o.Subject.Reference)
		}
		if r.Header.Get("Content-Type") != "application/fhir+json" {
			f.fail("content type")
		}
		w.WriteHeader(http.StatusCreated)
	case r.Method == http.MethodPost && r.URL.Path == "/":
		f.txPosts.Add(1)
		var b struct {
			ResourceType, Type string
			Entry              []struct {
				FullURL  string
				Resource struct {
					ResourceType string
					Subject      struct{ Reference string }
				}
				Request struct{ Method, URL string }
			}
		}
		if err := json.Unmarshal(body, &b); err != nil || b.ResourceType != "Bundle" || b.Type != "transaction" || len(b.Entry) == 0 {
			f.fail("transaction body")
		}
		fullURLs := map[string]bool{}
		for _, e := range b.Entry {
			fullURLs[e.FullURL] = true
		}
		for _, e := range b.Entry {
			if e.Request.Method != "POST" || e.Request.URL != e.Resource.ResourceType {
				f.fail("transaction entry request " + e.Request.Method + " " + e.Request.URL)
			}
			if ref := e.Resource.Subject.Reference; strings.HasPrefix(ref, "urn:") && !fullURLs[ref] {
				f.fail("transaction reference to no entry: " + ref)
			}
		}
		if r.Header.Get("Prefer") != "return=minimal" {
			f.fail("transaction without Prefer: return=minimal")
		}
		f.txEntries.Add(int64(len(b.Entry)))
		io.WriteString(w, `{"resourceType":"Bundle","type":"transaction-response","entry":[]}`)
	default:
		f.fail(r.Method + " " + r.URL.Path)
		w.WriteHeader(http.StatusNotFound)
	}
}

func (f *fakeFHIR) checkClean(t *testing.T) {
	t.Helper()
	if n := f.unauthorized.Load(); n > 0 {
		t.Errorf("server saw %d requests without the bearer token", n)
	}
	if n := f.unknownID.Load(); n > 0 {
		t.Errorf("server saw %d reads of ids it never created", n)
	}
	if n := f.bad.Load(); n > 0 {
		var reasons []string
		f.badReasons.Range(func(k, _ any) bool { reasons = append(reasons, k.(string)); return true })
		t.Errorf("server saw %d bad requests: %v", n, reasons)
	}
}

func testConfig(url, scenario string) *config {
	return &config{
		BaseURL:     url,
		Scenario:    scenario,
		Concurrency: 4,
		Duration:    600 * time.Millisecond,
		Warmup:      200 * time.Millisecond,
		SeedCount:   20,
		Token:       "tok",
		Timeout:     5 * time.Second,
		SeedTimeout: 10 * time.Second,
		Seed:        1,
	}
}

func TestRunRead(t *testing.T) {
	const delay = 2 * time.Millisecond
	f, srv := newFakeFHIR(t, delay, "tok")
	cfg := testConfig(srv.URL, "read")
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	res, err := run(context.Background(), cfg, newClient(cfg))
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	f.checkClean(t)

	if res.Seeded != 20 || f.patientPosts.Load() != 20 {
		t.Errorf("seeded %d, server saw %d Patient POSTs; want 20 and 20", res.Seeded, f.patientPosts.Load())
	}
	if res.Requests != res.OK+res.Errors {
		t.Errorf("requests %d != ok %d + errors %d", res.Requests, res.OK, res.Errors)
	}
	// Ids p0, p4, ... answer 500: about a quarter of the reads.
	if res.OK == 0 || res.Errors == 0 {
		t.Errorf("ok %d, errors %d: want both > 0", res.OK, res.Errors)
	}
	if diff := cmp.Diff(map[string]int{"500": res.Errors}, res.ErrorsByStatus); diff != "" {
		t.Errorf("ErrorsByStatus (-want +got):\n%s", diff)
	}
	// Warmup requests reached the server but are not counted.
	if served := int(f.reads.Load()); res.Requests >= served {
		t.Errorf("counted %d requests, server served %d: warmup was counted", res.Requests, served)
	}
	// Closed loop: each client has at most one request in flight, and each
	// takes at least delay.
	if limit := cfg.Concurrency * int(cfg.Duration/delay); res.Requests > limit {
		t.Errorf("counted %d requests, more than a closed loop allows (%d)", res.Requests, limit)
	}
	if want := float64(res.Requests) / cfg.Duration.Seconds(); res.ThroughputRPS != want {
		t.Errorf("throughput %.1f, want requests/duration = %.1f", res.ThroughputRPS, want)
	}
	if res.P50ms < ms(delay) {
		t.Errorf("p50 %.3fms is below the server's delay %s", res.P50ms, delay)
	}
	if !(res.P50ms <= res.P90ms && res.P90ms <= res.P99ms && res.P99ms <= res.MaxMs) {
		t.Errorf("percentiles out of order: p50 %v p90 %v p99 %v max %v", res.P50ms, res.P90ms, res.P99ms, res.MaxMs)
	}
}

func TestRunCreate(t *testing.T) {
	f, srv := newFakeFHIR(t, 0, "tok")
	cfg := testConfig(srv.URL, "create")
	res, err := run(context.Background(), cfg, newClient(cfg))
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	f.checkClean(t)
	if res.OK == 0 || res.Errors != 0 {
		t.Errorf("ok %d, errors %d (%v): want ok > 0 and no errors", res.OK, res.Errors, res.ErrorsByStatus)
	}
	if posted := int(f.obsPosts.Load()); res.Requests > posted {
		t.Errorf("counted %d creates, server saw only %d", res.Requests, posted)
	}
	if f.reads.Load() != 0 {
		t.Errorf("create scenario sent %d reads", f.reads.Load())
	}
}

func TestRunMixed(t *testing.T) {
	f, srv := newFakeFHIR(t, 0, "tok")
	cfg := testConfig(srv.URL, "mixed")
	if _, err := run(context.Background(), cfg, newClient(cfg)); err != nil {
		t.Fatalf("run: %v", err)
	}
	f.checkClean(t)
	reads, creates := f.reads.Load(), f.obsPosts.Load()
	if creates == 0 || reads < 4*creates {
		t.Errorf("mixed sent %d reads and %d creates; want about 9 reads per create", reads, creates)
	}
}

func TestRunStopsWhenServerIsDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	cfg := testConfig(url, "read")
	start := time.Now()
	if _, err := run(context.Background(), cfg, newClient(cfg)); err == nil {
		t.Fatalf("run against a closed port succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("run took %s to give up", d)
	}
}

// TestJSONOutput runs the command end to end and checks the fields
// bench/run.sh reads from -json.
func TestJSONOutput(t *testing.T) {
	_, srv := newFakeFHIR(t, 0, "")
	var out, errOut bytes.Buffer
	args := []string{"-url", srv.URL + "/", "-scenario", "read", "-c", "2", "-d", "300ms", "-warmup", "0s", "-seed-count", "8", "-json"}
	if err := mainErr(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("loadgen %v: %v\n%s", args, err, errOut.String())
	}
	if n := bytes.Count(out.Bytes(), []byte("\n")); n != 1 {
		t.Errorf("-json printed %d lines, want one JSON object on one line:\n%s", n, out.String())
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("-json output is not JSON: %v\n%s", err, out.String())
	}
	for _, k := range []string{"scenario", "requests", "errors", "throughput_rps", "latency_p50_ms", "latency_p90_ms", "latency_p99_ms", "latency_max_ms", "errors_by_status"} {
		if _, ok := got[k]; !ok {
			t.Errorf("-json output lacks %q: %s", k, out.String())
		}
	}
	if got["url"] != srv.URL {
		t.Errorf("url = %v, want the base without trailing slash %q", got["url"], srv.URL)
	}
	if got["requests"].(float64) == 0 {
		t.Errorf("no requests counted: %s", out.String())
	}
}

func TestSummarize(t *testing.T) {
	r := newRecorder()
	// 1ms..100ms in scrambled order; 7 of them are 503s.
	for _, i := range rand.New(rand.NewPCG(1, 2)).Perm(100) {
		code := 200
		if i%15 == 0 {
			code = 503
		}
		r.response(code, time.Duration(i+1)*time.Millisecond, 3)
	}
	r.failure()
	r.failure()
	got := summarize(r, 2*time.Second)
	want := Result{
		Requests:       102,
		OK:             93,
		Errors:         9,
		ThroughputRPS:  51,
		Resources:      279,
		ResourcesPerS:  139.5,
		P50ms:          50,
		P90ms:          90,
		P99ms:          99,
		MaxMs:          100,
		ErrorsByStatus: map[string]int{"503": 7, "transport": 2},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summarize (-want +got):\n%s", diff)
	}
}

func TestPercentile(t *testing.T) {
	d := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n)
		}
		return out
	}
	for _, tc := range []struct {
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{nil, 50, 0},
		{d(7), 50, 7},
		{d(7), 99, 7},
		{d(1, 2), 50, 1},
		{d(1, 2), 51, 2},
		{d(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9},
		{d(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 91, 10},
		{d(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 100, 10},
	} {
		if got := percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tc.sorted, tc.p, got, tc.want)
		}
	}
}

func TestCheckTarget(t *testing.T) {
	for _, tc := range []struct {
		url         string
		allowRemote bool
		ok          bool
	}{
		{"http://127.0.0.1:8080", false, true},
		{"http://127.9.9.9:8080/fhir", false, true},
		{"http://localhost:8080", false, true},
		{"https://LOCALHOST", false, true},
		{"http://[::1]:8080", false, true},
		{"http://10.0.0.5:8080", false, false},
		{"http://example.org", false, false},
		{"http://localhost.example.org", false, false},
		{"http://example.org", true, true},
		{"ftp://127.0.0.1", false, false},
		{"127.0.0.1:8080", false, false},
		{"http://", true, false},
	} {
		err := checkTarget(tc.url, tc.allowRemote)
		if (err == nil) != tc.ok {
			t.Errorf("checkTarget(%q, %v) = %v, want ok=%v", tc.url, tc.allowRemote, err, tc.ok)
		}
	}
}

func TestParseFlagsReportsEverything(t *testing.T) {
	_, _, err := parseFlags([]string{"-url", "http://example.org", "-scenario", "delete", "-c", "0", "-d", "0s", "-seed-count", "0"}, io.Discard)
	if err == nil {
		t.Fatal("parseFlags accepted bad flags")
	}
	for _, want := range []string{"-url", "-scenario", "-c 0", "-d 0s", "-seed-count 0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestObservationBodies(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	codes := map[string]int{}
	for range 200 {
		b := observation(rng, "pat-1", now)
		var o struct {
			ResourceType string
			Meta         struct{ Profile []string }
			Category     []struct{ Coding []struct{ Code string } }
			Code         struct {
				Coding []struct{ System, Code string }
			}
			Subject   struct{ Reference string }
			Component []json.RawMessage
			Performer []json.RawMessage
			Device    json.RawMessage
			Note      []json.RawMessage
			Effective string `json:"effectiveDateTime"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			t.Fatalf("observation is not JSON: %v\n%s", err, b)
		}
		if len(b) < 1700 || len(b) > 2400 {
			t.Errorf("observation is %d bytes, want about 2 KB", len(b))
		}
		code := o.Code.Coding[0].Code
		codes[code]++
		if o.ResourceType != "Observation" || o.Subject.Reference != "Patient/pat-1" ||
			o.Meta.Profile[0] != "http://hl7.org/fhir/StructureDefinition/vitalsigns" ||
			o.Category[0].Coding[0].Code != "vital-signs" || o.Code.Coding[0].System != "http://loinc.org" ||
			len(o.Performer) == 0 || o.Device == nil || len(o.Note) == 0 || o.Effective == "" {
			t.Fatalf("observation lacks a required part: %s", b)
		}
		if wantComponents := map[string]int{"8867-4": 0, "85354-9": 2}[code]; len(o.Component) != wantComponents {
			t.Errorf("%s has %d components, want %d", code, len(o.Component), wantComponents)
		}
	}
	if codes["8867-4"] == 0 || codes["85354-9"] == 0 || len(codes) != 2 {
		t.Errorf("codes %v: want both heart rate and blood pressure", codes)
	}
	var p map[string]any
	if err := json.Unmarshal(patient(rng, 7), &p); err != nil || p["resourceType"] != "Patient" {
		t.Errorf("patient is not a Patient: %v %v", err, p)
	}
}

func TestCreatedID(t *testing.T) {
	for _, tc := range []struct {
		name     string
		body     string
		location string
		want     string
		wantErr  bool
	}{
		{"body id", `{"resourceType":"Patient","id":"a1"}`, "", "a1", false},
		{"body wins", `{"id":"a1"}`, "http://h/Patient/zz/_history/1", "a1", false},
		{"location with history", "", "http://h/fhir/Patient/b2/_history/3", "b2", false},
		{"location without history", "", "/Patient/c3", "c3", false},
		{"neither", "", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{Status: "201 Created", Header: http.Header{}}
			if tc.location != "" {
				resp.Header.Set("Location", tc.location)
			}
			got, err := createdID(resp, []byte(tc.body))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("createdID = %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestRunGet: the get scenario sends only GETs of its templates, with
// {patient} replaced by ids from the list, and seeds nothing.
func TestRunGet(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	var bad atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			bad.Add(1)
		}
		mu.Lock()
		seen[r.URL.Path+"?"+r.URL.RawQuery]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/fhir+json")
		fmt.Fprint(w, `{"resourceType":"Bundle","type":"searchset"}`)
	}))
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	paths := filepath.Join(dir, "paths")
	ids := filepath.Join(dir, "ids")
	if err := os.WriteFile(paths, []byte("# the benchmark's queries\n/Observation?subject=Patient/{patient}&code=http://loinc.org|8867-4&_sort=-date\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ids, []byte("p1\np2\n  p3  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := parseFlags([]string{"-url", srv.URL, "-scenario", "get", "-paths", paths, "-ids", ids,
		"-path", "/Patient?name=smi", "-c", "3", "-d", "400ms", "-warmup", "0s", "-rand-seed", "5"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Paths) != 2 || len(cfg.IDs) != 3 || cfg.IDs[2] != "p3" {
		t.Fatalf("paths %q, ids %q", cfg.Paths, cfg.IDs)
	}
	res, err := run(context.Background(), cfg, newClient(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if res.OK == 0 || res.Errors != 0 || res.Seeded != 3 || bad.Load() != 0 {
		t.Fatalf("ok %d, errors %d, seeded %d, non-GETs %d", res.OK, res.Errors, res.Seeded, bad.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range []string{"p1", "p2", "p3"} {
		if seen["/Observation?subject=Patient/"+id+"&code=http://loinc.org|8867-4&_sort=-date"] == 0 {
			t.Errorf("no request for Patient %s; saw %v", id, seen)
		}
	}
	if seen["/Patient?name=smi"] == 0 || len(seen) != 4 {
		t.Errorf("requests %v: want the three Observation queries and the Patient one", seen)
	}
}

func TestGetNeedsPathsAndIDs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-scenario", "get"}, "needs at least one -path"},
		{[]string{"-scenario", "get", "-path", "/Observation?subject=Patient/{patient}"}, "-ids"},
		{[]string{"-scenario", "get", "-path", "Patient"}, "starting with /"},
		{[]string{"-scenario", "get", "-paths", "/nonexistent/file"}, "-paths"},
	} {
		_, _, err := parseFlags(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseFlags(%q) = %v, want an error about %s", tc.args, err, tc.want)
		}
	}
	// The seeding scenarios' -seed-count does not apply to get.
	if _, _, err := parseFlags([]string{"-scenario", "get", "-path", "/metadata", "-seed-count", "0"}, io.Discard); err != nil {
		t.Errorf("get with -seed-count 0: %v", err)
	}
}

func TestRunTransactions(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 3 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("b%d.json", i)), smallTransaction(rng, time.Now()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bundles, entries, err := readBundles(dir)
	if err != nil || len(bundles) != 3 || entries[0] != 2 {
		t.Fatalf("readBundles: %d Bundles, entries %v, %v", len(bundles), entries, err)
	}
	for _, scenario := range []string{"tx-small", "tx-bundle"} {
		f, srv := newFakeFHIR(t, 0, "tok")
		cfg := testConfig(srv.URL, scenario)
		cfg.SeedCount = 0
		cfg.Bundles, cfg.BundleEntries = bundles, entries
		res, err := run(context.Background(), cfg, newClient(cfg))
		if err != nil {
			t.Fatalf("%s: %v", scenario, err)
		}
		f.checkClean(t)
		if res.OK == 0 || res.Errors != 0 || res.Seeded != 0 || f.patientPosts.Load() != 0 {
			t.Errorf("%s: ok %d errors %d seeded %d: want transactions only, all ok", scenario, res.OK, res.Errors, res.Seeded)
		}
		if res.Resources != 2*res.OK || int64(res.Resources) > f.txEntries.Load() {
			t.Errorf("%s: %d resources counted for %d transactions (server saw %d entries)", scenario, res.Resources, res.OK, f.txEntries.Load())
		}
	}
	if _, _, err := readBundles(t.TempDir()); err == nil {
		t.Errorf("readBundles of an empty folder succeeded")
	}
}

// TestSmallTransactionIsValid sends tx-small's Bundle through the real
// transaction code: it must commit, and the Observation must point at the
// Patient it created.
func TestSmallTransactionIsValid(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	reg, err := search.NewRegistry(search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc := &fhir.Service{Store: st, Registry: reg}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20 {
		b, err := fhir.ParseBundle(smallTransaction(rng, time.Now()), "", 0)
		if err != nil {
			t.Fatal(err)
		}
		res, err := svc.Transaction(t.Context(), b, fhir.BundleOptions{})
		if err != nil {
			t.Fatalf("tx-small Bundle refused: %v", err)
		}
		if !bytes.Contains(res[1].Resource.Body, []byte(`"reference":"Patient/`+res[0].Resource.ID+`"`)) {
			t.Fatalf("the Observation does not refer to the new Patient: %s", res[1].Resource.Body)
		}
	}
}
