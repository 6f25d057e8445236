package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/resource"
	"github.com/telefhir/telefhir/fhir/search"
)

// reindexShared are the shared settings reindex takes.
var reindexShared = storeShared

type reindexConfig struct {
	*config
	Type     string
	Batch    int
	Writers  int
	Progress time.Duration
}

func loadReindexConfig(args []string, getenv func(string) string) (*reindexConfig, error) {
	fs := flag.NewFlagSet("reindex", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	rc := &reindexConfig{}
	fs.StringVar(&rc.Type, "type", "", "reindex only this resource type (default: all)")
	fs.IntVar(&rc.Batch, "batch", 500, "resources per transaction")
	fs.IntVar(&rc.Writers, "writers", 2, "transactions at a time")
	fs.DurationVar(&rc.Progress, "progress", 5*time.Second, "interval of the progress line")
	var errs []error
	c, err := loadToolConfig(fs, reindexShared, args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return nil, err
	}
	if err != nil {
		errs = append(errs, err)
	}
	rc.config = c
	if rc.Type != "" && !resource.IsType(rc.Type) {
		errs = append(errs, fmt.Errorf("--type %q: not an R4 resource type", rc.Type))
	}
	errs = append(errs, checkBatching(rc.Batch, rc.Writers, rc.Progress)...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return rc, nil
}

// checkBatching checks the --batch, --writers and --progress flags of the
// commands that write a store in batches.
func checkBatching(batch, writers int, progress time.Duration) []error {
	var errs []error
	if batch < 1 {
		errs = append(errs, fmt.Errorf("--batch %d: want at least 1", batch))
	}
	if writers < 1 {
		errs = append(errs, fmt.Errorf("--writers %d: want at least 1", writers))
	}
	if progress <= 0 {
		errs = append(errs, fmt.Errorf("--progress %s: want a positive duration", progress))
	}
	return errs
}

// runReindex rebuilds the search index of the stored resources with the
// search-parameter definitions this binary carries.
func runReindex(ctx context.Context, args []string, stdout io.Writer) error {
	rc, err := loadReindexConfig(args, os.Getenv)
	if err != nil {
		return err
	}
	st, desc, err := openStore(ctx, rc.config)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate %s store: %w", desc, err)
	}
	reg, err := search.NewRegistry(search.Options{BaseURL: rc.BaseURL})
	if err != nil {
		return fmt.Errorf("search parameters: %w", err)
	}
	start := time.Now()
	var mu sync.Mutex
	lastLine := start
	stats, err := fhir.Reindex(ctx, st, reg, fhir.ReindexOptions{
		Type: rc.Type, Batch: rc.Batch, Writers: rc.Writers,
		Progress: func(s fhir.ReindexStats) {
			mu.Lock()
			defer mu.Unlock()
			if now := time.Now(); now.Sub(lastLine) >= rc.Progress {
				lastLine = now
				fmt.Fprintf(stdout, "telefhir reindex: %d resources scanned, %d reindexed (%.0f/s)\n",
					s.Scanned, s.Reindexed, float64(s.Reindexed)/now.Sub(start).Seconds())
			}
		},
	})
	what := "every resource type"
	if rc.Type != "" {
		what = rc.Type
	}
	fmt.Fprintf(stdout, "telefhir reindex: %s in the %s store: %d scanned, %d reindexed, %d skipped (updated meanwhile), %d failed, in %s\n",
		what, desc, stats.Scanned, stats.Reindexed, stats.Skipped, stats.Failed, time.Since(start).Round(time.Millisecond))
	for _, f := range stats.Failures {
		fmt.Fprintf(stdout, "  not indexed: %s\n", f)
	}
	if err != nil {
		return err
	}
	if stats.Failed > 0 {
		return fmt.Errorf("%d resources could not be indexed and keep their old index rows", stats.Failed)
	}
	return nil
}
