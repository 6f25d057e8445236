package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
)

// loadOptions is the configuration of `telefhir load`.
type loadOptions struct {
	*config
	Paths       []string
	Server      string
	Token       string
	Concurrency int
	Batch       int
	Checkpoint  string
	Progress    time.Duration
	Timeout     time.Duration
	// toStore is set when the resources go straight into the store
	// (no --server).
	toStore bool
}

// loadShared are the shared settings load takes for loading straight into
// a store.
var loadShared = []string{"data", "database-url", "base-url", "max-bundle-entries"}

func parseLoadOptions(args []string, getenv func(string) string) (*loadOptions, error) {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: telefhir load [flags] PATH...\n\n"+
			"Loads transaction, batch and collection Bundles (.json, .json.gz) and NDJSON files\n"+
			"(.ndjson, .ndjson.gz; one resource a line) from files and folders, into a running\n"+
			"server (--server) or straight into the store (--data / --database-url).\n\nflags:\n")
		fs.PrintDefaults()
	}
	o := &loadOptions{}
	fs.StringVar(&o.Server, "server", "", "FHIR base URL of a running server to load into (default: load straight into the store)")
	fs.StringVar(&o.Token, "token", "", "bearer token sent to --server (env TELEFHIR_TOKEN; never printed)")
	fs.IntVar(&o.Concurrency, "concurrency", 4, "Bundles in flight at once")
	fs.IntVar(&o.Batch, "batch", 200, "NDJSON lines per transaction")
	fs.StringVar(&o.Checkpoint, "checkpoint", "telefhir-load.checkpoint", "file recording what is loaded, so that a rerun resumes (empty: none)")
	fs.DurationVar(&o.Progress, "progress", 5*time.Second, "interval of progress lines when stderr is not a terminal")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "limit on one Bundle's request")
	shared := addShared(fs, loadShared)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.Paths = fs.Args()
	var errs []error
	tokenFlag := o.Token != ""
	if !tokenFlag {
		o.Token = getenv("TELEFHIR_TOKEN")
	}
	c, err := shared("load", getenv)
	if err != nil {
		errs = append(errs, err)
	}
	o.config = c
	if len(o.Paths) == 0 {
		errs = append(errs, errors.New("name at least one file or folder to load"))
	}
	if o.Server != "" {
		u, err := url.Parse(o.Server)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--server %q must be an http(s) FHIR base URL", o.Server))
		}
		o.Server = strings.TrimRight(o.Server, "/")
		explicitStore := false
		fs.Visit(func(f *flag.Flag) { explicitStore = explicitStore || f.Name == "database-url" || f.Name == "data" })
		if explicitStore {
			errs = append(errs, errors.New("--server loads over HTTP and --data/--database-url straight into a store: give one of them"))
		}
	} else {
		o.toStore = true
		if tokenFlag {
			errs = append(errs, errors.New("--token goes with --server"))
		}
	}
	if o.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("--concurrency %d: want at least 1", o.Concurrency))
	}
	if o.Batch < 1 {
		errs = append(errs, fmt.Errorf("--batch %d: want at least 1", o.Batch))
	}
	if o.Progress <= 0 || o.Timeout <= 0 {
		errs = append(errs, errors.New("--progress and --timeout must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return o, nil
}

func runLoad(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseLoadOptions(args, os.Getenv)
	if err != nil {
		return err
	}
	// The first interrupt stops new work and lets what is in flight
	// finish and be recorded; a second one ends the process at once.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			signal.Reset(os.Interrupt, syscall.SIGTERM)
		case <-done:
		}
	}()
	return load(ctx, o, stdout, os.Stderr, isTerminal(os.Stderr))
}

// load runs a load: the summary goes to out, the progress to progress (a
// bar when tty, lines otherwise).
func load(ctx context.Context, o *loadOptions, out, progress io.Writer, tty bool) error {
	var sk sink
	if o.toStore {
		st, err := openStoreSink(ctx, o.config)
		if err != nil {
			return err
		}
		defer st.Close()
		sk = st
	} else {
		sk = newHTTPSink(o.Server, o.Token, o.Timeout)
	}
	l := &loader{opts: o, sink: sk, out: out, progress: progress, tty: tty, now: time.Now}
	return l.run(ctx)
}

// sink is where Bundles go: a server over HTTP, or a store.
type sink interface {
	// send processes one transaction or batch Bundle. A transaction
	// either succeeds (every entry ok) or fails with an error; a batch
	// reports per entry.
	send(ctx context.Context, bundle []byte) ([]entryStatus, error)
	// target names the destination (no credentials), for the checkpoint
	// and messages.
	target() string
}

// entryStatus is the outcome of one entry: its HTTP status, and why it
// failed.
type entryStatus struct {
	status int
	reason string
}

func (e entryStatus) ok() bool { return e.status >= 200 && e.status < 300 }

