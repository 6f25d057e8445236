// Package pgtest gives tests a throwaway Postgres schema, and a migrated
// postgres.Store in it, on the server named by TELEFHIR_TEST_DATABASE_URL
// (default postgres://postgres@127.0.0.1:5432/test?sslmode=disable).
//
//	func TestSomething(t *testing.T) {
//		s := pgtest.Open(t) // skipped without Postgres, fails when CI=true
//		...
//	}
//
// Each call creates its own schema storetest_<random> and drops it when the
// test ends, so tests can run in parallel and leave nothing behind.
package pgtest
