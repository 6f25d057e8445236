// Package oauthtest is the conformance suite every oauthstore.Store
// implementation must pass, in the manner of fhir/store/storetest:
//
//	func TestStore(t *testing.T) {
//		oauthtest.Run(t, func(t *testing.T) oauthstore.Store { return newStore(t) })
//	}
//
// It covers client registration, ticket expiry and single use under
// concurrency, refresh-token rotation with reuse detection (the family is
// revoked), revocation, jti replay, the signing-key slot and Purge.
package oauthtest
