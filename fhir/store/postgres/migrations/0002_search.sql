-- Search: a stable integer key per resource, and one index table per kind
-- of search-index row (fhir/search.Index), written by Tx.Put in the same
-- statement as the version. Searches are EXISTS tests over these tables
-- (see fhir/store/sqlq).

-- rid is the resource's key for index rows, sort tie-breaks and keyset
-- cursors: assigned at creation, kept across updates and deletes. Existing
-- resources are numbered in creation order.
ALTER TABLE resource ADD COLUMN rid bigint;
UPDATE resource r SET rid = n.rid
FROM (
	SELECT res_type, res_id, row_number() OVER (ORDER BY min(seq)) AS rid
	FROM resource_version GROUP BY res_type, res_id
) n
WHERE n.res_type = r.res_type AND n.res_id = r.res_id;
ALTER TABLE resource ALTER COLUMN rid SET NOT NULL;
ALTER TABLE resource ALTER COLUMN rid ADD GENERATED ALWAYS AS IDENTITY;
SELECT setval(pg_get_serial_sequence('resource', 'rid'), coalesce(max(rid), 0) + 1, false) FROM resource;
ALTER TABLE resource ADD CONSTRAINT resource_rid_key UNIQUE (rid);
-- Type-level searches walk this in rid order (the default sort) and take
-- the snapshot bound from it.
CREATE INDEX resource_type_rid ON resource (res_type, rid);
-- _lastUpdated and _sort=_lastUpdated.
CREATE INDEX resource_type_last_updated ON resource (res_type, last_updated);

-- Every index table has the resource's rid and type, the parameter code
-- (composite components under their own names), and grp, the ordinal of the
-- element a composite matched, which ties its components together. Each
-- has an index on (rid, param), serving the EXISTS tests made per
-- candidate resource and the sort keys, and one on (res_type, param,
-- value...), serving searches that start from the value. All text is
-- compared bytewise (COLLATE "C"): the normalised string values are
-- lower-cased already, and prefix searches are ranges
-- (norm >= 'smi' AND norm < 'smj'), which a plain B-tree on a "C" column
-- serves; text_pattern_ops would add nothing.
CREATE TABLE idx_string (
	rid      bigint  NOT NULL,
	res_type text    COLLATE "C" NOT NULL,
	param    text    COLLATE "C" NOT NULL,
	grp      integer NOT NULL,
	norm     text    COLLATE "C" NOT NULL, -- normalised, at most 1024 bytes
	exact    text    COLLATE "C" NOT NULL
);
CREATE INDEX idx_string_rid ON idx_string (rid, param);
CREATE INDEX idx_string_norm ON idx_string (res_type, param, norm);

CREATE TABLE idx_token (
	rid      bigint  NOT NULL,
	res_type text    COLLATE "C" NOT NULL,
	param    text    COLLATE "C" NOT NULL,
	grp      integer NOT NULL,
	system   text    COLLATE "C" NOT NULL,
	code     text    COLLATE "C" NOT NULL,
	text     text    COLLATE "C" NOT NULL
);
CREATE INDEX idx_token_rid ON idx_token (rid, param);
-- code before system: code alone (no system given) is a common search.
CREATE INDEX idx_token_code ON idx_token (res_type, param, code, system);

-- Dates are inclusive ranges of Unix milliseconds; open ends are the
-- extremes of bigint.
CREATE TABLE idx_date (
	rid      bigint  NOT NULL,
	res_type text    COLLATE "C" NOT NULL,
	param    text    COLLATE "C" NOT NULL,
	grp      integer NOT NULL,
	low      bigint  NOT NULL,
	high     bigint  NOT NULL
);
CREATE INDEX idx_date_rid ON idx_date (rid, param);
-- eq, lt, le, sa start from low; gt, ge, eb from high.
CREATE INDEX idx_date_low ON idx_date (res_type, param, low, high);
CREATE INDEX idx_date_high ON idx_date (res_type, param, high, low);

CREATE TABLE idx_reference (
	rid         bigint  NOT NULL,
	res_type    text    COLLATE "C" NOT NULL,
	param       text    COLLATE "C" NOT NULL,
	grp         integer NOT NULL,
	target_type text    COLLATE "C" NOT NULL,
	target_id   text    COLLATE "C" NOT NULL,
	url         text    COLLATE "C" NOT NULL
);
CREATE INDEX idx_reference_rid ON idx_reference (rid, param);
-- subject=Patient/1, _has, _revinclude and chains: the resources of a type
-- that refer to a target through a parameter. target_id leads target_type
-- so that a bare id (subject=1) uses it too.
CREATE INDEX idx_reference_target ON idx_reference (res_type, param, target_id, target_type);

CREATE TABLE idx_quantity (
	rid         bigint  NOT NULL,
	res_type    text    COLLATE "C" NOT NULL,
	param       text    COLLATE "C" NOT NULL,
	grp         integer NOT NULL,
	value       float8  NOT NULL,
	low         float8  NOT NULL,
	high        float8  NOT NULL,
	system      text    COLLATE "C" NOT NULL,
	code        text    COLLATE "C" NOT NULL,
	unit        text    COLLATE "C" NOT NULL,
	canon_code  text    COLLATE "C" NOT NULL,
	canon_value float8  NOT NULL
);
CREATE INDEX idx_quantity_rid ON idx_quantity (rid, param);
CREATE INDEX idx_quantity_value ON idx_quantity (res_type, param, low, high);

CREATE TABLE idx_number (
	rid      bigint  NOT NULL,
	res_type text    COLLATE "C" NOT NULL,
	param    text    COLLATE "C" NOT NULL,
	grp      integer NOT NULL,
	value    float8  NOT NULL,
	low      float8  NOT NULL,
	high     float8  NOT NULL
);
CREATE INDEX idx_number_rid ON idx_number (rid, param);
CREATE INDEX idx_number_value ON idx_number (res_type, param, low, high);

CREATE TABLE idx_uri (
	rid      bigint  NOT NULL,
	res_type text    COLLATE "C" NOT NULL,
	param    text    COLLATE "C" NOT NULL,
	grp      integer NOT NULL,
	uri      text    COLLATE "C" NOT NULL
);
CREATE INDEX idx_uri_rid ON idx_uri (rid, param);
CREATE INDEX idx_uri_value ON idx_uri (res_type, param, uri);
