-- State of the SMART authorization server (smart/oauthstore/sqlitestore).
-- Secrets (codes, tokens, client secrets, session cookies) are stored only
-- as hex SHA-256 hashes. Times are unix milliseconds, UTC.

-- Registered clients; data is the JSON of oauthstore.Client.
CREATE TABLE oauth_client (
	id         TEXT    PRIMARY KEY,
	data       TEXT    NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

-- Short-lived single-purpose records: authorization codes, pending
-- authorization requests, login sessions, launch contexts, upstream login
-- state. A code is taken with DELETE ... RETURNING, so it is used once.
CREATE TABLE oauth_ticket (
	kind       TEXT    NOT NULL,
	key        TEXT    NOT NULL,
	data       BLOB    NOT NULL,
	expires_at INTEGER NOT NULL,
	PRIMARY KEY (kind, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX oauth_ticket_expires ON oauth_ticket (expires_at);

-- Access and refresh tokens. family groups the tokens of one
-- authorization; used marks a rotated refresh token.
CREATE TABLE oauth_token (
	hash       TEXT    PRIMARY KEY,
	kind       TEXT    NOT NULL CHECK (kind IN ('access', 'refresh')),
	family     TEXT    NOT NULL,
	client_id  TEXT    NOT NULL,
	data       BLOB    NOT NULL,
	issued_at  INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	revoked    INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
	used       INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1))
) STRICT, WITHOUT ROWID;
CREATE INDEX oauth_token_family ON oauth_token (family);
CREATE INDEX oauth_token_client ON oauth_token (client_id);
CREATE INDEX oauth_token_expires ON oauth_token (expires_at);

-- jti values of client assertions, kept until the assertion expires.
CREATE TABLE oauth_jti (
	issuer     TEXT    NOT NULL,
	jti        TEXT    NOT NULL,
	expires_at INTEGER NOT NULL,
	PRIMARY KEY (issuer, jti)
) STRICT, WITHOUT ROWID;
CREATE INDEX oauth_jti_expires ON oauth_jti (expires_at);

-- Signing keys, one per use (slot).
CREATE TABLE oauth_key (
	use        TEXT    PRIMARY KEY,
	kid        TEXT    NOT NULL,
	alg        TEXT    NOT NULL,
	private    BLOB    NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
