-- Counts and starting sets of searches read only indexes.
--
-- Type-level searches and counts look only at live resources: a partial
-- index of them by (type, key) serves the default sort, the first page and
-- `Type?_summary=count` as an index-only scan.
CREATE INDEX resource_type_live ON resource (res_type, rid) WHERE deleted = 0;
DROP INDEX resource_type_rid;

-- The value indexes of the index tables end with the resource key (SQLite
-- indexes hold the table's rowid, not rid), so that "the keys of rows with
-- this value" (a search's starting set, a count) needs no visit to the
-- table.
DROP INDEX idx_string_norm;
CREATE INDEX idx_string_norm ON idx_string (res_type, param, norm, rid);

DROP INDEX idx_token_code;
CREATE INDEX idx_token_code ON idx_token (res_type, param, code, system, rid);

DROP INDEX idx_date_low;
CREATE INDEX idx_date_low ON idx_date (res_type, param, low, high, rid);

DROP INDEX idx_date_high;
CREATE INDEX idx_date_high ON idx_date (res_type, param, high, low, rid);

DROP INDEX idx_reference_target;
CREATE INDEX idx_reference_target ON idx_reference (res_type, param, target_id, target_type, rid);

DROP INDEX idx_quantity_value;
CREATE INDEX idx_quantity_value ON idx_quantity (res_type, param, low, high, rid);

DROP INDEX idx_number_value;
CREATE INDEX idx_number_value ON idx_number (res_type, param, low, high, rid);

DROP INDEX idx_uri_value;
CREATE INDEX idx_uri_value ON idx_uri (res_type, param, uri, rid);
