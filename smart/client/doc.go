// Package client registers SMART clients and authenticates them at the
// token, introspection and revocation endpoints: public clients by
// client_id, confidential symmetric clients by HTTP Basic
// (client_secret_basic), and confidential asymmetric clients by a signed
// JWT assertion (private_key_jwt, RS384 or ES384, keys from an inline JWKS
// or a JWKS URL, jti single use).
//
//	a := &client.Authenticator{Store: st, TokenURL: base + "/auth/token"}
//	c, err := a.Authenticate(ctx, r.Header.Get("Authorization"), form)
package client
