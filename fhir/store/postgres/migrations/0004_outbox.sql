-- The outbox: versions committed but not yet published as change events.
-- Tx.Put inserts a row in the same statement as the version; the relay
-- (DrainOutbox) publishes rows in seq order and deletes them once the event
-- stream has acknowledged them. Rows are short-lived, so the table stays
-- small however many writes there have been.
CREATE TABLE outbox (
	seq bigint PRIMARY KEY REFERENCES resource_version (seq)
);
