package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/fhir/store/sqlq"
)

// DefaultMaxConns is the pool size when the URL does not set pool_max_conns.
const DefaultMaxConns = 16

// Store is the Postgres store. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string; pgxpool options such as pool_max_conns apply) and
// checks that it answers. It does not migrate; call Migrate. Without
// pool_max_conns in the URL the pool holds DefaultMaxConns connections.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// Write latency is dominated by the WAL flush; more connections let
		// concurrent commits share flushes (group commit). pgx's default
		// (max(4, cores)) caps a 2-core node far below its disk's rate.
		cfg.MaxConns = DefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	return &Store{pool: pool}, nil
}

// Close closes every connection in the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

const (
	qRead = `SELECT v.version, v.last_updated, v.deleted, v.method, v.body
FROM resource r JOIN resource_version v ON v.seq = r.seq
WHERE r.res_type = $1 AND r.res_id = $2`

	// qCurrent locks the current row. When it had to wait for another
	// writer, Postgres re-checks the locked row (EvalPlanQual) but keeps the
	// resource_version row it joined before the wait, so the join no longer
	// matches: the LEFT JOIN then yields NULLs and Current fetches the
	// version by the new seq in a second statement, with a fresh snapshot.
	qCurrent = `SELECT r.seq, coalesce(v.seq, 0), coalesce(v.version, 0), coalesce(v.last_updated, 'epoch'),
	coalesce(v.deleted, false), coalesce(v.method, ''), v.body
FROM resource r LEFT JOIN resource_version v ON v.seq = r.seq
WHERE r.res_type = $1 AND r.res_id = $2
FOR UPDATE OF r`

	qVersionBySeq = `SELECT version, last_updated, deleted, method, body FROM resource_version WHERE seq = $1`

	qVRead = `SELECT last_updated, deleted, method, body
FROM resource_version
WHERE res_type = $1 AND res_id = $2 AND version = $3`
)

// qPut writes one version in one statement (one round trip, one plan):
//
//   - v appends the version only when it is exactly one more than the
//     current one (1 for a new resource); racing writers of the same
//     version collide on resource_version_key.
//   - o queues the version in the outbox (the change event).
//   - c moves the current pointer, keeping the resource's rid. No row back
//     means the version was not the next one, and nothing below runs.
//   - d0..d6 delete the resource's index rows and i0..i6 insert the new
//     ones from arrays, one INSERT per table. All parts of one statement
//     see the same snapshot, so the deletes do not see the inserts.
//
// Arguments: $1..$7 the version, then one array per index column, table by
// table in sqlq.Tables order.
var qPut, putArgs = putSQL()

func putSQL() (string, int) {
	var sb strings.Builder
	sb.WriteString(`WITH v AS (
	INSERT INTO resource_version (res_type, res_id, version, last_updated, deleted, method, body)
	SELECT $1::text, $2::text, $3::bigint, $4::timestamptz, $5::boolean, $6::text, $7::bytea
	WHERE coalesce((SELECT version FROM resource WHERE res_type = $1 AND res_id = $2), 0) = $3 - 1
	RETURNING seq
), c AS (
	INSERT INTO resource AS r (res_type, res_id, version, seq, last_updated, deleted)
	SELECT $1, $2, $3, v.seq, $4, $5 FROM v
	ON CONFLICT (res_type, res_id) DO UPDATE SET
		version = excluded.version, seq = excluded.seq,
		last_updated = excluded.last_updated, deleted = excluded.deleted
	WHERE r.version = excluded.version - 1
	RETURNING r.rid, r.res_type
), o AS (
	INSERT INTO outbox (seq) SELECT seq FROM v
)`)
	n := indexCTEs(&sb, 7)
	sb.WriteString("\nSELECT rid FROM c")
	return sb.String(), n
}

