package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/telefhir/telefhir/fhir/store"
)

const (
	qOutboxPending = `SELECT o.seq, v.res_type, v.res_id, v.version, v.last_updated, v.deleted, v.method, v.body
FROM outbox o JOIN resource_version v ON v.seq = o.seq
ORDER BY o.seq
LIMIT $1`
	qOutboxDelete = `DELETE FROM outbox WHERE seq IN (SELECT value FROM json_each($1))`
	qOutboxInsert = `INSERT INTO outbox (seq) VALUES ($1)`
)

// DrainOutbox implements store.Outbox. The batch is read on a reader
// connection and deleted in a short write transaction after publish, so
// writers are never held up by a slow or unreachable event stream. Drains
// in this process take turns (a mutex); the embedded store has one node.
func (s *Store) DrainOutbox(ctx context.Context, max int, publish func(ctx context.Context, cs []store.Change) error) (int, error) {
	if max <= 0 {
		return 0, fmt.Errorf("sqlite: drain outbox: max must be positive, got %d", max)
	}
	s.drain.Lock()
	defer s.drain.Unlock()
	cs, err := s.pendingChanges(ctx, max)
	if err != nil || len(cs) == 0 {
		return 0, err
	}
	if err := publish(ctx, cs); err != nil {
		return 0, err
	}
	seqs := make([]int64, len(cs))
	for i, c := range cs {
		seqs[i] = c.Seq
	}
	list, err := json.Marshal(seqs)
	if err != nil {
		return 0, fmt.Errorf("sqlite: drain outbox: %w", err)
	}
	st, err := s.ws.get(ctx, qOutboxDelete)
	if err != nil {
		return 0, fmt.Errorf("sqlite: drain outbox: %w", err)
	}
	if _, err := st.ExecContext(ctx, string(list)); err != nil {
		return 0, fmt.Errorf("sqlite: drain outbox: delete: %w", translate(err))
	}
	return len(cs), nil
}

func (s *Store) pendingChanges(ctx context.Context, max int) ([]store.Change, error) {
	st, err := s.rs.get(ctx, qOutboxPending)
	if err != nil {
		return nil, fmt.Errorf("sqlite: drain outbox: %w", err)
	}
	rows, err := st.QueryContext(ctx, max)
	if err != nil {
		return nil, fmt.Errorf("sqlite: drain outbox: %w", translate(err))
	}
	defer rows.Close()
	var cs []store.Change
	for rows.Next() {
		var c store.Change
		var ms int64
		if err := rows.Scan(&c.Seq, &c.Type, &c.ID, &c.VersionID, &ms, &c.Deleted, &c.Method, &c.Body); err != nil {
			return nil, fmt.Errorf("sqlite: drain outbox: %w", translate(err))
		}
		c.LastUpdated = fromMillis(ms)
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: drain outbox: %w", translate(err))
	}
	return cs, nil
}
