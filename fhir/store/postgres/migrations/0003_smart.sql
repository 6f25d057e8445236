-- State of the SMART authorization server (smart/oauthstore/pgstore).
-- Secrets (codes, tokens, client secrets, session cookies) are stored only
-- as hex SHA-256 hashes.

-- Registered clients; data is the JSON of oauthstore.Client.
CREATE TABLE oauth_client (
	id         text        COLLATE "C" PRIMARY KEY,
	data       jsonb       NOT NULL,
	created_at timestamptz NOT NULL
);

-- Short-lived single-purpose records: authorization codes, pending
-- authorization requests, login sessions, launch contexts, upstream login
-- state. A code is taken with DELETE ... RETURNING, so it is used once.
CREATE TABLE oauth_ticket (
	kind       text        COLLATE "C" NOT NULL,
	key        text        COLLATE "C" NOT NULL,
	data       bytea       NOT NULL,
	expires_at timestamptz NOT NULL,
	PRIMARY KEY (kind, key)
);
CREATE INDEX oauth_ticket_expires ON oauth_ticket (expires_at);

-- Access and refresh tokens. family groups the tokens of one
-- authorization; used marks a rotated refresh token.
CREATE TABLE oauth_token (
	hash       text        COLLATE "C" PRIMARY KEY,
	kind       text        NOT NULL CHECK (kind IN ('access', 'refresh')),
	family     text        COLLATE "C" NOT NULL,
	client_id  text        COLLATE "C" NOT NULL,
	data       bytea       NOT NULL,
	issued_at  timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	revoked    boolean     NOT NULL DEFAULT false,
	used       boolean     NOT NULL DEFAULT false
);
CREATE INDEX oauth_token_family ON oauth_token (family);
CREATE INDEX oauth_token_client ON oauth_token (client_id);
CREATE INDEX oauth_token_expires ON oauth_token (expires_at);

-- jti values of client assertions, kept until the assertion expires.
CREATE TABLE oauth_jti (
	issuer     text        COLLATE "C" NOT NULL,
	jti        text        COLLATE "C" NOT NULL,
	expires_at timestamptz NOT NULL,
	PRIMARY KEY (issuer, jti)
);
CREATE INDEX oauth_jti_expires ON oauth_jti (expires_at);

-- Signing keys, one per use (slot).
CREATE TABLE oauth_key (
	use        text        PRIMARY KEY,
	kid        text        NOT NULL,
	alg        text        NOT NULL,
	private    bytea       NOT NULL,
	created_at timestamptz NOT NULL
);