// indexCTEs appends to sb the CTEs that replace the index rows of the
// resource in CTE c (columns rid, res_type) by rows from array arguments
// numbered after last, and returns the last argument number used.
func indexCTEs(sb *strings.Builder, last int) int {
	for i, t := range sqlq.Tables {
		fmt.Fprintf(sb, ",\nd%d AS (DELETE FROM %s x USING c WHERE x.rid = c.rid)", i, t.Name)
	}
	n := last
	for i, t := range sqlq.Tables {
		cols := make([]string, len(t.Columns))
		arrays := make([]string, len(t.Columns))
		for j, c := range t.Columns {
			n++
			cols[j] = c.Name
			arrays[j] = "$" + strconv.Itoa(n) + "::" + pgArrayType[c.Type]
		}
		fmt.Fprintf(sb, ",\ni%d AS (INSERT INTO %s (rid, res_type, %s)\n\tSELECT c.rid, c.res_type, u.* FROM c, unnest(%s) AS u)",
			i, t.Name, strings.Join(cols, ", "), strings.Join(arrays, ", "))
	}
	return n
}

// qPutMany writes several versions, of distinct resources, in one
// statement: qPut over arrays. input numbers the versions (n, from 1);
// each version row is inserted only when it is the next of its resource,
// in the order of n (so history keeps the order of the Puts), and queued
// in the outbox; the index rows carry the n of their version. The result is the number of versions
// written: fewer than given means a conflict.
//
// Arguments: $1..$7 the version columns as arrays, then per index table
// in sqlq.Tables order the array of n and one array per column.
var qPutMany = putManySQL()

func putManySQL() string {
	var sb strings.Builder
	sb.WriteString(`WITH input AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[], $5::boolean[], $6::text[], $7::bytea[])
		WITH ORDINALITY AS u(res_type, res_id, version, last_updated, deleted, method, body, n)
), v AS (
	INSERT INTO resource_version (res_type, res_id, version, last_updated, deleted, method, body)
	SELECT i.res_type, i.res_id, i.version, i.last_updated, i.deleted, i.method, i.body FROM input i
	WHERE coalesce((SELECT r.version FROM resource r WHERE r.res_type = i.res_type AND r.res_id = i.res_id), 0) = i.version - 1
	ORDER BY i.n
	RETURNING seq, res_type, res_id, version, last_updated, deleted
), c AS (
	INSERT INTO resource AS r (res_type, res_id, version, seq, last_updated, deleted)
	SELECT res_type, res_id, version, seq, last_updated, deleted FROM v
	ON CONFLICT (res_type, res_id) DO UPDATE SET
		version = excluded.version, seq = excluded.seq,
		last_updated = excluded.last_updated, deleted = excluded.deleted
	WHERE r.version = excluded.version - 1
	RETURNING r.rid, r.res_type, r.res_id
), o AS (
	INSERT INTO outbox (seq) SELECT seq FROM v ORDER BY seq
), k AS (
	SELECT c.rid, c.res_type, i.n FROM c JOIN input i ON i.res_type = c.res_type AND i.res_id = c.res_id
)`)
	for i, t := range sqlq.Tables {
		fmt.Fprintf(&sb, ",\nd%d AS (DELETE FROM %s x USING c WHERE x.rid = c.rid)", i, t.Name)
	}
	n := 7
	for i, t := range sqlq.Tables {
		n++
		cols := make([]string, len(t.Columns))
		arrays := []string{"$" + strconv.Itoa(n) + "::bigint[]"}
		for j, c := range t.Columns {
			n++
			cols[j] = c.Name
			arrays = append(arrays, "$"+strconv.Itoa(n)+"::"+pgArrayType[c.Type])
		}
		fmt.Fprintf(&sb, ",\ni%d AS (INSERT INTO %s (rid, res_type, %s)\n\tSELECT k.rid, k.res_type, u.%s FROM unnest(%s) AS u(n, %s) JOIN k ON k.n = u.n)",
			i, t.Name, strings.Join(cols, ", "), strings.Join(cols, ", u."), strings.Join(arrays, ", "), strings.Join(cols, ", "))
	}
	sb.WriteString("\nSELECT count(*) FROM c")
	return sb.String()
}

