// Package sqlq turns a search.Query into SQL over the search-index tables
// that fhir/store/postgres and fhir/store/sqlite share, and runs it, so
// that search semantics are written once. The stores differ only in a
// Dialect (placeholders, booleans, timestamps) and in how they run a
// statement (a DB):
//
//	func (s *Store) Search(ctx context.Context, q search.Query) (search.Page, error) {
//		return sqlq.Search(ctx, sqlq.Postgres, searchDB{s.pool}, q)
//	}
//
// # Schema
//
// Both stores have the same tables (see their migrations). resource holds
// the current version of each resource and rid, a key assigned at creation
// and kept across updates and deletes. Each kind of search.Index row has a
// table (Tables): idx_string, idx_token, idx_date, idx_reference,
// idx_quantity, idx_number, idx_uri, each row carrying rid, res_type,
// param and grp (the element a composite's components came from).
//
// # Statements
//
// Every predicate is an EXISTS over its index table, joined by rid and
// res_type and filtered by param; OR within a clause, AND across clauses;
// :not is NOT EXISTS of the positive test (so resources without a value
// match), :missing is (NOT) EXISTS of any row of the parameter. Composite
// components are nested EXISTS with equal grp. Chains are an EXISTS of a
// reference row whose target is a current resource matching the chained
// query; _has an EXISTS of a referring resource. _id and _lastUpdated test
// the resource row. Only current, non-deleted resources match. Values are
// always bind arguments; LIKE patterns escape % _ and \, and prefix
// searches are ranges (norm >= 'smi' AND norm < 'smj', see PrefixEnd) that
// B-tree indexes serve in both stores.
//
// Date, number and quantity prefixes compare the row's range [lo, hi]
// with the searched value's [sLo, sHi] as the FHIR specification defines
// them (eq: the search range contains the row's; gt: the row reaches
// above it; ge: gt or eq; sa: the row starts after it; ...); ap is
// overlap for dates and "within 10% of the value" for numbers and
// quantities.
//
// # Pages
//
// A page is ORDER BY the sort keys then rid, LIMIT Count+1, after the
// cursor's (sort values..., rid) position, among resources with rid <=
// the cursor's snapshot (the highest rid when the first page was read):
// resources created during a walk are not part of it, updated ones keep
// their place unless their sort values change. There is no OFFSET.
// Missing sort values sort last in either direction. The total, when
// asked for, counts the same matches up to the snapshot; includes are
// fetched for the page's matches afterwards, each resource once.
package sqlq
