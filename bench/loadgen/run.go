package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// config is one load run.
type config struct {
	BaseURL     string        // FHIR base, no trailing slash
	Scenario    string        // read, create, mixed or get
	Concurrency int           // closed-loop clients
	Duration    time.Duration // measured window
	Warmup      time.Duration // load before the window, not counted
	SeedCount   int           // Patients created before the run
	Token       string        // bearer token; empty sends no Authorization
	Timeout     time.Duration // per request
	SeedTimeout time.Duration // for all of seeding
	AllowRemote bool          // permit a non-loopback target
	Seed        uint64        // random seed; runs with the same seed ask for the same sequence per client

	// Paths are the URL templates of the get scenario, relative to
	// BaseURL; {patient} in one is replaced by a random one of IDs.
	Paths []string
	IDs   []string

	// Bundles are the transaction Bundles the tx-bundle scenario sends
	// (round robin), and BundleEntries their sizes.
	Bundles       [][]byte
	BundleEntries []int
}

var scenarios = map[string]bool{"read": true, "create": true, "mixed": true, "get": true, "tx-small": true, "tx-bundle": true}

// seeds reports whether the scenario needs Patients created first.
func (c *config) seeds() bool {
	switch c.Scenario {
	case "get", "tx-small", "tx-bundle":
		return false
	}
	return true
}

// patientVar is the placeholder of a Patient id in a get template.
const patientVar = "{patient}"

// Validate reports every problem with c at once.
func (c *config) Validate() error {
	var errs []error
	if !scenarios[c.Scenario] {
		errs = append(errs, fmt.Errorf("-scenario %q: want read, create, mixed, get, tx-small or tx-bundle", c.Scenario))
	}
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("-c %d: want at least 1", c.Concurrency))
	}
	if c.Duration <= 0 {
		errs = append(errs, fmt.Errorf("-d %s: want a positive duration", c.Duration))
	}
	if c.Warmup < 0 {
		errs = append(errs, fmt.Errorf("-warmup %s: want zero or more", c.Warmup))
	}
	switch {
	case c.Scenario == "get":
		errs = append(errs, c.validateGet()...)
	case c.Scenario == "tx-bundle" && len(c.Bundles) == 0:
		errs = append(errs, errors.New("-scenario tx-bundle needs transaction Bundles: -bundles DIR"))
	case c.seeds() && c.SeedCount < 1:
		errs = append(errs, fmt.Errorf("-seed-count %d: the %s scenario needs at least 1 Patient", c.SeedCount, c.Scenario))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("-timeout %s: want a positive duration", c.Timeout))
	}
	if c.SeedTimeout <= 0 {
		errs = append(errs, fmt.Errorf("-seed-timeout %s: want a positive duration", c.SeedTimeout))
	}
	if err := checkTarget(c.BaseURL, c.AllowRemote); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// validateGet checks the templates of the get scenario.
func (c *config) validateGet() []error {
	var errs []error
	if len(c.Paths) == 0 {
		errs = append(errs, errors.New("-scenario get needs at least one -path or a -paths file"))
	}
	needIDs := false
	for _, p := range c.Paths {
		if !strings.HasPrefix(p, "/") {
			errs = append(errs, fmt.Errorf("-path %q: want a path relative to -url, starting with /", p))
		}
		if _, err := url.Parse(strings.ReplaceAll(p, patientVar, "x")); err != nil {
			errs = append(errs, fmt.Errorf("-path %q: %w", p, err))
		}
		needIDs = needIDs || strings.Contains(p, patientVar)
	}
	if needIDs && len(c.IDs) == 0 {
		errs = append(errs, fmt.Errorf("a -path uses %s: give the Patient ids with -ids", patientVar))
	}
	return errs
}

// checkTarget accepts an http(s) URL whose host is loopback, or any host
// when allowRemote is set.
func checkTarget(raw string, allowRemote bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-url %q: want an http:// or https:// base URL", raw)
	}
	if allowRemote {
		return nil
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("-url %q: host %q is not loopback; loadgen is meant for local benchmarks (pass -allow-remote to override)", raw, host)
}

// newClient returns the one HTTP client every request goes through: a
// keep-alive pool big enough that no client ever waits for a connection.
func newClient(c *config) *http.Client {
	tr := &http.Transport{
		Proxy:               nil, // a benchmark never goes through a proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * c.Concurrency,
		MaxIdleConnsPerHost: 2 * c.Concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: tr, Timeout: c.Timeout}
}

// loader sends the scenario's requests.
type loader struct {
	cfg    *config
	client *http.Client
	ids    []string // seeded Patient ids (get: the -ids file)
	now    func() time.Time
	next   atomic.Int64 // tx-bundle: the next Bundle to send
}

