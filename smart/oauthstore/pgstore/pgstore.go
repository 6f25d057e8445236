package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/telefhir/telefhir/fhir/store/postgres"
	"github.com/telefhir/telefhir/smart/oauthstore"
)

// Store implements oauthstore.Store over Postgres.
type Store struct {
	pool *pgxpool.Pool
}

var _ oauthstore.Store = (*Store)(nil)

// New returns the OAuth store in the same database as s, which must be
// migrated.
func New(s *postgres.Store) *Store { return &Store{pool: s.Pool()} }

func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// CreateClient implements oauthstore.Store.
func (s *Store) CreateClient(ctx context.Context, c oauthstore.Client) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("pgstore: create client: %w", err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO oauth_client (id, data, created_at) VALUES ($1, $2, $3)`, c.ID, b, c.CreatedAt)
	if isUnique(err) {
		return fmt.Errorf("pgstore: client %q: %w", c.ID, oauthstore.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("pgstore: create client: %w", err)
	}
	return nil
}

// SaveClient implements oauthstore.Store.
func (s *Store) SaveClient(ctx context.Context, c oauthstore.Client) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("pgstore: save client: %w", err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO oauth_client (id, data, created_at) VALUES ($1, $2, $3)
ON CONFLICT (id) DO UPDATE SET data = excluded.data`, c.ID, b, c.CreatedAt)
	if err != nil {
		return fmt.Errorf("pgstore: save client: %w", err)
	}
	return nil
}

// Client implements oauthstore.Store.
func (s *Store) Client(ctx context.Context, id string) (oauthstore.Client, error) {
	var c oauthstore.Client
	err := s.pool.QueryRow(ctx, `SELECT data FROM oauth_client WHERE id = $1`, id).Scan(&c)
	if errors.Is(err, pgx.ErrNoRows) {
		return oauthstore.Client{}, fmt.Errorf("pgstore: client: %w", oauthstore.ErrNotFound)
	}
	if err != nil {
		return oauthstore.Client{}, fmt.Errorf("pgstore: client: %w", err)
	}
	return c, nil
}

// Clients implements oauthstore.Store.
func (s *Store) Clients(ctx context.Context) ([]oauthstore.Client, error) {
	rows, err := s.pool.Query(ctx, `SELECT data FROM oauth_client ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: clients: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (oauthstore.Client, error) {
		var c oauthstore.Client
		err := r.Scan(&c)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: clients: %w", err)
	}
	return out, nil
}

// DeleteClient implements oauthstore.Store.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM oauth_client WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return oauthstore.ErrNotFound
		}
		_, err = tx.Exec(ctx, `UPDATE oauth_token SET revoked = true WHERE client_id = $1`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("pgstore: delete client: %w", err)
	}
	return nil
}

// PutTicket implements oauthstore.Store.
func (s *Store) PutTicket(ctx context.Context, t oauthstore.Ticket) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO oauth_ticket (kind, key, data, expires_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at`,
		string(t.Kind), t.Key, t.Data, t.ExpiresAt)
	if err != nil {
		return fmt.Errorf("pgstore: put %s ticket: %w", t.Kind, err)
	}
	return nil
}

// Ticket implements oauthstore.Store.
func (s *Store) Ticket(ctx context.Context, kind oauthstore.TicketKind, key string, now time.Time) (oauthstore.Ticket, error) {
	t := oauthstore.Ticket{Kind: kind, Key: key}
	err := s.pool.QueryRow(ctx, `SELECT data, expires_at FROM oauth_ticket WHERE kind = $1 AND key = $2 AND expires_at > $3`,
		string(kind), key, now).Scan(&t.Data, &t.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return oauthstore.Ticket{}, fmt.Errorf("pgstore: %s ticket: %w", kind, oauthstore.ErrNotFound)
	}
	if err != nil {
		return oauthstore.Ticket{}, fmt.Errorf("pgstore: %s ticket: %w", kind, err)
	}
	t.ExpiresAt = t.ExpiresAt.UTC()
	return t, nil
}

// TakeTicket implements oauthstore.Store.
func (s *Store) TakeTicket(ctx context.Context, kind oauthstore.TicketKind, key string, now time.Time) (oauthstore.Ticket, error) {
	t := oauthstore.Ticket{Kind: kind, Key: key}
	err := s.pool.QueryRow(ctx, `DELETE FROM oauth_ticket WHERE kind = $1 AND key = $2 RETURNING data, expires_at`,
		string(kind), key).Scan(&t.Data, &t.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !t.ExpiresAt.After(now)) {
		return oauthstore.Ticket{}, fmt.Errorf("pgstore: take %s ticket: %w", kind, oauthstore.ErrNotFound)
	}
	if err != nil {
		return oauthstore.Ticket{}, fmt.Errorf("pgstore: take %s ticket: %w", kind, err)
	}
	t.ExpiresAt = t.ExpiresAt.UTC()
	return t, nil
}

