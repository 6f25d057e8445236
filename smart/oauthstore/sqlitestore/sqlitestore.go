package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	fsqlite "github.com/telefhir/telefhir/fhir/store/sqlite"
	"github.com/telefhir/telefhir/smart/oauthstore"
)

// Store implements oauthstore.Store over an embedded SQLite store.
type Store struct {
	w, r *sql.DB

	// tokenStmt is the token lookup every FHIR request makes, prepared
	// once on the read pool.
	tokenOnce sync.Once
	tokenStmt *sql.Stmt
	tokenErr  error
}

var _ oauthstore.Store = (*Store)(nil)

// New returns the OAuth store in the same file as s, which must be migrated.
func New(s *fsqlite.Store) *Store {
	w, r := s.DBs()
	return &Store{w: w, r: r}
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func isUnique(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE)
}

// write runs fn in one write transaction (BEGIN IMMEDIATE on the writer).
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// CreateClient implements oauthstore.Store.
func (s *Store) CreateClient(ctx context.Context, c oauthstore.Client) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("sqlitestore: create client: %w", err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO oauth_client (id, data, created_at) VALUES (?1, ?2, ?3)`, c.ID, string(b), ms(c.CreatedAt))
	if isUnique(err) {
		return fmt.Errorf("sqlitestore: client %q: %w", c.ID, oauthstore.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("sqlitestore: create client: %w", err)
	}
	return nil
}

// SaveClient implements oauthstore.Store.
func (s *Store) SaveClient(ctx context.Context, c oauthstore.Client) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("sqlitestore: save client: %w", err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO oauth_client (id, data, created_at) VALUES (?1, ?2, ?3)
ON CONFLICT (id) DO UPDATE SET data = excluded.data`, c.ID, string(b), ms(c.CreatedAt))
	if err != nil {
		return fmt.Errorf("sqlitestore: save client: %w", err)
	}
	return nil
}

// Client implements oauthstore.Store.
func (s *Store) Client(ctx context.Context, id string) (oauthstore.Client, error) {
	var data string
	err := s.r.QueryRowContext(ctx, `SELECT data FROM oauth_client WHERE id = ?1`, id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return oauthstore.Client{}, fmt.Errorf("sqlitestore: client: %w", oauthstore.ErrNotFound)
	}
	if err != nil {
		return oauthstore.Client{}, fmt.Errorf("sqlitestore: client: %w", err)
	}
	var c oauthstore.Client
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		return oauthstore.Client{}, fmt.Errorf("sqlitestore: client: %w", err)
	}
	return c, nil
}

// Clients implements oauthstore.Store.
func (s *Store) Clients(ctx context.Context) ([]oauthstore.Client, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT data FROM oauth_client ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: clients: %w", err)
	}
	defer rows.Close()
	var out []oauthstore.Client
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("sqlitestore: clients: %w", err)
		}
		var c oauthstore.Client
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return nil, fmt.Errorf("sqlitestore: clients: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: clients: %w", err)
	}
	return out, nil
}

// DeleteClient implements oauthstore.Store.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM oauth_client WHERE id = ?1`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return oauthstore.ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `UPDATE oauth_token SET revoked = 1 WHERE client_id = ?1`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: delete client: %w", err)
	}
	return nil
}

