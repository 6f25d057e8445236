-- The audit trail (package audit; contract in fhir/store/audit.go). The
-- schema mirrors the Postgres store's; times are Unix milliseconds.

-- Records accepted but not yet sealed, one row per transaction that
-- queued them (a group commit's row holds every record of the group; the
-- format is the audit package's): written in the same transaction as the
-- change they describe, or by a group commit before the response goes
-- out. The sealer moves them, in qseq order, into AuditEvent resources and
-- the chain, and deletes them here.
CREATE TABLE audit_queue (
	qseq     INTEGER PRIMARY KEY AUTOINCREMENT,
	body     BLOB    NOT NULL
) STRICT;

-- The hash chain: one link per sealed AuditEvent, positions 1, 2, 3, ...
-- without gaps. hash is SHA-256 of the AuditEvent's stored bytes, which
-- carry the position and the previous link's hash. recorded lets a purge
-- find the prefix older than the retention period.
CREATE TABLE audit_chain (
	pos      INTEGER PRIMARY KEY CHECK (pos > 0),
	res_id   TEXT    NOT NULL UNIQUE,
	recorded INTEGER NOT NULL,
	hash     BLOB    NOT NULL
) STRICT;
CREATE INDEX audit_chain_recorded ON audit_chain (recorded);

-- The last purged link: verification starts after it. One row at most.
CREATE TABLE audit_anchor (
	singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
	pos       INTEGER NOT NULL,
	recorded  INTEGER NOT NULL,
	hash      BLOB    NOT NULL
) STRICT;
