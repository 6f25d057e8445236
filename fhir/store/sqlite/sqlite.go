package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/telefhir/telefhir/fhir/store"
	"github.com/telefhir/telefhir/fhir/store/sqlq"
)

// busyTimeout is how long a statement waits for a lock held by another
// process before failing with SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// Store is the SQLite store. It is safe for concurrent use.
type Store struct {
	w *sql.DB // exactly one connection; every write transaction runs here
	r *sql.DB // read-only connections

	ws stmtCache // prepared on w
	rs stmtCache // prepared on r

	drain sync.Mutex // held by DrainOutbox
}

var _ store.Store = (*Store)(nil)

// Open opens the database file at path, creating it and its parent
// directory when missing. It does not migrate; call Migrate.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	common := url.Values{
		"_busy_timeout": {strconv.FormatInt(busyTimeout.Milliseconds(), 10)},
		"_synchronous":  {"NORMAL"},
		"_foreign_keys": {"1"},
	}
	wq, rq := cloneValues(common), cloneValues(common)
	wq.Set("_journal_mode", "WAL")
	wq.Set("_txlock", "immediate")
	rq.Set("_query_only", "1")

	w, err := sql.Open("sqlite", dsn(abs, wq))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The writer connects first: it creates the file and switches it to WAL
	// before any reader opens it.
	if err := w.PingContext(ctx); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}

	r, err := sql.Open("sqlite", dsn(abs, rq))
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	if err := r.PingContext(ctx); err != nil {
		_ = w.Close()
		_ = r.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	return &Store{w: w, r: r, ws: stmtCache{db: w}, rs: stmtCache{db: r}}, nil
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// dsn builds a file: URI, so that any character in the path is escaped.
func dsn(abs string, q url.Values) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}).String()
}

// Close runs PRAGMA optimize and closes every connection.
func (s *Store) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = s.w.ExecContext(ctx, "PRAGMA optimize")
	return errors.Join(s.rs.close(), s.ws.close(), s.r.Close(), s.w.Close())
}

const (
	qCurrent = `SELECT v.version, v.last_updated, v.deleted, v.method, v.body
FROM resource r JOIN resource_version v ON v.seq = r.seq
WHERE r.res_type = $1 AND r.res_id = $2`

	qVRead = `SELECT last_updated, deleted, method, body
FROM resource_version
WHERE res_type = $1 AND res_id = $2 AND version = $3`

	// qInsertVersion appends the version only when it is exactly one more
	// than the current one (1 for a new resource); no row means conflict.
	qInsertVersion = `INSERT INTO resource_version (res_type, res_id, version, last_updated, deleted, method, body)
SELECT $1, $2, $3, $4, $5, $6, $7
WHERE coalesce((SELECT version FROM resource WHERE res_type = $1 AND res_id = $2), 0) = $3 - 1
RETURNING seq`

	// qSetCurrent moves the current pointer; the resource keeps its rid.
	qSetCurrent = `INSERT INTO resource (res_type, res_id, version, seq, last_updated, deleted)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (res_type, res_id) DO UPDATE SET
	version = excluded.version, seq = excluded.seq,
	last_updated = excluded.last_updated, deleted = excluded.deleted
RETURNING rid`
)

// Read implements store.Store.
func (s *Store) Read(ctx context.Context, typ, id string) (store.Resource, error) {
	st, err := s.rs.get(ctx, qCurrent)
	if err != nil {
		return store.Resource{}, fmt.Errorf("sqlite: read %s: %w", typ, err)
	}
	r, err := scanCurrent(st.QueryRowContext(ctx, typ, id), typ, id)
	if err != nil {
		return store.Resource{}, fmt.Errorf("sqlite: read %s: %w", typ, err)
	}
	return r, nil
}

func scanCurrent(row *sql.Row, typ, id string) (store.Resource, error) {
	r := store.Resource{Type: typ, ID: id}
	var ms int64
	if err := row.Scan(&r.VersionID, &ms, &r.Deleted, &r.Method, &r.Body); err != nil {
		return store.Resource{}, translate(err)
	}
	r.LastUpdated = fromMillis(ms)
	return r, nil
}

// VRead implements store.Store.
func (s *Store) VRead(ctx context.Context, typ, id string, version int64) (store.Resource, error) {
	st, err := s.rs.get(ctx, qVRead)
	if err != nil {
		return store.Resource{}, fmt.Errorf("sqlite: vread %s: %w", typ, err)
	}
	return scanVersion(st.QueryRowContext(ctx, typ, id, version), typ, id, version)
}

func scanVersion(row *sql.Row, typ, id string, version int64) (store.Resource, error) {
	r := store.Resource{Type: typ, ID: id, VersionID: version}
	var ms int64
	if err := row.Scan(&ms, &r.Deleted, &r.Method, &r.Body); err != nil {
		return store.Resource{}, fmt.Errorf("sqlite: vread %s version %d: %w", typ, version, translate(err))
	}
	r.LastUpdated = fromMillis(ms)
	return r, nil
}

