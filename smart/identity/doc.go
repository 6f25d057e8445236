// Package identity says who the user at the authorize endpoint is: the
// built-in dev identity (seeded practitioner, patient, admin and auditor
// users, for local use only) or an upstream OpenID Connect provider whose
// ID tokens are verified with go-oidc (issuer, audience, nonce) and whose
// claims are mapped to a local User: fhirUser, role and allowed patients.
//
//	dev := identity.NewDev(password)
//	u, ok := dev.Check("practitioner", password)
//
//	up, err := identity.NewUpstream(ctx, identity.UpstreamConfig{Issuer: iss, ClientID: id, RedirectURL: cb})
//	http.Redirect(w, r, up.AuthCodeURL(state, nonce, verifier), http.StatusFound)
//	u, err := up.Exchange(ctx, code, verifier, nonce)
package identity