// DeleteTicket implements oauthstore.Store.
func (s *Store) DeleteTicket(ctx context.Context, kind oauthstore.TicketKind, key string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM oauth_ticket WHERE kind = $1 AND key = $2`, string(kind), key); err != nil {
		return fmt.Errorf("pgstore: delete %s ticket: %w", kind, err)
	}
	return nil
}

const qPutToken = `INSERT INTO oauth_token (hash, kind, family, client_id, data, issued_at, expires_at, revoked, used)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

func tokenArgs(t oauthstore.Token) []any {
	return []any{t.Hash, string(t.Kind), t.Family, t.ClientID, t.Data, t.IssuedAt, t.ExpiresAt, t.Revoked, t.Used}
}

// PutToken implements oauthstore.Store.
func (s *Store) PutToken(ctx context.Context, t oauthstore.Token) error {
	_, err := s.pool.Exec(ctx, qPutToken, tokenArgs(t)...)
	if isUnique(err) {
		return fmt.Errorf("pgstore: put token: %w", oauthstore.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("pgstore: put token: %w", err)
	}
	return nil
}

// Token implements oauthstore.Store.
func (s *Store) Token(ctx context.Context, hash string) (oauthstore.Token, error) {
	t := oauthstore.Token{Hash: hash}
	var kind string
	err := s.pool.QueryRow(ctx, `SELECT kind, family, client_id, data, issued_at, expires_at, revoked, used FROM oauth_token WHERE hash = $1`, hash).
		Scan(&kind, &t.Family, &t.ClientID, &t.Data, &t.IssuedAt, &t.ExpiresAt, &t.Revoked, &t.Used)
	if errors.Is(err, pgx.ErrNoRows) {
		return oauthstore.Token{}, fmt.Errorf("pgstore: token: %w", oauthstore.ErrNotFound)
	}
	if err != nil {
		return oauthstore.Token{}, fmt.Errorf("pgstore: token: %w", err)
	}
	t.Kind, t.IssuedAt, t.ExpiresAt = oauthstore.TokenKind(kind), t.IssuedAt.UTC(), t.ExpiresAt.UTC()
	return t, nil
}

// RotateToken implements oauthstore.Store. The conditional UPDATE takes
// the row lock; a concurrent rotation waits for it and then finds used set
// (Postgres re-checks the WHERE clause on the locked row).
func (s *Store) RotateToken(ctx context.Context, oldHash string, next oauthstore.Token, now time.Time) error {
	reused := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var family string
		err := tx.QueryRow(ctx, `UPDATE oauth_token SET used = true
WHERE hash = $1 AND kind = 'refresh' AND NOT used AND NOT revoked AND expires_at > $2
RETURNING family`, oldHash, now).Scan(&family)
		if err == nil {
			next.Family = family
			_, err = tx.Exec(ctx, qPutToken, tokenArgs(next)...)
			return err
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var used, revoked bool
		err = tx.QueryRow(ctx, `SELECT family, used, revoked FROM oauth_token WHERE hash = $1 AND kind = 'refresh'`, oldHash).
			Scan(&family, &used, &revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return oauthstore.ErrNotFound
		}
		if err != nil {
			return err
		}
		if !used || revoked {
			return oauthstore.ErrNotFound
		}
		reused = true
		_, err = tx.Exec(ctx, `UPDATE oauth_token SET revoked = true WHERE family = $1`, family)
		return err
	})
	switch {
	case err != nil:
		return fmt.Errorf("pgstore: rotate token: %w", err)
	case reused:
		return fmt.Errorf("pgstore: rotate token: %w", oauthstore.ErrReused)
	}
	return nil
}

// RevokeToken implements oauthstore.Store.
func (s *Store) RevokeToken(ctx context.Context, hash string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE oauth_token SET revoked = true WHERE hash = $1`, hash); err != nil {
		return fmt.Errorf("pgstore: revoke token: %w", err)
	}
	return nil
}

// RevokeFamily implements oauthstore.Store.
func (s *Store) RevokeFamily(ctx context.Context, family string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE oauth_token SET revoked = true WHERE family = $1`, family); err != nil {
		return fmt.Errorf("pgstore: revoke family: %w", err)
	}
	return nil
}

// UseJTI implements oauthstore.Store.
func (s *Store) UseJTI(ctx context.Context, issuer, jti string, exp time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO oauth_jti (issuer, jti, expires_at) VALUES ($1, $2, $3)`, issuer, jti, exp)
	if isUnique(err) {
		return fmt.Errorf("pgstore: jti: %w", oauthstore.ErrReplay)
	}
	if err != nil {
		return fmt.Errorf("pgstore: jti: %w", err)
	}
	return nil
}

// Key implements oauthstore.Store.
func (s *Store) Key(ctx context.Context, use string) (oauthstore.Key, error) {
	k := oauthstore.Key{Use: use}
	err := s.pool.QueryRow(ctx, `SELECT kid, alg, private, created_at FROM oauth_key WHERE use = $1`, use).
		Scan(&k.ID, &k.Alg, &k.Private, &k.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return oauthstore.Key{}, fmt.Errorf("pgstore: key: %w", oauthstore.ErrNotFound)
	}
	if err != nil {
		return oauthstore.Key{}, fmt.Errorf("pgstore: key: %w", err)
	}
	k.CreatedAt = k.CreatedAt.UTC()
	return k, nil
}

// EnsureKey implements oauthstore.Store.
func (s *Store) EnsureKey(ctx context.Context, k oauthstore.Key) (oauthstore.Key, error) {
	out := oauthstore.Key{Use: k.Use}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO oauth_key (use, kid, alg, private, created_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (use) DO NOTHING`, k.Use, k.ID, k.Alg, k.Private, k.CreatedAt); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT kid, alg, private, created_at FROM oauth_key WHERE use = $1`, k.Use).
			Scan(&out.ID, &out.Alg, &out.Private, &out.CreatedAt)
	})
	if err != nil {
		return oauthstore.Key{}, fmt.Errorf("pgstore: key: %w", err)
	}
	out.CreatedAt = out.CreatedAt.UTC()
	return out, nil
}

// Purge implements oauthstore.Store.
func (s *Store) Purge(ctx context.Context, now time.Time) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, q := range []string{
			`DELETE FROM oauth_ticket WHERE expires_at <= $1`,
			`DELETE FROM oauth_token WHERE expires_at <= $1`,
			`DELETE FROM oauth_jti WHERE expires_at <= $1`,
		} {
			if _, err := tx.Exec(ctx, q, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pgstore: purge: %w", err)
	}
	return nil
}