var pgArrayType = map[sqlq.ColType]string{sqlq.Text: "text[]", sqlq.Int: "bigint[]", sqlq.Float: "float8[]"}

// querier is what reads run on: the pool, or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Read implements store.Store.
func (s *Store) Read(ctx context.Context, typ, id string) (store.Resource, error) {
	return read(ctx, s.pool, typ, id)
}

// VRead implements store.Store.
func (s *Store) VRead(ctx context.Context, typ, id string, version int64) (store.Resource, error) {
	return vread(ctx, s.pool, typ, id, version)
}

// History implements store.Store.
func (s *Store) History(ctx context.Context, q store.HistoryQuery) (store.HistoryPage, error) {
	return history(ctx, s.pool, q)
}

func read(ctx context.Context, db querier, typ, id string) (store.Resource, error) {
	r := store.Resource{Type: typ, ID: id}
	err := db.QueryRow(ctx, qRead, typ, id).Scan(&r.VersionID, &r.LastUpdated, &r.Deleted, &r.Method, &r.Body)
	if err != nil {
		return store.Resource{}, fmt.Errorf("postgres: read %s: %w", typ, translate(err))
	}
	r.LastUpdated = r.LastUpdated.UTC()
	return r, nil
}

func vread(ctx context.Context, db querier, typ, id string, version int64) (store.Resource, error) {
	r := store.Resource{Type: typ, ID: id, VersionID: version}
	err := db.QueryRow(ctx, qVRead, typ, id, version).Scan(&r.LastUpdated, &r.Deleted, &r.Method, &r.Body)
	if err != nil {
		return store.Resource{}, fmt.Errorf("postgres: vread %s version %d: %w", typ, version, translate(err))
	}
	r.LastUpdated = r.LastUpdated.UTC()
	return r, nil
}

func history(ctx context.Context, db querier, q store.HistoryQuery) (store.HistoryPage, error) {
	query, args, err := sqlq.History(sqlq.Postgres, q)
	if err != nil {
		return store.HistoryPage{}, fmt.Errorf("postgres: history: %w", err)
	}
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return store.HistoryPage{}, fmt.Errorf("postgres: history: %w", translate(err))
	}
	defer rows.Close()
	entries := make([]store.HistoryEntry, 0, min(q.Count+1, 128))
	for rows.Next() {
		var e store.HistoryEntry
		if err := rows.Scan(&e.Seq, &e.Type, &e.ID, &e.VersionID, &e.LastUpdated, &e.Deleted, &e.Method, &e.Body); err != nil {
			return store.HistoryPage{}, fmt.Errorf("postgres: history: %w", translate(err))
		}
		e.LastUpdated = e.LastUpdated.UTC()
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return store.HistoryPage{}, fmt.Errorf("postgres: history: %w", translate(err))
	}
	return sqlq.HistoryPage(entries, q.Count), nil
}

// Write implements store.Store.
func (s *Store) Write(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	return store.RetryConflicts(ctx, func() error { return s.writeOnce(ctx, fn) })
}

func (s *Store) writeOnce(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	ptx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", translate(err))
	}
	done := false
	defer func() {
		if !done { // error, or a panic in fn
			// Roll back even when ctx is done, so the connection goes back
			// to the pool clean.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = ptx.Rollback(rctx)
		}
	}()
	t := &tx{tx: ptx}
	if err := fn(ctx, t); err != nil {
		return err
	}
	if err := t.flush(ctx); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	done = true
	if err := ptx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", translate(err))
	}
	return nil
}

// tx is the store.Tx of one write transaction. Later additions to the same
// transaction (search index rows, outbox events) become methods here.
type tx struct {
	tx pgx.Tx
	// err dooms the transaction: set by the first failed call (after which
	// Postgres rejects further statements anyway), it is returned by every
	// later call and by Write instead of committing.
	err error
	// pending are Puts not yet sent: they go to the database together,
	// in one statement, before the transaction next reads or commits.
	pending     []store.Resource
	pendingKeys map[[2]string]bool
}

