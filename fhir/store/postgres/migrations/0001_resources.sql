-- Every version of every resource. seq is the store-wide write order that
-- history paging is keyed on. body holds the served JSON bytes untouched
-- (bytea, not jsonb; NULL for a delete marker). Identifiers use the "C"
-- collation: they are compared for equality only, and bytewise is fastest.
CREATE TABLE resource_version (
	seq          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	res_type     text        COLLATE "C" NOT NULL,
	res_id       text        COLLATE "C" NOT NULL,
	version      bigint      NOT NULL CHECK (version > 0),
	last_updated timestamptz NOT NULL,
	deleted      boolean     NOT NULL,
	method       text        NOT NULL,
	body         bytea,
	CONSTRAINT resource_version_key UNIQUE (res_type, res_id, version),
	CONSTRAINT resource_version_body CHECK (deleted = (body IS NULL))
);

-- Type-level history, newest first.
CREATE INDEX resource_version_type_seq ON resource_version (res_type, seq);
-- _since and _at.
CREATE INDEX resource_version_last_updated ON resource_version (last_updated);

-- The current version of each resource: a read is one primary-key lookup
-- here joined to resource_version by seq. Rows are updated in place on every
-- write; the fill factor leaves room for HOT updates.
CREATE TABLE resource (
	res_type     text        COLLATE "C" NOT NULL,
	res_id       text        COLLATE "C" NOT NULL,
	version      bigint      NOT NULL,
	seq          bigint      NOT NULL REFERENCES resource_version (seq),
	last_updated timestamptz NOT NULL,
	deleted      boolean     NOT NULL,
	PRIMARY KEY (res_type, res_id)
) WITH (fillfactor = 90);