// PutTicket implements oauthstore.Store.
func (s *Store) PutTicket(ctx context.Context, t oauthstore.Ticket) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO oauth_ticket (kind, key, data, expires_at) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at`,
		string(t.Kind), t.Key, t.Data, ms(t.ExpiresAt))
	if err != nil {
		return fmt.Errorf("sqlitestore: put %s ticket: %w", t.Kind, err)
	}
	return nil
}

// Ticket implements oauthstore.Store.
func (s *Store) Ticket(ctx context.Context, kind oauthstore.TicketKind, key string, now time.Time) (oauthstore.Ticket, error) {
	t := oauthstore.Ticket{Kind: kind, Key: key}
	var exp int64
	err := s.r.QueryRowContext(ctx, `SELECT data, expires_at FROM oauth_ticket WHERE kind = ?1 AND key = ?2 AND expires_at > ?3`,
		string(kind), key, ms(now)).Scan(&t.Data, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return oauthstore.Ticket{}, fmt.Errorf("sqlitestore: %s ticket: %w", kind, oauthstore.ErrNotFound)
	}
	if err != nil {
		return oauthstore.Ticket{}, fmt.Errorf("sqlitestore: %s ticket: %w", kind, err)
	}
	t.ExpiresAt = fromMS(exp)
	return t, nil
}

// TakeTicket implements oauthstore.Store.
func (s *Store) TakeTicket(ctx context.Context, kind oauthstore.TicketKind, key string, now time.Time) (oauthstore.Ticket, error) {
	t := oauthstore.Ticket{Kind: kind, Key: key}
	var exp int64
	err := s.w.QueryRowContext(ctx, `DELETE FROM oauth_ticket WHERE kind = ?1 AND key = ?2 RETURNING data, expires_at`,
		string(kind), key).Scan(&t.Data, &exp)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !fromMS(exp).After(now)) {
		return oauthstore.Ticket{}, fmt.Errorf("sqlitestore: take %s ticket: %w", kind, oauthstore.ErrNotFound)
	}
	if err != nil {
		return oauthstore.Ticket{}, fmt.Errorf("sqlitestore: take %s ticket: %w", kind, err)
	}
	t.ExpiresAt = fromMS(exp)
	return t, nil
}

// DeleteTicket implements oauthstore.Store.
func (s *Store) DeleteTicket(ctx context.Context, kind oauthstore.TicketKind, key string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM oauth_ticket WHERE kind = ?1 AND key = ?2`, string(kind), key); err != nil {
		return fmt.Errorf("sqlitestore: delete %s ticket: %w", kind, err)
	}
	return nil
}

// PutToken implements oauthstore.Store.
func (s *Store) PutToken(ctx context.Context, t oauthstore.Token) error {
	if err := putToken(ctx, s.w, t); err != nil {
		return fmt.Errorf("sqlitestore: put token: %w", err)
	}
	return nil
}

func putToken(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, t oauthstore.Token,
) error {
	_, err := db.ExecContext(ctx, `INSERT INTO oauth_token (hash, kind, family, client_id, data, issued_at, expires_at, revoked, used)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)`,
		t.Hash, string(t.Kind), t.Family, t.ClientID, t.Data, ms(t.IssuedAt), ms(t.ExpiresAt), t.Revoked, t.Used)
	if isUnique(err) {
		return oauthstore.ErrExists
	}
	return err
}

// Token implements oauthstore.Store.
func (s *Store) Token(ctx context.Context, hash string) (oauthstore.Token, error) {
	t := oauthstore.Token{Hash: hash}
	var kind string
	var iat, exp int64
	s.tokenOnce.Do(func() {
		s.tokenStmt, s.tokenErr = s.r.PrepareContext(context.WithoutCancel(ctx),
			`SELECT kind, family, client_id, data, issued_at, expires_at, revoked, used FROM oauth_token WHERE hash = ?1`)
	})
	if s.tokenErr != nil {
		return oauthstore.Token{}, fmt.Errorf("sqlitestore: token: %w", s.tokenErr)
	}
	err := s.tokenStmt.QueryRowContext(ctx, hash).Scan(&kind, &t.Family, &t.ClientID, &t.Data, &iat, &exp, &t.Revoked, &t.Used)
	if errors.Is(err, sql.ErrNoRows) {
		return oauthstore.Token{}, fmt.Errorf("sqlitestore: token: %w", oauthstore.ErrNotFound)
	}
	if err != nil {
		return oauthstore.Token{}, fmt.Errorf("sqlitestore: token: %w", err)
	}
	t.Kind, t.IssuedAt, t.ExpiresAt = oauthstore.TokenKind(kind), fromMS(iat), fromMS(exp)
	return t, nil
}