// maxPending is the most Puts sent in one statement.
const maxPending = 1000

func (t *tx) fail(err error) error {
	if t.err == nil {
		t.err = err
	}
	return err
}

// Current implements store.Tx.
func (t *tx) Current(ctx context.Context, typ, id string) (store.Resource, error) {
	if err := t.flush(ctx); err != nil {
		return store.Resource{}, err
	}
	r := store.Resource{Type: typ, ID: id}
	var seq, vseq int64
	err := t.tx.QueryRow(ctx, qCurrent, typ, id).
		Scan(&seq, &vseq, &r.VersionID, &r.LastUpdated, &r.Deleted, &r.Method, &r.Body)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Resource{}, fmt.Errorf("postgres: current %s: %w", typ, translate(err))
	}
	if err == nil && vseq != seq {
		// Locked after waiting for another writer: see qCurrent.
		err = t.tx.QueryRow(ctx, qVersionBySeq, seq).Scan(&r.VersionID, &r.LastUpdated, &r.Deleted, &r.Method, &r.Body)
	}
	if err != nil {
		return store.Resource{}, t.fail(fmt.Errorf("postgres: current %s: %w", typ, translate(err)))
	}
	r.LastUpdated = r.LastUpdated.UTC()
	return r, nil
}

// Read implements store.Tx: the current version as this transaction
// sees it, without locking it.
func (t *tx) Read(ctx context.Context, typ, id string) (store.Resource, error) {
	if err := t.flush(ctx); err != nil {
		return store.Resource{}, err
	}
	return t.notFoundOrFail(read(ctx, t.tx, typ, id))
}

// VRead implements store.Tx.
func (t *tx) VRead(ctx context.Context, typ, id string, version int64) (store.Resource, error) {
	if err := t.flush(ctx); err != nil {
		return store.Resource{}, err
	}
	return t.notFoundOrFail(vread(ctx, t.tx, typ, id, version))
}

// History implements store.Tx.
func (t *tx) History(ctx context.Context, q store.HistoryQuery) (store.HistoryPage, error) {
	if err := t.flush(ctx); err != nil {
		return store.HistoryPage{}, err
	}
	p, err := history(ctx, t.tx, q)
	if err != nil {
		return store.HistoryPage{}, t.fail(err)
	}
	return p, nil
}

// notFoundOrFail passes a read's result through, dooming the transaction
// on any error but ErrNotFound (a query that found no row leaves the
// transaction usable).
func (t *tx) notFoundOrFail(r store.Resource, err error) (store.Resource, error) {
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Resource{}, t.fail(err)
	}
	return r, err
}

// Put implements store.Tx. The version is checked at once and written
// with the other pending ones before the transaction next reads, searches
// or commits (or when a second version of the same resource comes); a
// conflict is then returned by that call, and by Write.
func (t *tx) Put(ctx context.Context, r store.Resource) error {
	if t.err != nil {
		return t.err
	}
	if err := checkPut(r); err != nil {
		return t.fail(fmt.Errorf("postgres: put %s: %w", r.Type, err))
	}
	k := [2]string{r.Type, r.ID}
	if t.pendingKeys[k] {
		if err := t.flush(ctx); err != nil {
			return err
		}
	}
	if t.pendingKeys == nil {
		t.pendingKeys = make(map[[2]string]bool)
	}
	t.pending = append(t.pending, r)
	t.pendingKeys[k] = true
	if len(t.pending) == maxPending {
		return t.flush(ctx)
	}
	return nil
}

// flush writes the pending Puts: one with qPut, several with qPutMany.
func (t *tx) flush(ctx context.Context) error {
	if t.err != nil {
		return t.err
	}
	var err error
	switch len(t.pending) {
	case 0:
		return nil
	case 1:
		err = t.putOne(ctx, t.pending[0])
	default:
		err = t.putMany(ctx, t.pending)
	}
	clear(t.pending)
	t.pending = t.pending[:0]
	clear(t.pendingKeys)
	if err != nil {
		return t.fail(err)
	}
	return nil
}

