-- Counts and starting sets of searches read only indexes.
--
-- Type-level searches and counts look only at live resources: a partial
-- index of them by (type, key) serves the default sort, the first page and
-- `Type?_summary=count` as an index-only scan.
CREATE INDEX resource_type_live ON resource (res_type, rid) WHERE NOT deleted;
DROP INDEX resource_type_rid;

-- The value indexes of the index tables carry the resource key, so that
-- "the keys of rows with this value" (a search's starting set, a count)
-- needs no visit to the table. Where searches test the value for equality
-- (token, reference, uri) the key is the last key column, so the keys of
-- one value come out in order and counting distinct resources needs no
-- sort or hash; range-tested values carry it as an included column.
CREATE INDEX idx_string_norm_rid ON idx_string (res_type, param, norm) INCLUDE (rid);
DROP INDEX idx_string_norm;
ALTER INDEX idx_string_norm_rid RENAME TO idx_string_norm;

CREATE INDEX idx_token_code_rid ON idx_token (res_type, param, code, system, rid);
DROP INDEX idx_token_code;
ALTER INDEX idx_token_code_rid RENAME TO idx_token_code;

CREATE INDEX idx_date_low_rid ON idx_date (res_type, param, low, high) INCLUDE (rid);
DROP INDEX idx_date_low;
ALTER INDEX idx_date_low_rid RENAME TO idx_date_low;

CREATE INDEX idx_date_high_rid ON idx_date (res_type, param, high, low) INCLUDE (rid);
DROP INDEX idx_date_high;
ALTER INDEX idx_date_high_rid RENAME TO idx_date_high;

CREATE INDEX idx_reference_target_rid ON idx_reference (res_type, param, target_id, target_type, rid);
DROP INDEX idx_reference_target;
ALTER INDEX idx_reference_target_rid RENAME TO idx_reference_target;

CREATE INDEX idx_quantity_value_rid ON idx_quantity (res_type, param, low, high) INCLUDE (rid);
DROP INDEX idx_quantity_value;
ALTER INDEX idx_quantity_value_rid RENAME TO idx_quantity_value;

CREATE INDEX idx_number_value_rid ON idx_number (res_type, param, low, high) INCLUDE (rid);
DROP INDEX idx_number_value;
ALTER INDEX idx_number_value_rid RENAME TO idx_number_value;

CREATE INDEX idx_uri_value_rid ON idx_uri (res_type, param, uri, rid);
DROP INDEX idx_uri_value;
ALTER INDEX idx_uri_value_rid RENAME TO idx_uri_value;
