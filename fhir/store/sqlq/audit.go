package sqlq

// The audit trail's statements (store.AuditLog), the same in both stores:
// $n placeholders, which SQLite accepts too. Times are bound and scanned
// in each store's own representation (timestamptz, Unix milliseconds).
const (
	// AuditHead is the last chain link.
	AuditHead = `SELECT pos, res_id, recorded, hash FROM audit_chain ORDER BY pos DESC LIMIT 1`
	// AuditAnchor is the last purged link.
	AuditAnchor = `SELECT pos, recorded, hash FROM audit_anchor`
	// AuditQueued is the queue in order, $1 records at most.
	AuditQueued = `SELECT qseq, body FROM audit_queue ORDER BY qseq LIMIT $1`
	// AuditBacklog counts the queue and gives its bounds.
	AuditBacklog = `SELECT count(*), coalesce(min(qseq), 0), coalesce(max(qseq), 0) FROM audit_queue`
	// AuditPurgeBound is the highest position whose link and every link
	// before it were recorded before $1, or 0 when that is at or below the
	// anchor.
	AuditPurgeBound = `SELECT CASE WHEN b.pos > coalesce((SELECT pos FROM audit_anchor), 0) THEN b.pos ELSE 0 END
FROM (SELECT coalesce(
	(SELECT min(pos) - 1 FROM audit_chain WHERE recorded >= $1),
	(SELECT max(pos) FROM audit_chain),
	0) AS pos) b`
	// AuditLinkAt is the link at position $1.
	AuditLinkAt = `SELECT recorded, hash FROM audit_chain WHERE pos = $1`
	// AuditSetAnchor makes ($1, $2, $3) the anchor.
	AuditSetAnchor = `INSERT INTO audit_anchor (singleton, pos, recorded, hash) VALUES (` + auditSingleton + `, $1, $2, $3)
ON CONFLICT (singleton) DO UPDATE SET pos = excluded.pos, recorded = excluded.recorded, hash = excluded.hash`
	// AuditDeleteLinks deletes the links at or below position $1.
	AuditDeleteLinks = `DELETE FROM audit_chain WHERE pos <= $1`

	// auditSingleton is the key of the one anchor row: true in Postgres
	// (a boolean column), 1 in SQLite, both of which "1 = 1" is.
	auditSingleton = `1 = 1`
)

// AuditChain is the chain after position $1, $2 links at most, each with
// version 1 of its AuditEvent and the AuditEvent's current version.
func AuditChain(d *Dialect) string {
	return `SELECT c.pos, c.res_id, c.recorded, c.hash, v.body, coalesce(r.version, 0), coalesce(r.deleted, ` + d.False + `)
FROM audit_chain c
LEFT JOIN resource_version v ON v.res_type = 'AuditEvent' AND v.res_id = c.res_id AND v.version = 1
LEFT JOIN resource r ON r.res_type = 'AuditEvent' AND r.res_id = c.res_id
WHERE c.pos > $1 ORDER BY c.pos LIMIT $2`
}
