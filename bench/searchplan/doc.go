// Command searchplan prints the Postgres query plans of telefhir searches,
// for bench/search.sh: each search URL is parsed with the search Registry
// exactly as the server parses it, and run through the Postgres store's
// own statement builder (fhir/store/sqlq with the Postgres dialect) on a
// connection that first explains every statement. So every statement a
// search runs, the page, the count of _summary=count and _total, and each
// _include and _revinclude, is shown twice:
//
//   - EXPLAIN (ANALYZE, BUFFERS) with the search's arguments: the plan
//     Postgres picks for them, and what it did;
//   - EXPLAIN (ANALYZE, BUFFERS) EXECUTE of the statement prepared, under
//     plan_cache_mode = force_generic_plan: the generic plan that the
//     server's cached prepared statements (pgx caches them per
//     connection) may switch to after five executions.
//
// It reports every sequential scan of a large table (resource,
// resource_version, idx_*) in either plan, and exits with status 3 when
// there is one.
//
//	go run ./bench/searchplan -database-url postgres://... -queries bench/search-queries.tsv -ids patients.txt
package main
