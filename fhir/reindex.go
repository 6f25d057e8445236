package fhir

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
)

// ReindexOptions tune Reindex.
type ReindexOptions struct {
	// Type limits the reindex to one resource type (empty: all).
	Type string
	// Batch is the number of resources scanned and rewritten per
	// transaction (default 500).
	Batch int
	// Writers is the number of batches indexed and written at a time
	// (default 2).
	Writers int
	// Progress, when set, is called after each batch with the totals so
	// far. It is called from several goroutines, one call at a time.
	Progress func(ReindexStats)
}

// ReindexStats counts what a reindex did.
type ReindexStats struct {
	// Scanned resources, of which Reindexed got new index rows, Skipped had
	// been updated or deleted meanwhile (the writer indexed the new
	// version), and Failed could not be indexed (see Failures).
	Scanned, Reindexed, Skipped, Failed int64
	// Failures names the first resources that could not be indexed, with
	// why (at most MaxReindexFailures).
	Failures []string
}

// MaxReindexFailures bounds ReindexStats.Failures.
const MaxReindexFailures = 20

// Reindex re-extracts the search index of every current resource (or every
// resource of one type) with reg and replaces the stored index rows,
// without making new versions: what to run after the search-parameter
// definitions change. Resources written concurrently are indexed by their
// writer; Reindex skips a resource whose version moved on. It stops at the
// first store error; a resource that cannot be indexed is counted and
// named in the stats, and keeps its old rows.
func Reindex(ctx context.Context, st store.Store, reg *search.Registry, opts ReindexOptions) (ReindexStats, error) {
	if reg == nil {
		return ReindexStats{}, errors.New("reindex: no search registry")
	}
	if opts.Batch <= 0 {
		opts.Batch = 500
	}
	if opts.Writers <= 0 {
		opts.Writers = 2
	}
	var (
		mu                                   sync.Mutex
		stats                                ReindexStats
		scanned, reindexed, skipped, failedN atomic.Int64
	)
	snapshot := func() ReindexStats {
		s := ReindexStats{Scanned: scanned.Load(), Reindexed: reindexed.Load(), Skipped: skipped.Load(), Failed: failedN.Load()}
		s.Failures = append([]string(nil), stats.Failures...)
		return s
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Writers)
	q := store.ScanQuery{Type: opts.Type, Count: opts.Batch}
	for {
		page, err := st.Scan(gctx, q)
		if err != nil {
			_ = g.Wait()
			return snapshot(), fmt.Errorf("reindex: scan: %w", err)
		}
		entries := page.Entries
		scanned.Add(int64(len(entries)))
		g.Go(func() error {
			rs := make([]store.Resource, 0, len(entries))
			for _, e := range entries {
				idx, err := reg.ExtractJSON(e.Type, e.Body)
				if err != nil {
					failedN.Add(1)
					mu.Lock()
					if len(stats.Failures) < MaxReindexFailures {
						stats.Failures = append(stats.Failures, fmt.Sprintf("%s/%s version %d: %v", e.Type, e.ID, e.VersionID, err))
					}
					mu.Unlock()
					continue
				}
				rs = append(rs, store.Resource{Type: e.Type, ID: e.ID, VersionID: e.VersionID, Index: idx})
			}
			var done, stale int64
			err := st.Write(gctx, func(ctx context.Context, tx store.Tx) error {
				done, stale = 0, 0 // the callback may run again
				for _, r := range rs {
					ok, err := tx.Reindex(ctx, r)
					if err != nil {
						return err
					}
					if ok {
						done++
					} else {
						stale++
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("reindex: write: %w", err)
			}
			reindexed.Add(done)
			skipped.Add(stale)
			if opts.Progress != nil {
				mu.Lock()
				opts.Progress(snapshot())
				mu.Unlock()
			}
			return nil
		})
		if page.Next == 0 {
			break
		}
		q.After = page.Next
	}
	if err := g.Wait(); err != nil {
		return snapshot(), err
	}
	return snapshot(), nil
}
