-- The outbox: versions committed but not yet published as change events.
-- Tx.Put inserts a row in the same transaction as the version; the relay
-- (DrainOutbox) publishes rows in seq order and deletes them once the event
-- stream has acknowledged them.
CREATE TABLE outbox (
	seq INTEGER PRIMARY KEY REFERENCES resource_version (seq)
) STRICT;
