package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/telefhir/telefhir/fhir/resource"
	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/internal/synth"
)

// synthConfig is the configuration of `telefhir synth`: the size of the
// data set, where it goes, and the shared settings (the store).
type synthConfig struct {
	*config
	Patients      int
	ObsPerPatient int
	Seed          uint64
	Out           string
	Batch         int
	Writers       int
	Progress      time.Duration
}

// synthShared are the shared settings synth takes: the store, and the base
// URL under which absolute references are local. The others (listen
// address, NATS, TLS, logging) keep their defaults and TELEFHIR_* values.
var synthShared = []string{"data", "database-url", "base-url"}

// loadSynthConfig parses synth's own flags and the shared settings it
// takes; the shared ones go through loadConfig, so they read the same
// TELEFHIR_* variables and are validated the same way as for serve.
func loadSynthConfig(args []string, getenv func(string) string) (*synthConfig, error) {
	fs := flag.NewFlagSet("synth", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	sc := &synthConfig{}
	fs.IntVar(&sc.Patients, "patients", 100, "number of Patients")
	fs.IntVar(&sc.ObsPerPatient, "observations-per-patient", 100, "vital-sign Observations per Patient")
	fs.Uint64Var(&sc.Seed, "seed", 1, "seed of the data set: the same seed and sizes give the same resources")
	fs.StringVar(&sc.Out, "out", "", "write NDJSON files, one per resource type, into this directory instead of loading a store")
	fs.IntVar(&sc.Batch, "batch", 500, "resources per store transaction")
	fs.IntVar(&sc.Writers, "writers", 4, "concurrent store transactions")
	fs.DurationVar(&sc.Progress, "progress", 5*time.Second, "interval of the progress line")
	loadShared := sharedSettings(fs, synthShared)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	var errs []error
	c, err := loadShared("synth", getenv)
	if err != nil {
		errs = append(errs, err)
	}
	sc.config = c
	if sc.Patients < 1 {
		errs = append(errs, fmt.Errorf("--patients %d: want at least 1", sc.Patients))
	}
	if sc.ObsPerPatient < 0 {
		errs = append(errs, fmt.Errorf("--observations-per-patient %d: want 0 or more", sc.ObsPerPatient))
	}
	if sc.Batch < 1 {
		errs = append(errs, fmt.Errorf("--batch %d: want at least 1", sc.Batch))
	}
	if sc.Writers < 1 {
		errs = append(errs, fmt.Errorf("--writers %d: want at least 1", sc.Writers))
	}
	if sc.Progress <= 0 {
		errs = append(errs, fmt.Errorf("--progress %s: want a positive duration", sc.Progress))
	}
	explicitDB := false
	fs.Visit(func(f *flag.Flag) { explicitDB = explicitDB || f.Name == "database-url" })
	if sc.Out != "" && explicitDB {
		errs = append(errs, errors.New("--out writes files and --database-url loads a store: give one of them"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return sc, nil
}

func runSynth(ctx context.Context, args []string, stdout io.Writer) error {
	sc, err := loadSynthConfig(args, os.Getenv)
	if err != nil {
		return err
	}
	g, err := synth.New(synth.Options{Seed: sc.Seed, Patients: sc.Patients, ObservationsPerPatient: sc.ObsPerPatient})
	if err != nil {
		return err
	}
	if sc.Out != "" {
		return writeNDJSON(ctx, g, sc.Out, stdout)
	}

	st, desc, err := openStore(ctx, sc.config)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate %s store: %w", desc, err)
	}
	reg, err := search.NewRegistry(search.Options{BaseURL: sc.BaseURL})
	if err != nil {
		return fmt.Errorf("search parameters: %w", err)
	}
	l := &synthLoader{store: st, registry: reg, batch: sc.Batch, writers: sc.Writers, progress: sc.Progress, now: time.Now}
	return l.load(ctx, g, desc, stdout)
}

// synthLoader writes a generated data set into a store: batches of
// resources, each stamped as version 1, indexed and written in one
// transaction, a bounded number of transactions at a time.
type synthLoader struct {
	store    store.Store
	registry *search.Registry
	batch    int
	writers  int
	progress time.Duration
	now      func() time.Time

	written atomic.Int64
}

func (l *synthLoader) load(ctx context.Context, g *synth.Generator, desc string, stdout io.Writer) error {
	counts := g.Counts()
	total := counts.Total()
	// A data set is loaded once: its ids are fixed by the seed.
	switch _, err := l.store.Read(ctx, "Patient", g.PatientID(0)); {
	case err == nil:
		return errors.New("the store already holds this data set (its first Patient exists): load into an empty store, or use another --seed")
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("checking the store: %w", err)
	}
	fmt.Fprintf(stdout, "telefhir synth: loading %d resources (%d Patients × %d Observations) into the %s store, %d per transaction, %d writers\n",
		total, counts.Patients, counts.Observations/max(1, counts.Patients), desc, l.batch, l.writers)

	start := l.now()
	stopProgress := l.reportProgress(stdout, total, start)
	err := l.write(ctx, g)
	stopProgress()
	elapsed := l.now().Sub(start)
	n := l.written.Load()
	if err != nil {
		return fmt.Errorf("after %d of %d resources in %s: %w", n, total, elapsed.Round(time.Second), err)
	}
	_, err = fmt.Fprintf(stdout, "telefhir synth: loaded %d resources in %s (%.0f resources/s): %d Organization, %d Practitioner, %d Patient, %d Device, %d Encounter, %d Observation\n",
		n, elapsed.Round(100*time.Millisecond), float64(n)/elapsed.Seconds(),
		counts.Organizations, counts.Practitioners, counts.Patients, counts.Devices, counts.Encounters, counts.Observations)
	return err
}

// write generates the data set in order on this goroutine and hands full
// batches to at most l.writers concurrent transactions; generating waits
// while they are all busy.
func (l *synthLoader) write(ctx context.Context, g *synth.Generator) error {
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(l.writers)
	batch := make([]synth.Resource, 0, l.batch)
	flush := func() {
		b := batch
		batch = make([]synth.Resource, 0, l.batch)
		eg.Go(func() error { return l.writeBatch(ectx, b) })
	}
	add := func(rs []synth.Resource) {
		for _, r := range rs {
			batch = append(batch, r)
			if len(batch) == l.batch {
				flush()
			}
		}
	}
	add(g.Shared())
	for i := range g.Counts().Patients {
		if ectx.Err() != nil {
			break
		}
		add(g.Patient(i))
	}
	if len(batch) > 0 && ectx.Err() == nil {
		flush()
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// writeBatch stamps and indexes rs and writes them in one transaction.
func (l *synthLoader) writeBatch(ctx context.Context, rs []synth.Resource) error {
	now := l.now().UTC().Truncate(time.Millisecond)
	rows := make([]store.Resource, len(rs))
	for i, r := range rs {
		body, err := resource.Stamp(r.Body, r.ID, 1, now)
		if err != nil {
			return fmt.Errorf("stamp %s: %w", r.Type, err)
		}
		idx, err := l.registry.ExtractJSON(r.Type, body)
		if err != nil {
			return fmt.Errorf("index %s: %w", r.Type, err)
		}
		// PUT: the ids are the client's (the generator's), as in an
		// update-as-create.
		rows[i] = store.Resource{Type: r.Type, ID: r.ID, VersionID: 1, LastUpdated: now, Method: "PUT", Body: body, Index: idx}
	}
	err := l.store.Write(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, r := range rows {
			if err := tx.Put(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("write: %w (is part of this data set stored already? load into an empty store)", err)
	}
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	l.written.Add(int64(len(rows)))
	return nil
}

// reportProgress prints a progress line every l.progress until the
// returned function is called.
func (l *synthLoader) reportProgress(w io.Writer, total int, start time.Time) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(l.progress)
		defer t.Stop()
		last, lastAt := int64(0), start
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				n := l.written.Load()
				elapsed := now.Sub(start)
				fmt.Fprintf(w, "telefhir synth: %d/%d resources (%.1f%%), %.0f/s now, %.0f/s overall, %s elapsed\n",
					n, total, 100*float64(n)/float64(total),
					float64(n-last)/now.Sub(lastAt).Seconds(), float64(n)/elapsed.Seconds(), elapsed.Round(time.Second))
				last, lastAt = n, now
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// writeNDJSON writes the data set as one NDJSON file per resource type in
// dir (Patient.ndjson, ...), in generation order.
func writeNDJSON(ctx context.Context, g *synth.Generator, dir string, stdout io.Writer) (err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	type file struct {
		f     *os.File
		w     *bufio.Writer
		lines int
	}
	files := make(map[string]*file)
	var order []string
	defer func() {
		for _, t := range order {
			f := files[t]
			if ferr := f.w.Flush(); ferr != nil && err == nil {
				err = fmt.Errorf("write %s: %w", f.f.Name(), ferr)
			}
			if ferr := f.f.Close(); ferr != nil && err == nil {
				err = fmt.Errorf("close %s: %w", f.f.Name(), ferr)
			}
		}
	}()
	put := func(rs []synth.Resource) error {
		for _, r := range rs {
			f := files[r.Type]
			if f == nil {
				fh, err := os.Create(filepath.Join(dir, r.Type+".ndjson"))
				if err != nil {
					return fmt.Errorf("create: %w", err)
				}
				f = &file{f: fh, w: bufio.NewWriterSize(fh, 1<<20)}
				files[r.Type] = f
				order = append(order, r.Type)
			}
			if _, err := f.w.Write(r.Body); err != nil {
				return fmt.Errorf("write %s: %w", f.f.Name(), err)
			}
			if err := f.w.WriteByte('\n'); err != nil {
				return fmt.Errorf("write %s: %w", f.f.Name(), err)
			}
			f.lines++
		}
		return nil
	}
	start := time.Now()
	if err := put(g.Shared()); err != nil {
		return err
	}
	for i := range g.Counts().Patients {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := put(g.Patient(i)); err != nil {
			return err
		}
	}
	parts := make([]string, len(order))
	for i, t := range order {
		parts[i] = fmt.Sprintf("%s.ndjson %d", t, files[t].lines)
	}
	_, err = fmt.Fprintf(stdout, "telefhir synth: wrote %d resources to %s in %s: %s\n",
		g.Counts().Total(), dir, time.Since(start).Round(100*time.Millisecond), strings.Join(parts, ", "))
	return err
}
