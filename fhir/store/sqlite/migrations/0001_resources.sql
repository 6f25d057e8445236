-- Every version of every resource. seq is the store-wide write order that
-- history paging is keyed on; AUTOINCREMENT keeps it strictly increasing and
-- never reused. last_updated is unix milliseconds, UTC. body holds the
-- served JSON bytes untouched (NULL for a delete marker).
CREATE TABLE resource_version (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	res_type     TEXT    NOT NULL,
	res_id       TEXT    NOT NULL,
	version      INTEGER NOT NULL CHECK (version > 0),
	last_updated INTEGER NOT NULL,
	deleted      INTEGER NOT NULL CHECK (deleted IN (0, 1)),
	method       TEXT    NOT NULL,
	body         BLOB,
	UNIQUE (res_type, res_id, version),
	CHECK ((deleted = 1 AND body IS NULL) OR (deleted = 0 AND body IS NOT NULL))
) STRICT;

-- Type-level history, newest first.
CREATE INDEX resource_version_type_seq ON resource_version (res_type, seq);
-- _since and _at.
CREATE INDEX resource_version_last_updated ON resource_version (last_updated);

-- The current version of each resource: a read is one primary-key lookup
-- here joined to resource_version by seq.
CREATE TABLE resource (
	res_type     TEXT    NOT NULL,
	res_id       TEXT    NOT NULL,
	version      INTEGER NOT NULL,
	seq          INTEGER NOT NULL REFERENCES resource_version (seq),
	last_updated INTEGER NOT NULL,
	deleted      INTEGER NOT NULL CHECK (deleted IN (0, 1)),
	PRIMARY KEY (res_type, res_id)
) STRICT, WITHOUT ROWID;