// newRequest builds the next request of the scenario, and says how many
// resources it writes (for the scenarios that count them).
func (l *loader) newRequest(ctx context.Context, rng *rand.Rand) (*http.Request, int, error) {
	switch l.cfg.Scenario {
	case "get":
		p := l.cfg.Paths[rng.IntN(len(l.cfg.Paths))]
		if strings.Contains(p, patientVar) {
			p = strings.ReplaceAll(p, patientVar, l.ids[rng.IntN(len(l.ids))])
		}
		req, err := l.request(ctx, http.MethodGet, p, nil)
		return req, 0, err
	case "tx-small":
		req, err := l.request(ctx, http.MethodPost, "/", smallTransaction(rng, l.now()))
		return req, 2, err
	case "tx-bundle":
		i := int(l.next.Add(1)-1) % len(l.cfg.Bundles)
		req, err := l.request(ctx, http.MethodPost, "/", l.cfg.Bundles[i])
		return req, l.cfg.BundleEntries[i], err
	}
	create := l.cfg.Scenario == "create" || (l.cfg.Scenario == "mixed" && rng.IntN(10) == 0)
	id := l.ids[rng.IntN(len(l.ids))]
	if !create {
		req, err := l.request(ctx, http.MethodGet, "/Patient/"+id, nil)
		return req, 0, err
	}
	req, err := l.request(ctx, http.MethodPost, "/Observation", observation(rng, id, l.now()))
	return req, 1, err
}

func (l *loader) request(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.cfg.BaseURL+path, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/fhir+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	if path == "/" {
		req.Header.Set("Prefer", "return=minimal") // a loader needs no copy of what it sent
	}
	if l.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+l.cfg.Token)
	}
	return req, nil
}

// seed creates cfg.SeedCount Patients, cfg.Concurrency at a time, and
// keeps their ids. Any failure stops the run: a benchmark over a server
// that cannot create Patients measures nothing.
func (l *loader) seed(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.SeedTimeout)
	defer cancel()
	ids := make([]string, l.cfg.SeedCount)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(l.cfg.Concurrency)
	rng := rand.New(rand.NewPCG(l.cfg.Seed, 0))
	for i := range ids {
		body := patient(rng, i) // rng is not shared with the goroutines
		g.Go(func() error {
			req, err := l.request(ctx, http.MethodPost, "/Patient", body)
			if err != nil {
				return err
			}
			resp, err := l.client.Do(req)
			if err != nil {
				return fmt.Errorf("seeding Patient %d: %w", i, err)
			}
			defer resp.Body.Close()
			rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			if err != nil {
				return fmt.Errorf("seeding Patient %d: reading the response: %w", i, err)
			}
			if resp.StatusCode/100 != 2 {
				return fmt.Errorf("seeding Patient %d: POST /Patient answered %s", i, resp.Status)
			}
			if ids[i], err = createdID(resp, rb); err != nil {
				return fmt.Errorf("seeding Patient %d: %w", i, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	l.ids = ids
	return nil
}

// load runs the closed loop: cfg.Concurrency clients, each sending its next
// request as soon as the previous one is fully read, from start until the
// window [start+Warmup, start+Warmup+Duration) ends. Requests that start
// inside the window and finish before its end are recorded.
func (l *loader) load(ctx context.Context) (*recorder, time.Duration) {
	start := l.now()
	from := start.Add(l.cfg.Warmup)
	until := from.Add(l.cfg.Duration)
	ctx, cancel := context.WithDeadline(ctx, until)
	defer cancel()

	recs := make([]*recorder, l.cfg.Concurrency)
	var wg sync.WaitGroup
	for w := range recs {
		rec := newRecorder()
		recs[w] = rec
		rng := rand.New(rand.NewPCG(l.cfg.Seed, uint64(w)+1))
		wg.Go(func() {
			for ctx.Err() == nil {
				l.once(ctx, rng, rec, from, until)
			}
		})
	}
	wg.Wait()

	all := newRecorder()
	for _, r := range recs {
		all.merge(r)
	}
	window := l.cfg.Duration
	if end := l.now(); end.Before(until) { // the parent context was cancelled early
		window = max(0, end.Sub(from))
	}
	return all, window
}

// once sends one request and records it if it belongs to the window.
func (l *loader) once(ctx context.Context, rng *rand.Rand, rec *recorder, from, until time.Time) {
	req, resources, err := l.newRequest(ctx, rng)
	if err != nil {
		return // only a malformed base URL gets here, and Validate rules that out
	}
	t0 := l.now()
	resp, err := l.client.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	t1 := l.now()
	if t0.Before(from) || t1.After(until) || ctx.Err() != nil {
		return // warmup, or cut off by the end of the window
	}
	if err != nil {
		rec.failure()
		return
	}
	rec.response(resp.StatusCode, t1.Sub(t0), resources)
}

// run seeds, loads and summarizes one configuration.
func run(ctx context.Context, cfg *config, client *http.Client) (Result, error) {
	l := &loader{cfg: cfg, client: client, now: time.Now}
	if !cfg.seeds() {
		l.ids = cfg.IDs // nothing to seed: the data is the server's, or sent whole
	} else if err := l.seed(ctx); err != nil {
		return Result{}, err
	}
	rec, window := l.load(ctx)
	res := summarize(rec, window)
	res.Scenario = cfg.Scenario
	res.URL = cfg.BaseURL
	res.Concurrency = cfg.Concurrency
	res.DurationS = window.Seconds()
	res.WarmupS = cfg.Warmup.Seconds()
	res.Seeded = len(l.ids)
	return res, nil
}