// RotateToken implements oauthstore.Store.
func (s *Store) RotateToken(ctx context.Context, oldHash string, next oauthstore.Token, now time.Time) error {
	reused := false
	err := s.write(ctx, func(tx *sql.Tx) error {
		var family string
		err := tx.QueryRowContext(ctx, `UPDATE oauth_token SET used = 1
WHERE hash = ?1 AND kind = 'refresh' AND used = 0 AND revoked = 0 AND expires_at > ?2
RETURNING family`, oldHash, ms(now)).Scan(&family)
		if err == nil {
			next.Family = family
			return putToken(ctx, tx, next)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var used, revoked bool
		err = tx.QueryRowContext(ctx, `SELECT family, used, revoked FROM oauth_token WHERE hash = ?1 AND kind = 'refresh'`, oldHash).
			Scan(&family, &used, &revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return oauthstore.ErrNotFound
		}
		if err != nil {
			return err
		}
		if !used || revoked {
			return oauthstore.ErrNotFound
		}
		reused = true
		_, err = tx.ExecContext(ctx, `UPDATE oauth_token SET revoked = 1 WHERE family = ?1`, family)
		return err
	})
	switch {
	case err != nil:
		return fmt.Errorf("sqlitestore: rotate token: %w", err)
	case reused:
		return fmt.Errorf("sqlitestore: rotate token: %w", oauthstore.ErrReused)
	}
	return nil
}

// RevokeToken implements oauthstore.Store.
func (s *Store) RevokeToken(ctx context.Context, hash string) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE oauth_token SET revoked = 1 WHERE hash = ?1`, hash); err != nil {
		return fmt.Errorf("sqlitestore: revoke token: %w", err)
	}
	return nil
}

// RevokeFamily implements oauthstore.Store.
func (s *Store) RevokeFamily(ctx context.Context, family string) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE oauth_token SET revoked = 1 WHERE family = ?1`, family); err != nil {
		return fmt.Errorf("sqlitestore: revoke family: %w", err)
	}
	return nil
}

// UseJTI implements oauthstore.Store.
func (s *Store) UseJTI(ctx context.Context, issuer, jti string, exp time.Time) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO oauth_jti (issuer, jti, expires_at) VALUES (?1, ?2, ?3)`, issuer, jti, ms(exp))
	if isUnique(err) {
		return fmt.Errorf("sqlitestore: jti: %w", oauthstore.ErrReplay)
	}
	if err != nil {
		return fmt.Errorf("sqlitestore: jti: %w", err)
	}
	return nil
}

// Key implements oauthstore.Store.
func (s *Store) Key(ctx context.Context, use string) (oauthstore.Key, error) {
	k := oauthstore.Key{Use: use}
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT kid, alg, private, created_at FROM oauth_key WHERE use = ?1`, use).
		Scan(&k.ID, &k.Alg, &k.Private, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return oauthstore.Key{}, fmt.Errorf("sqlitestore: key: %w", oauthstore.ErrNotFound)
	}
	if err != nil {
		return oauthstore.Key{}, fmt.Errorf("sqlitestore: key: %w", err)
	}
	k.CreatedAt = fromMS(created)
	return k, nil
}

// EnsureKey implements oauthstore.Store.
func (s *Store) EnsureKey(ctx context.Context, k oauthstore.Key) (oauthstore.Key, error) {
	out := oauthstore.Key{Use: k.Use}
	var created int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO oauth_key (use, kid, alg, private, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT (use) DO NOTHING`, k.Use, k.ID, k.Alg, k.Private, ms(k.CreatedAt)); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT kid, alg, private, created_at FROM oauth_key WHERE use = ?1`, k.Use).
			Scan(&out.ID, &out.Alg, &out.Private, &created)
	})
	if err != nil {
		return oauthstore.Key{}, fmt.Errorf("sqlitestore: key: %w", err)
	}
	out.CreatedAt = fromMS(created)
	return out, nil
}

// Purge implements oauthstore.Store.
func (s *Store) Purge(ctx context.Context, now time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM oauth_ticket WHERE expires_at <= ?1`,
			`DELETE FROM oauth_token WHERE expires_at <= ?1`,
			`DELETE FROM oauth_jti WHERE expires_at <= ?1`,
		} {
			if _, err := tx.ExecContext(ctx, q, ms(now)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: purge: %w", err)
	}
	return nil
}