// History implements store.Store.
func (s *Store) History(ctx context.Context, q store.HistoryQuery) (store.HistoryPage, error) {
	query, args, err := sqlq.History(sqlq.SQLite, q)
	if err != nil {
		return store.HistoryPage{}, fmt.Errorf("sqlite: history: %w", err)
	}
	st, err := s.rs.get(ctx, query)
	if err != nil {
		return store.HistoryPage{}, fmt.Errorf("sqlite: history: %w", err)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return store.HistoryPage{}, fmt.Errorf("sqlite: history: %w", translate(err))
	}
	return scanHistory(rows, q.Count)
}

func scanHistory(rows *sql.Rows, count int) (store.HistoryPage, error) {
	defer rows.Close()
	entries := make([]store.HistoryEntry, 0, min(count+1, 128))
	for rows.Next() {
		var e store.HistoryEntry
		var ms int64
		if err := rows.Scan(&e.Seq, &e.Type, &e.ID, &e.VersionID, &ms, &e.Deleted, &e.Method, &e.Body); err != nil {
			return store.HistoryPage{}, fmt.Errorf("sqlite: history: %w", translate(err))
		}
		e.LastUpdated = fromMillis(ms)
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return store.HistoryPage{}, fmt.Errorf("sqlite: history: %w", translate(err))
	}
	return sqlq.HistoryPage(entries, count), nil
}

// Write implements store.Store. Writes are serialised on one connection, so
// a conflict only comes from a callback that reports one; fn must not call
// Write itself (it would wait for the connection it holds). Reads through
// the Store from inside fn are fine and see the last commit, not fn's writes.
func (s *Store) Write(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	return store.RetryConflicts(ctx, func() error { return s.writeOnce(ctx, fn) })
}

func (s *Store) writeOnce(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	// Prepare before BEGIN: preparing on the writer pool needs its only
	// connection.
	stmts, err := s.ws.getAll(ctx, qCurrent, qInsertVersion, qSetCurrent, qOutboxInsert, qVRead)
	if err != nil {
		return fmt.Errorf("sqlite: write: %w", err)
	}
	idxDelete, err := s.ws.getAll(ctx, qIndexDelete...)
	if err != nil {
		return fmt.Errorf("sqlite: write: %w", err)
	}
	idxInsert, err := s.ws.getAll(ctx, qIndexInsert...)
	if err != nil {
		return fmt.Errorf("sqlite: write: %w", err)
	}
	sqlTx, err := s.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", translate(err))
	}
	done := false
	defer func() {
		if !done { // error, or a panic in fn
			_ = sqlTx.Rollback()
		}
	}()
	t := &tx{
		tx: sqlTx, current: stmts[0], insertVersion: stmts[1], setCurrent: stmts[2], outbox: stmts[3], vread: stmts[4],
		indexDelete: idxDelete, indexInsert: idxInsert,
	}
	if err := fn(ctx, t); err != nil {
		return err
	}
	if t.err != nil {
		return t.err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", translate(err))
	}
	done = true
	return nil
}

// tx is the store.Tx of one write transaction. Later additions to the same
// transaction (search index rows, outbox events) become methods here.
type tx struct {
	tx *sql.Tx
	// err dooms the transaction: set by the first failed call, it is
	// returned by every later call and by Write instead of committing.
	err error

	current, insertVersion, setCurrent, outbox, vread *sql.Stmt
	// indexDelete and indexInsert hold one statement per sqlq.Tables entry.
	indexDelete, indexInsert []*sql.Stmt
}

// fail records err as the transaction's failure and returns it.
func (t *tx) fail(err error) error {
	if t.err == nil {
		t.err = err
	}
	return err
}

// Current implements store.Tx. The writer holds the database's write lock
// for the whole transaction, so the row is already locked.
func (t *tx) Current(ctx context.Context, typ, id string) (store.Resource, error) {
	if t.err != nil {
		return store.Resource{}, t.err
	}
	r, err := scanCurrent(t.tx.StmtContext(ctx, t.current).QueryRowContext(ctx, typ, id), typ, id)
	if err != nil {
		err = fmt.Errorf("sqlite: current %s: %w", typ, err)
		if errors.Is(err, store.ErrNotFound) {
			return store.Resource{}, err
		}
		return store.Resource{}, t.fail(err)
	}
	return r, nil
}

// Read implements store.Tx. In SQLite it is Current: the transaction
// holds the database's write lock either way.
func (t *tx) Read(ctx context.Context, typ, id string) (store.Resource, error) {
	return t.Current(ctx, typ, id)
}

// VRead implements store.Tx.
func (t *tx) VRead(ctx context.Context, typ, id string, version int64) (store.Resource, error) {
	if t.err != nil {
		return store.Resource{}, t.err
	}
	r, err := scanVersion(t.tx.StmtContext(ctx, t.vread).QueryRowContext(ctx, typ, id, version), typ, id, version)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Resource{}, t.fail(err)
	}
	return r, err
}

