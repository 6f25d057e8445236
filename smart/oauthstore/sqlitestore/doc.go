// Package sqlitestore keeps the SMART authorization server's state in the
// embedded SQLite file of fhir/store/sqlite, in the tables its migration
// 0003_smart creates. Writes run on the store's single writer connection,
// so single-use checks cannot race.
//
//	st := sqlitestore.New(fhirStore) // fhirStore: a migrated *sqlite.Store
package sqlitestore
