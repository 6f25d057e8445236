package audit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/telefhir/telefhir/audit"
	"github.com/telefhir/telefhir/fhir/store"
)

// TestGroupCommit: records submitted while a commit is under way share
// the next one, each caller returns only once its record is committed, and
// every record is sealed once.
func TestGroupCommit(t *testing.T) {
	e := newEnv(t, "sqlite")
	// Hold the embedded store's only writer, so that the trail's first
	// commit waits and the others pile up behind it.
	release := holdWriter(t, e.st)
	const n = 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	returned := 0
	for i := range n {
		wg.Go(func() {
			if err := e.trail.Record(t.Context(), audit.Event{Kind: audit.Login, Subject: fmt.Sprintf("u-%d", i)}); err != nil {
				t.Error(err)
			}
			mu.Lock()
			returned++
			mu.Unlock()
		})
	}
	// Nobody returns while nothing can be committed.
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) {
		mu.Lock()
		r := returned
		mu.Unlock()
		if r != 0 {
			t.Fatalf("%d Record calls returned before their records could be committed", r)
		}
		time.Sleep(10 * time.Millisecond)
	}
	release()
	wg.Wait()
	b, err := e.st.(store.AuditLog).AuditBacklog(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if b.Count < 1 || b.Count > n/4 {
		t.Errorf("%d records were queued in %d transactions; want them grouped", n, b.Count)
	}
	e.seal()
	subjects := map[string]bool{}
	for _, en := range e.chain(0) {
		subjects[en.ID] = true
	}
	if len(subjects) != n {
		t.Errorf("%d records sealed, want %d", len(subjects), n)
	}
}

// TestCloseFlushes: Close commits what is pending; a record is either
// acknowledged and durable, or refused with ErrClosed, never lost.
func TestCloseFlushes(t *testing.T) {
	e := newEnv(t, "sqlite")
	release := holdWriter(t, e.st)
	var wg sync.WaitGroup
	var acked, refused sync.Map
	for i := range 20 {
		wg.Go(func() {
			err := e.trail.Record(t.Context(), audit.Event{Kind: audit.Logout, Subject: fmt.Sprintf("u-%d", i)})
			switch {
			case err == nil:
				acked.Store(i, true)
			case errors.Is(err, audit.ErrClosed):
				refused.Store(i, true)
			default:
				t.Error(err)
			}
		})
	}
	closed := make(chan error)
	go func() { closed <- e.trail.Close() }()
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	n := 0
	acked.Range(func(any, any) bool { n++; return true })
	e.seal()
	if got := len(e.chain(0)); got != n {
		t.Fatalf("%d records acknowledged, %d durable", n, got)
	}
	if err := e.trail.Record(t.Context(), audit.Event{Kind: audit.Logout}); !errors.Is(err, audit.ErrClosed) {
		t.Fatalf("Record after Close = %v, want ErrClosed", err)
	}
}

// holdWriter holds the embedded store's single writer connection in a
// transaction until release is called.
func holdWriter(t *testing.T, st store.Store) (release func()) {
	t.Helper()
	hold, held := make(chan struct{}), make(chan struct{})
	go func() {
		_ = st.Write(context.Background(), func(context.Context, store.Tx) error {
			close(held)
			<-hold
			return nil
		})
	}()
	<-held
	return func() { close(hold) }
}
