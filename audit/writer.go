package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/telefhir/telefhir/fhir/store"
)

// ErrClosed is returned for records submitted after Close.
var ErrClosed = errors.New("audit: trail closed")

// writer queues records durably with group commit: records submitted by
// concurrent requests while a flush runs go together in the next
// transaction, and each submitter waits until its records are committed.
// An idle writer adds no delay; a busy one amortises one commit over every
// request that arrived during the previous.
type writer struct {
	st      store.Store
	timeout time.Duration
	max     int
	// flushed is called after every successful flush (to wake the sealer).
	flushed func()

	mu      sync.Mutex
	pending []pendingRecord
	closed  bool
	kick    chan struct{}
	wg      sync.WaitGroup
}

type pendingRecord struct {
	line []byte // the record's queue line
	done chan<- error
}

func newWriter(st store.Store, flushers, max int, timeout time.Duration, flushed func()) *writer {
	w := &writer{st: st, timeout: timeout, max: max, flushed: flushed, kick: make(chan struct{}, 1)}
	for range flushers {
		w.wg.Go(w.run)
	}
	return w
}

// write queues the records' lines and waits until they are committed (or
// failed).
func (w *writer) write(recs ...[]byte) error {
	if len(recs) == 0 {
		return nil
	}
	done := make(chan error, len(recs))
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	for _, r := range recs {
		w.pending = append(w.pending, pendingRecord{r, done})
	}
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
	var errs []error
	for range recs {
		if err := <-done; err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// run flushes until the writer is closed and nothing is pending.
func (w *writer) run() {
	for range w.kick {
		for {
			batch := w.take()
			if len(batch) == 0 {
				break
			}
			w.flush(batch)
		}
		w.mu.Lock()
		closed := w.closed && len(w.pending) == 0
		w.mu.Unlock()
		if closed {
			// Wake the next flusher so that it sees the close too.
			select {
			case w.kick <- struct{}{}:
			default:
			}
			return
		}
	}
}

func (w *writer) take() []pendingRecord {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := min(len(w.pending), w.max)
	if n == 0 {
		return nil
	}
	batch := w.pending[:n:n]
	w.pending = w.pending[n:]
	if len(w.pending) == 0 {
		w.pending = nil
	} else {
		// More than one batch waits: let another flusher start on it.
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	return batch
}

// flush queues batch as one queue entry in one transaction.
func (w *writer) flush(batch []pendingRecord) {
	n := 0
	for _, p := range batch {
		n += len(p.line)
	}
	entry := make([]byte, 0, n)
	for _, p := range batch {
		entry = append(entry, p.line...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
	err := w.st.Write(ctx, func(ctx context.Context, tx store.Tx) error {
		atx, ok := tx.(store.AuditTx)
		if !ok {
			return fmt.Errorf("audit: %T keeps no audit queue", tx)
		}
		return atx.QueueAudit(ctx, entry)
	})
	cancel()
	if err != nil {
		err = fmt.Errorf("audit: queue %d records: %w", len(batch), err)
	}
	for _, p := range batch {
		p.done <- err
	}
	if err == nil && w.flushed != nil {
		w.flushed()
	}
}

// close flushes what is pending and stops the flushers.
func (w *writer) close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
	w.wg.Wait()
}
