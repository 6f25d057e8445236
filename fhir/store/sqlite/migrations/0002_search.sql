-- Search: a stable integer key per resource, and one index table per kind
-- of search-index row (fhir/search.Index), written by Tx.Put in the same
-- transaction as the version. Searches are EXISTS tests over these tables
-- (see fhir/store/sqlq); the schema mirrors the Postgres store's.

-- rid is the resource's key for index rows, sort tie-breaks and keyset
-- cursors: the rowid, assigned at creation and kept across updates and
-- deletes (AUTOINCREMENT: never reused). The table is rebuilt to make it
-- the rowid; existing resources are numbered in creation order.
CREATE TABLE resource_new (
	rid          INTEGER PRIMARY KEY AUTOINCREMENT,
	res_type     TEXT    NOT NULL,
	res_id       TEXT    NOT NULL,
	version      INTEGER NOT NULL,
	seq          INTEGER NOT NULL REFERENCES resource_version (seq),
	last_updated INTEGER NOT NULL,
	deleted      INTEGER NOT NULL CHECK (deleted IN (0, 1)),
	UNIQUE (res_type, res_id)
) STRICT;
INSERT INTO resource_new (res_type, res_id, version, seq, last_updated, deleted)
SELECT r.res_type, r.res_id, r.version, r.seq, r.last_updated, r.deleted
FROM resource r
ORDER BY (SELECT min(v.seq) FROM resource_version v WHERE v.res_type = r.res_type AND v.res_id = r.res_id);
DROP TABLE resource;
ALTER TABLE resource_new RENAME TO resource;
-- Type-level searches walk this in rid order (the default sort).
CREATE INDEX resource_type_rid ON resource (res_type, rid);
-- _lastUpdated and _sort=_lastUpdated.
CREATE INDEX resource_type_last_updated ON resource (res_type, last_updated);

-- Every index table has the resource's rid and type, the parameter code
-- (composite components under their own names), and grp, the ordinal of the
-- element a composite matched. Each has an index on (rid, param) for the
-- EXISTS tests made per candidate resource and the sort keys, and one on
-- (res_type, param, value...) for searches that start from the value.
-- Prefix searches are ranges (norm >= 'smi' AND norm < 'smj'), which these
-- BINARY-collated indexes serve.
CREATE TABLE idx_string (
	rid      INTEGER NOT NULL,
	res_type TEXT    NOT NULL,
	param    TEXT    NOT NULL,
	grp      INTEGER NOT NULL,
	norm     TEXT    NOT NULL,
	exact    TEXT    NOT NULL
) STRICT;
CREATE INDEX idx_string_rid ON idx_string (rid, param);
CREATE INDEX idx_string_norm ON idx_string (res_type, param, norm);

CREATE TABLE idx_token (
	rid      INTEGER NOT NULL,
	res_type TEXT    NOT NULL,
	param    TEXT    NOT NULL,
	grp      INTEGER NOT NULL,
	system   TEXT    NOT NULL,
	code     TEXT    NOT NULL,
	text     TEXT    NOT NULL
) STRICT;
CREATE INDEX idx_token_rid ON idx_token (rid, param);
CREATE INDEX idx_token_code ON idx_token (res_type, param, code, system);

-- Dates are inclusive ranges of Unix milliseconds; open ends are the
-- extremes of int64.
CREATE TABLE idx_date (
	rid      INTEGER NOT NULL,
	res_type TEXT    NOT NULL,
	param    TEXT    NOT NULL,
	grp      INTEGER NOT NULL,
	low      INTEGER NOT NULL,
	high     INTEGER NOT NULL
) STRICT;
CREATE INDEX idx_date_rid ON idx_date (rid, param);
CREATE INDEX idx_date_low ON idx_date (res_type, param, low, high);
CREATE INDEX idx_date_high ON idx_date (res_type, param, high, low);

CREATE TABLE idx_reference (
	rid         INTEGER NOT NULL,
	res_type    TEXT    NOT NULL,
	param       TEXT    NOT NULL,
	grp         INTEGER NOT NULL,
	target_type TEXT    NOT NULL,
	target_id   TEXT    NOT NULL,
	url         TEXT    NOT NULL
) STRICT;
CREATE INDEX idx_reference_rid ON idx_reference (rid, param);
CREATE INDEX idx_reference_target ON idx_reference (res_type, param, target_id, target_type);

CREATE TABLE idx_quantity (
	rid         INTEGER NOT NULL,
	res_type    TEXT    NOT NULL,
	param       TEXT    NOT NULL,
	grp         INTEGER NOT NULL,
	value       REAL    NOT NULL,
	low         REAL    NOT NULL,
	high        REAL    NOT NULL,
	system      TEXT    NOT NULL,
	code        TEXT    NOT NULL,
	unit        TEXT    NOT NULL,
	canon_code  TEXT    NOT NULL,
	canon_value REAL    NOT NULL
) STRICT;
CREATE INDEX idx_quantity_rid ON idx_quantity (rid, param);
CREATE INDEX idx_quantity_value ON idx_quantity (res_type, param, low, high);

CREATE TABLE idx_number (
	rid      INTEGER NOT NULL,
	res_type TEXT    NOT NULL,
	param    TEXT    NOT NULL,
	grp      INTEGER NOT NULL,
	value    REAL    NOT NULL,
	low      REAL    NOT NULL,
	high     REAL    NOT NULL
) STRICT;
CREATE INDEX idx_number_rid ON idx_number (rid, param);
CREATE INDEX idx_number_value ON idx_number (res_type, param, low, high);

CREATE TABLE idx_uri (
	rid      INTEGER NOT NULL,
	res_type TEXT    NOT NULL,
	param    TEXT    NOT NULL,
	grp      INTEGER NOT NULL,
	uri      TEXT    NOT NULL
) STRICT;
CREATE INDEX idx_uri_rid ON idx_uri (rid, param);
CREATE INDEX idx_uri_value ON idx_uri (res_type, param, uri);