// bundleError is a Bundle the sink refused as a whole.
type bundleError struct {
	status int
	reason string
}

func (e *bundleError) Error() string {
	if e.status == 0 {
		return e.reason
	}
	return fmt.Sprintf("%d: %s", e.status, e.reason)
}

// retryable reports whether sending the Bundle again may succeed: the
// server said it was not processed (conflict, overload).
func (e *bundleError) retryable() bool {
	return e.status == 409 || e.status == 429 || e.status == 503
}

// unit is one piece of work: a Bundle file, or a chunk of an NDJSON file.
type unit struct {
	file *inputFile
	// bundle is what is sent. A chunk of NDJSON lines is a transaction
	// of entries, one per line of lineNos.
	bundle  []byte
	entries [][]byte
	lineNos []int
	types   []string // of the lines' resources
	weight  int64    // bytes of input it stands for, for the progress bar
}

func (u *unit) name() string {
	if u.lineNos == nil {
		return u.file.rel
	}
	return fmt.Sprintf("%s lines %d-%d", u.file.rel, u.lineNos[0], u.lineNos[len(u.lineNos)-1])
}

// failure is one thing that did not load.
type failure struct {
	what, reason string
}

// loader runs one load.
type loader struct {
	opts     *loadOptions
	sink     sink
	out      io.Writer // the summary
	progress io.Writer // progress bar or lines
	tty      bool
	now      func() time.Time

	ckpt *checkpoint

	totalBytes int64
	files      int
	skipped    int // complete before this run

	doneBytes, resources atomic.Int64
	complete, failed     atomic.Int64 // files

	mu       sync.Mutex
	failures []failure
}

func (l *loader) run(ctx context.Context) error {
	files, ignored, err := findInputs(l.opts.Paths)
	if err != nil {
		return err
	}
	if l.opts.Checkpoint != "" {
		if l.ckpt, err = openCheckpoint(l.opts.Checkpoint, l.sink.target()); err != nil {
			return err
		}
		defer l.ckpt.close()
	}
	var todo []*inputFile
	for _, f := range files {
		l.totalBytes += f.size
		if l.ckpt.fileDone(f) {
			l.skipped++
			l.doneBytes.Add(f.size)
			continue
		}
		todo = append(todo, f)
	}
	l.files = len(files)
	fmt.Fprintf(l.out, "telefhir load: %d files (%s) into %s, %d at a time", len(files), byteCount(l.totalBytes), l.sink.target(), l.opts.Concurrency)
	if l.skipped > 0 {
		fmt.Fprintf(l.out, "; %d loaded before (checkpoint %s)", l.skipped, l.opts.Checkpoint)
	}
	if ignored > 0 {
		fmt.Fprintf(l.out, "; %d other files ignored", ignored)
	}
	fmt.Fprintln(l.out)

	start := l.now()
	stop := l.showProgress(start)
	l.loadAll(ctx, todo)
	stop()
	return l.summary(ctx, l.now().Sub(start))
}

// loadAll reads the files in order and sends their units, at most
// Concurrency at a time. Once ctx is done no new unit starts; those in
// flight finish (up to Timeout) and are recorded.
func (l *loader) loadAll(ctx context.Context, files []*inputFile) {
	g := new(errgroup.Group)
	g.SetLimit(l.opts.Concurrency)
	inflight := context.WithoutCancel(ctx)
	for _, f := range files {
		if ctx.Err() != nil {
			break
		}
		err := l.units(ctx, f, func(u *unit) {
			f.started()
			g.Go(func() error {
				l.loadUnit(inflight, u)
				l.finished(f)
				return nil
			})
		})
		if err != nil {
			l.fail(f, f.rel, err.Error())
		}
		if ctx.Err() == nil {
			f.dispatched()
			l.finished(f)
		}
	}
	_ = g.Wait()
}

// loadUnit sends one unit and records what came of it.
func (l *loader) loadUnit(ctx context.Context, u *unit) {
	ctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
	defer cancel()
	defer l.doneBytes.Add(u.weight)
	statuses, err := l.sendRetrying(ctx, u.bundle)
	var be *bundleError
	if errors.As(err, &be) && be.status >= 400 && be.status < 500 && len(u.entries) > 1 {
		// A chunk of NDJSON that fails as a transaction: send its lines
		// as a batch, to load the good ones and learn which are not.
		statuses, err = l.sendRetrying(ctx, bundleOf("batch", u.entries))
	}
	if err != nil {
		l.fail(u.file, u.name(), err.Error())
		return
	}
	ok := 0
	var okLines []int
	for i, s := range statuses {
		if s.ok() {
			ok++
			if u.lineNos != nil {
				okLines = append(okLines, u.lineNos[i])
			}
			continue
		}
		what, reason := fmt.Sprintf("%s entry %d", u.file.rel, i), s.reason
		if u.lineNos != nil {
			// The entry is ours, the line is the user's: locate the
			// problem in the line's resource.
			what = fmt.Sprintf("%s line %d", u.file.rel, u.lineNos[i])
			reason = strings.ReplaceAll(reason, fmt.Sprintf("Bundle.entry[%d].resource", i), u.types[i])
		}
		l.fail(u.file, what, fmt.Sprintf("%d: %s", s.status, reason))
	}
	l.resources.Add(int64(ok))
	switch {
	case u.lineNos != nil:
		l.record(l.ckpt.linesDone(u.file, okLines))
	case ok == len(statuses):
		l.record(l.ckpt.done(u.file))
	}
}

