// Package pgstore keeps the SMART authorization server's state in the
// Postgres database of fhir/store/postgres, in the tables its migration
// 0003_smart creates. Single use is enforced by the database (DELETE ...
// RETURNING for codes, a conditional UPDATE for refresh-token rotation, a
// primary key for jti values), so any number of API nodes can share it.
//
//	st := pgstore.New(fhirStore) // fhirStore: a migrated *postgres.Store
package pgstore
