-- The audit trail (package audit; contract in fhir/store/audit.go).

-- Records accepted but not yet sealed, one row per transaction that
-- queued them (a group commit's row holds every record of the group; the
-- format is the audit package's): written in the same transaction as the
-- change they describe, or by a group commit before the response goes
-- out. The sealer moves them, in qseq order, into AuditEvent resources and
-- the chain, and deletes them here.
CREATE TABLE audit_queue (
	qseq     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	body     bytea       NOT NULL
);

-- The hash chain: one link per sealed AuditEvent, positions 1, 2, 3, ...
-- without gaps. hash is SHA-256 of the AuditEvent's stored bytes, which
-- carry the position and the previous link's hash. recorded lets a purge
-- find the prefix older than the retention period.
CREATE TABLE audit_chain (
	pos      bigint      PRIMARY KEY CHECK (pos > 0),
	res_id   text        COLLATE "C" NOT NULL UNIQUE,
	recorded timestamptz NOT NULL,
	hash     bytea       NOT NULL
);
CREATE INDEX audit_chain_recorded ON audit_chain (recorded);

-- The last purged link: verification starts after it. One row at most.
CREATE TABLE audit_anchor (
	singleton boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
	pos       bigint      NOT NULL,
	recorded  timestamptz NOT NULL,
	hash      bytea       NOT NULL
);
