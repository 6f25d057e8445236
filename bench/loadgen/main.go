package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := mainErr(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
		}
		stop()
		os.Exit(2)
	}
}

func mainErr(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, asJSON, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	switch cfg.Scenario {
	case "get":
		fmt.Fprintf(stderr, "loadgen: get %d path(s) at %s, %d Patient ids, %s warmup + %s at %d clients\n",
			len(cfg.Paths), cfg.BaseURL, len(cfg.IDs), cfg.Warmup, cfg.Duration, cfg.Concurrency)
	case "tx-small", "tx-bundle":
		fmt.Fprintf(stderr, "loadgen: %s at %s, %s warmup + %s at %d clients\n",
			cfg.Scenario, cfg.BaseURL, cfg.Warmup, cfg.Duration, cfg.Concurrency)
	default:
		fmt.Fprintf(stderr, "loadgen: seeding %d Patients at %s, then %s %s warmup + %s at %d clients\n",
			cfg.SeedCount, cfg.BaseURL, cfg.Scenario, cfg.Warmup, cfg.Duration, cfg.Concurrency)
	}
	res, err := run(ctx, cfg, newClient(cfg))
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(res)
	}
	return printText(stdout, res)
}

func parseFlags(args []string, stderr io.Writer) (*config, bool, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := &config{}
	fs.StringVar(&cfg.BaseURL, "url", "http://127.0.0.1:8080", "FHIR base URL of the server under test (loopback only unless -allow-remote)")
	fs.StringVar(&cfg.Scenario, "scenario", "read", "read (GET Patient), create (POST vital-signs Observation), mixed (90% read, 10% create), get (GET -path templates), "+
		"tx-small (transaction: a Patient and an Observation) or tx-bundle (the transaction Bundles of -bundles, round robin)")
	fs.IntVar(&cfg.Concurrency, "c", 32, "concurrent closed-loop clients")
	fs.DurationVar(&cfg.Duration, "d", 20*time.Second, "measured duration")
	fs.DurationVar(&cfg.Warmup, "warmup", 3*time.Second, "load before the measured duration, not counted")
	fs.IntVar(&cfg.SeedCount, "seed-count", 1000, "Patients to create before the run (read targets; create subjects)")
	fs.StringVar(&cfg.Token, "token", "", "bearer token sent as Authorization on every request (default: none)")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.DurationVar(&cfg.SeedTimeout, "seed-timeout", 2*time.Minute, "limit on the whole seeding phase")
	fs.BoolVar(&cfg.AllowRemote, "allow-remote", false, "allow a -url whose host is not loopback")
	fs.Uint64Var(&cfg.Seed, "rand-seed", uint64(time.Now().UnixNano()), "seed of the random choices")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	fs.Func("path", "get: a URL path and query to GET, relative to -url; {patient} is replaced by a random -ids entry (repeatable)", func(s string) error {
		cfg.Paths = append(cfg.Paths, s)
		return nil
	})
	pathsFile := fs.String("paths", "", "get: a file of -path templates, one a line (# comments)")
	idsFile := fs.String("ids", "", "get: a file of Patient ids, one a line, for {patient}")
	bundlesDir := fs.String("bundles", "", "tx-bundle: a folder of transaction Bundles (.json, .json.gz), such as testdata/synthea")
	if err := fs.Parse(args); err != nil {
		return nil, false, err
	}
	if fs.NArg() > 0 {
		return nil, false, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	var errs []error
	if *pathsFile != "" {
		paths, err := readLines(*pathsFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("-paths: %w", err))
		}
		cfg.Paths = append(cfg.Paths, paths...)
	}
	if *bundlesDir != "" {
		b, n, err := readBundles(*bundlesDir)
		if err != nil {
			errs = append(errs, fmt.Errorf("-bundles: %w", err))
		}
		cfg.Bundles, cfg.BundleEntries = b, n
	}
	if *idsFile != "" {
		ids, err := readLines(*idsFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("-ids: %w", err))
		}
		cfg.IDs = ids
	}
	if err := errors.Join(errs...); err != nil {
		return nil, false, err
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if err := cfg.Validate(); err != nil {
		return nil, false, err
	}
	return cfg, *asJSON, nil
}

// readLines returns the lines of a file that are not blank and do not
// start with #, trimmed.
func readLines(name string) ([]string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out, nil
}

// printText writes res for a person to read.
func printText(w io.Writer, r Result) error {
	errs := fmt.Sprint(r.Errors)
	if r.Errors > 0 {
		keys := make([]string, 0, len(r.ErrorsByStatus))
		for k := range r.ErrorsByStatus {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s: %d", k, r.ErrorsByStatus[k])
		}
		errs += " (" + strings.Join(parts, ", ") + ")"
	}
	seeded := fmt.Sprintf("%d Patients seeded", r.Seeded)
	switch r.Scenario {
	case "get":
		seeded = fmt.Sprintf("%d Patient ids given", r.Seeded)
	case "tx-small", "tx-bundle":
		seeded = "nothing seeded"
	}
	_, err := fmt.Fprintf(w, `scenario    %s
target      %s
clients     %d
duration    %.1fs measured, %.1fs warmup, %s
requests    %d
errors      %s
throughput  %.1f req/s
resources   %d written (%.1f/s)
latency     p50 %.3fms  p90 %.3fms  p99 %.3fms  max %.3fms
`, r.Scenario, r.URL, r.Concurrency, r.DurationS, r.WarmupS, seeded, r.Requests, errs,
		r.ThroughputRPS, r.Resources, r.ResourcesPerS, r.P50ms, r.P90ms, r.P99ms, r.MaxMs)
	return err
}
