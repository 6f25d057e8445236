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

// errLead tells a waiting submitter to commit the next group itself.
var errLead = errors.New("audit: lead the next group commit")

// writer queues records durably with group commit. The first submitter
// to find no commit under way commits the group itself, in its own
// goroutine; records submitted meanwhile wait, and when the commit is done
// the oldest of them leads the next one, which takes them all (up to max
// records). When the last group had several submitters the leader first
// waits a moment (wait) for more to join. Each submitter returns once its
// records are committed. An idle writer adds nothing but the commit; a
// busy one amortises one commit over the requests of a millisecond or
// so.
type writer struct {
	st      store.Store
	timeout time.Duration
	max     int
	// wait is how long a leader lets others join its group when the last
	// group had more than one submitter.
	wait time.Duration
	// flushed is called after every successful commit (to wake the
	// sealer).
	flushed func()

	mu      sync.Mutex
	pending []*pendingRecords
	leading bool // a submitter is committing a group
	// lastGroup is how many submitters the last group had.
	lastGroup int
	closed    bool
	idle      *sync.Cond // signalled when leading becomes false
}

// pendingRecords are the records of one submitter.
type pendingRecords struct {
	lines []byte // queue lines
	n     int
	done  chan error // nil or the commit's error; errLead to lead
}

func newWriter(st store.Store, max int, wait, timeout time.Duration, flushed func()) *writer {
	w := &writer{st: st, timeout: timeout, max: max, wait: wait, flushed: flushed}
	w.idle = sync.NewCond(&w.mu)
	return w
}

// write queues the records' lines and waits until they are committed (or
// failed).
func (w *writer) write(recs ...[]byte) error {
	if len(recs) == 0 {
		return nil
	}
	p := &pendingRecords{n: len(recs), done: make(chan error, 1)}
	for _, r := range recs {
		p.lines = append(p.lines, r...)
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	w.pending = append(w.pending, p)
	if w.leading {
		w.mu.Unlock()
		if err := <-p.done; !errors.Is(err, errLead) {
			return err
		}
		w.mu.Lock()
	}
	w.leading = true
	if w.wait > 0 && w.lastGroup > 1 {
		// Others are submitting too: let them join this group.
		w.mu.Unlock()
		timer := time.NewTimer(w.wait)
		<-timer.C
		w.mu.Lock()
	}
	batch := w.take()
	w.lastGroup = len(batch)
	w.mu.Unlock()

	w.flush(batch)

	w.mu.Lock()
	if len(w.pending) > 0 {
		w.pending[0].done <- errLead
	} else {
		w.leading = false
		w.idle.Broadcast()
	}
	w.mu.Unlock()
	return <-p.done
}

// take removes the oldest pending records, max records at most (at least
// one submitter's).
func (w *writer) take() []*pendingRecords {
	n, i := 0, 0
	for i < len(w.pending) && (i == 0 || n+w.pending[i].n <= w.max) {
		n += w.pending[i].n
		i++
	}
	batch := w.pending[:i:i]
	w.pending = w.pending[i:]
	if len(w.pending) == 0 {
		w.pending = nil
	}
	return batch
}

// flush queues batch as one queue entry in one transaction and tells each
// submitter the result.
func (w *writer) flush(batch []*pendingRecords) {
	size := 0
	for _, p := range batch {
		size += len(p.lines)
	}
	entry := make([]byte, 0, size)
	for _, p := range batch {
		entry = append(entry, p.lines...)
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
		err = fmt.Errorf("audit: queue a group of records: %w", err)
	}
	for _, p := range batch {
		p.done <- err
	}
	if err == nil && w.flushed != nil {
		w.flushed()
	}
}

// close refuses new records and waits until the pending ones are
// committed.
func (w *writer) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	for w.leading {
		w.idle.Wait()
	}
}
