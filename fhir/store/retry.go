package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// MaxWriteAttempts bounds how often a store's Write runs its callback
// when the database reports ErrConflict.
const MaxWriteAttempts = 10

// RetryConflicts runs once until it succeeds, fails with an error that is
// not ErrConflict, or has run MaxWriteAttempts times, pausing with
// jittered exponential backoff (up to 1 ms, 2 ms, 4 ms, ... capped at
// 32 ms) between attempts. The stores' Write methods use it.
func RetryConflicts(ctx context.Context, once func() error) error {
	for attempt := 1; ; attempt++ {
		err := once()
		if err == nil || !errors.Is(err, ErrConflict) || attempt == MaxWriteAttempts {
			return err
		}
		d := time.Millisecond << min(attempt-1, 5)
		t := time.NewTimer(d/2 + rand.N(d/2))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("write: %w (after %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}
