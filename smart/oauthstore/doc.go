// Package oauthstore is the storage contract of the SMART authorization
// server: registered clients, short-lived tickets (authorization codes,
// pending authorization requests, login sessions, launch contexts), access
// and refresh tokens (stored by hash only), used client-assertion jti
// values, and the id_token signing key.
//
// Everything that must be single use (codes, refresh tokens, jti values) is
// enforced by the database in one statement or transaction, so any number
// of API nodes can share one store. Two implementations exist over the FHIR
// stores' databases, smart/oauthstore/pgstore (Postgres) and
// smart/oauthstore/sqlitestore (the embedded SQLite file); both pass the
// suite in smart/oauthstore/oauthtest.
//
//	st := sqlitestore.New(fhirSQLiteStore)
//	err := st.CreateClient(ctx, oauthstore.Client{ID: "app", Kind: oauthstore.Public, ...})
package oauthstore