func (t *tx) putOne(ctx context.Context, r store.Resource) error {
	var body any
	if r.Body != nil {
		body = r.Body
	}
	args := make([]any, 0, putArgs)
	args = append(args, r.Type, r.ID, r.VersionID, r.LastUpdated.Truncate(time.Millisecond), r.Deleted, r.Method, body)
	idx := r.Index
	if r.Deleted {
		idx = nil
	}
	for _, tbl := range sqlq.Tables {
		args = append(args, tbl.Arrays(idx)...)
	}
	var rid int64
	err := t.tx.QueryRow(ctx, qPut, args...).Scan(&rid)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: put %s version %d: not the next version: %w", r.Type, r.VersionID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: put %s version %d: %w", r.Type, r.VersionID, translate(err))
	}
	return nil
}

func (t *tx) putMany(ctx context.Context, rs []store.Resource) error {
	n := len(rs)
	types, ids, methods := make([]string, n), make([]string, n), make([]string, n)
	versions, times, deleted, bodies := make([]int64, n), make([]time.Time, n), make([]bool, n), make([][]byte, n)
	ords := make([][]int64, len(sqlq.Tables))
	cols := make([][]any, len(sqlq.Tables))
	for i, r := range rs {
		types[i], ids[i], versions[i], methods[i] = r.Type, r.ID, r.VersionID, r.Method
		times[i], deleted[i], bodies[i] = r.LastUpdated.Truncate(time.Millisecond), r.Deleted, r.Body
		if r.Deleted {
			continue
		}
		for j, tbl := range sqlq.Tables {
			before := 0
			if cols[j] != nil {
				before = arrayLen(cols[j][0])
			}
			cols[j] = tbl.AppendArrays(cols[j], r.Index)
			for range arrayLen(cols[j][0]) - before {
				ords[j] = append(ords[j], int64(i+1))
			}
		}
	}
	args := make([]any, 0, putArgs+len(sqlq.Tables))
	args = append(args, types, ids, versions, times, deleted, methods, bodies)
	for j, tbl := range sqlq.Tables {
		if cols[j] == nil {
			cols[j] = tbl.Arrays(nil)
		}
		if ords[j] == nil {
			ords[j] = []int64{}
		}
		args = append(args, ords[j])
		args = append(args, cols[j]...)
	}
	var written int
	if err := t.tx.QueryRow(ctx, qPutMany, args...).Scan(&written); err != nil {
		return fmt.Errorf("postgres: put %d versions: %w", n, translate(err))
	}
	if written != n {
		return fmt.Errorf("postgres: put %d versions: %d were not the next version: %w", n, n-written, store.ErrConflict)
	}
	return nil
}

// arrayLen is the length of a column array of sqlq.Table.Arrays.
func arrayLen(a any) int {
	switch a := a.(type) {
	case []string:
		return len(a)
	case []int64:
		return len(a)
	case []float64:
		return len(a)
	}
	return 0
}

func checkPut(r store.Resource) error {
	switch {
	case r.Type == "" || r.ID == "":
		return errors.New("type and id are required")
	case r.LastUpdated.IsZero():
		return errors.New("LastUpdated is required")
	case r.Method == "":
		return errors.New("method is required")
	case r.Deleted && r.Body != nil:
		return errors.New("a delete marker has no body")
	case !r.Deleted && len(r.Body) == 0:
		return errors.New("body is required")
	}
	return nil
}

// SQLSTATE codes that mean a concurrent writer won.
const (
	uniqueViolation      = "23505"
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
)

// translate maps driver errors to the store's errors, keeping the cause.
func translate(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case uniqueViolation, serializationFailure, deadlockDetected:
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		}
	}
	return err
}