// finished counts f as complete once all its units are.
func (l *loader) finished(f *inputFile) {
	if f.finish() && !f.failed.Load() {
		l.complete.Add(1)
		if f.ndjson {
			l.record(l.ckpt.done(f))
		}
	}
}

// sendRetrying sends a Bundle, again after a pause when the server says
// it did not process it (409, 429, 503), up to three times.
func (l *loader) sendRetrying(ctx context.Context, bundle []byte) ([]entryStatus, error) {
	for attempt := 1; ; attempt++ {
		st, err := l.sink.send(ctx, bundle)
		var be *bundleError
		if err == nil || !errors.As(err, &be) || !be.retryable() || attempt == 3 {
			return st, err
		}
		t := time.NewTimer(time.Duration(attempt) * time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

func (l *loader) record(err error) {
	if err != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.failures = append(l.failures, failure{l.opts.Checkpoint, "recording progress: " + err.Error()})
	}
}

// fail records a failure in file f.
func (l *loader) fail(f *inputFile, what, reason string) {
	if f.failed.CompareAndSwap(false, true) {
		l.failed.Add(1)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures = append(l.failures, failure{what, reason})
}

// summary prints what happened and returns an error when anything failed
// or the load was interrupted.
func (l *loader) summary(ctx context.Context, elapsed time.Duration) error {
	n := l.resources.Load()
	complete, failed := int(l.complete.Load()), int(l.failed.Load())
	fmt.Fprintf(l.out, "telefhir load: loaded %d resources in %s (%.0f resources/s); files: %d complete",
		n, elapsed.Round(100*time.Millisecond), float64(n)/max(elapsed.Seconds(), 1e-3), complete+l.skipped)
	if l.skipped > 0 {
		fmt.Fprintf(l.out, " (%d before this run)", l.skipped)
	}
	fmt.Fprintf(l.out, ", %d with failures", failed)
	if rest := l.files - complete - l.skipped - failed; rest > 0 {
		fmt.Fprintf(l.out, ", %d not finished", rest)
	}
	fmt.Fprintln(l.out)
	l.mu.Lock()
	fs := slices.Clone(l.failures)
	l.mu.Unlock()
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].what < fs[j].what })
	const shown = 50
	for i, f := range fs {
		if i == shown {
			fmt.Fprintf(l.out, "  ... and %d more\n", len(fs)-shown)
			break
		}
		fmt.Fprintf(l.out, "  failed: %s: %s\n", f.what, f.reason)
	}
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted; run the same command again to load the rest")
	case len(fs) > 0:
		return fmt.Errorf("%d failures in %d files; what loaded is recorded in %s, and a rerun sends only the rest", len(fs), failed, l.opts.Checkpoint)
	}
	return nil
}

// showProgress draws the progress bar (a terminal) or prints progress lines
// until the returned function is called.
func (l *loader) showProgress(start time.Time) (stop func()) {
	every := l.opts.Progress
	if l.tty {
		every = 200 * time.Millisecond
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				if l.tty {
					fmt.Fprintf(l.progress, "\r%s\x1b[K\n", l.progressLine(l.now().Sub(start)))
				}
				return
			case now := <-t.C:
				if l.tty {
					fmt.Fprintf(l.progress, "\r%s\x1b[K", l.progressLine(now.Sub(start)))
				} else {
					fmt.Fprintf(l.progress, "telefhir load: %s\n", l.progressLine(now.Sub(start)))
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

func (l *loader) progressLine(elapsed time.Duration) string {
	done := l.doneBytes.Load()
	frac := 1.0
	if l.totalBytes > 0 {
		frac = min(1, float64(done)/float64(l.totalBytes))
	}
	n := l.resources.Load()
	s := fmt.Sprintf("%3.0f%% of %s, %d resources (%.0f/s), %d files with failures, %s",
		100*frac, byteCount(l.totalBytes), n, float64(n)/max(elapsed.Seconds(), 1e-3), l.failed.Load(), elapsed.Round(time.Second))
	if !l.tty {
		return s
	}
	const width = 30
	filled := int(frac * width)
	return "[" + strings.Repeat("=", filled) + strings.Repeat(" ", width-filled) + "] " + s
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func byteCount(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