// History implements store.Tx.
func (t *tx) History(ctx context.Context, q store.HistoryQuery) (store.HistoryPage, error) {
	if t.err != nil {
		return store.HistoryPage{}, t.err
	}
	query, args, err := sqlq.History(sqlq.SQLite, q)
	if err != nil {
		return store.HistoryPage{}, t.fail(fmt.Errorf("sqlite: history: %w", err))
	}
	rows, err := t.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return store.HistoryPage{}, t.fail(fmt.Errorf("sqlite: history: %w", translate(err)))
	}
	p, err := scanHistory(rows, q.Count)
	if err != nil {
		return store.HistoryPage{}, t.fail(err)
	}
	return p, nil
}

// Put implements store.Tx.
func (t *tx) Put(ctx context.Context, r store.Resource) error {
	if t.err != nil {
		return t.err
	}
	if err := checkPut(r); err != nil {
		return t.fail(fmt.Errorf("sqlite: put %s: %w", r.Type, err))
	}
	ms := r.LastUpdated.UnixMilli()
	var body any
	if r.Body != nil {
		body = r.Body
	}
	var seq int64
	err := t.tx.StmtContext(ctx, t.insertVersion).
		QueryRowContext(ctx, r.Type, r.ID, r.VersionID, ms, r.Deleted, r.Method, body).
		Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return t.fail(fmt.Errorf("sqlite: put %s version %d: not the next version: %w", r.Type, r.VersionID, store.ErrConflict))
	}
	if err != nil {
		return t.fail(fmt.Errorf("sqlite: put %s version %d: %w", r.Type, r.VersionID, translate(err)))
	}
	var rid int64
	err = t.tx.StmtContext(ctx, t.setCurrent).QueryRowContext(ctx, r.Type, r.ID, r.VersionID, seq, ms, r.Deleted).Scan(&rid)
	if err != nil {
		return t.fail(fmt.Errorf("sqlite: put %s version %d: %w", r.Type, r.VersionID, translate(err)))
	}
	if _, err := t.tx.StmtContext(ctx, t.outbox).ExecContext(ctx, seq); err != nil {
		return t.fail(fmt.Errorf("sqlite: put %s version %d: outbox: %w", r.Type, r.VersionID, translate(err)))
	}
	if err := t.putIndex(ctx, rid, r, r.VersionID > 1); err != nil {
		return t.fail(fmt.Errorf("sqlite: put %s version %d: index: %w", r.Type, r.VersionID, translate(err)))
	}
	return nil
}

// putIndex replaces the index rows of the resource with key rid by those
// of r (none for a delete marker), deleting the old ones first when
// replace (a version 1 has none).
func (t *tx) putIndex(ctx context.Context, rid int64, r store.Resource, replace bool) error {
	if replace {
		for _, st := range t.indexDelete {
			if _, err := t.tx.StmtContext(ctx, st).ExecContext(ctx, rid); err != nil {
				return err
			}
		}
	}
	if r.Deleted || r.Index.Len() == 0 {
		return nil
	}
	for i, tbl := range sqlq.Tables {
		rows := tbl.Rows(r.Index)
		if len(rows) == 0 {
			continue
		}
		st := t.tx.StmtContext(ctx, t.indexInsert[i])
		args := make([]any, 2+len(tbl.Columns))
		args[0], args[1] = rid, r.Type
		for _, row := range rows {
			copy(args[2:], row)
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return err
			}
		}
	}
	return nil
}

// qIndexDelete and qIndexInsert are the statements of putIndex, one per
// sqlq.Tables entry.
var qIndexDelete, qIndexInsert = indexSQL()

func indexSQL() (del, ins []string) {
	for _, t := range sqlq.Tables {
		del = append(del, "DELETE FROM "+t.Name+" WHERE rid = ?1")
		cols := []string{"rid", "res_type"}
		ps := []string{"?1", "?2"}
		for i, c := range t.Columns {
			cols = append(cols, c.Name)
			ps = append(ps, "?"+strconv.Itoa(i+3))
		}
		ins = append(ins, "INSERT INTO "+t.Name+" ("+strings.Join(cols, ", ")+") VALUES ("+strings.Join(ps, ", ")+")")
	}
	return del, ins
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

// translate maps driver errors to the store's errors, keeping the cause.
func translate(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		}
	}
	return err
}

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// stmtCache holds statements prepared once per pool and reused on every
// connection (database/sql re-prepares per connection as needed).
type stmtCache struct {
	db *sql.DB
	mu sync.RWMutex
	m  map[string]*sql.Stmt
}

func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.RLock()
	st := c.m[query]
	c.mu.RUnlock()
	if st != nil {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, translate(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev := c.m[query]; prev != nil {
		_ = st.Close()
		return prev, nil
	}
	if c.m == nil {
		c.m = make(map[string]*sql.Stmt)
	}
	c.m[query] = st
	return st, nil
}

func (c *stmtCache) getAll(ctx context.Context, queries ...string) ([]*sql.Stmt, error) {
	out := make([]*sql.Stmt, len(queries))
	for i, q := range queries {
		st, err := c.get(ctx, q)
		if err != nil {
			return nil, err
		}
		out[i] = st
	}
	return out, nil
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, st := range c.m {
		errs = append(errs, st.Close())
	}
	c.m = nil
	return errors.Join(errs...)
}
