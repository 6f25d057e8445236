package smart_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/telefhir/telefhir/smart/client"
	"github.com/telefhir/telefhir/smart/identity"
	"github.com/telefhir/telefhir/smart/oauthstore"
)

// signingKey is a client's key pair for private_key_jwt.
type signingKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv any
	pub  any
}

func newRSAKey(t *testing.T, kid string) signingKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid, jose.RS384, k, &k.PublicKey}
}

func newECKey(t *testing.T, kid string) signingKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid, jose.ES384, k, &k.PublicKey}
}

func jwks(t *testing.T, keys ...signingKey) []byte {
	t.Helper()
	var set jose.JSONWebKeySet
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.pub, KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sign returns a client assertion signed by k with claims.
func sign(t *testing.T, k signingKey, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (h *harness) claims(clientID string) map[string]any {
	return map[string]any{
		"iss": clientID, "sub": clientID, "aud": h.base + "/auth/token",
		"exp": h.clock.Now().Add(4 * time.Minute).Unix(), "jti": oauth2.GenerateVerifier(),
	}
}

func assertionParams(a string) url.Values {
	return url.Values{"client_assertion_type": {client.AssertionType}, "client_assertion": {a}}
}

// TestSymmetricClient: a confidential client authenticates with HTTP Basic.
func TestSymmetricClient(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	secret := client.NewSecret()
	cl := publicApp
	cl.ID, cl.Kind, cl.SecretHash = "app-secret", oauthstore.Symmetric, oauthstore.Hash(secret)
	h.register(t, cl)
	cfg := h.oauthConfig(cl, secret, "launch/patient", "patient/Observation.rs", "offline_access")
	f := h.newFlow(t, cfg)
	tok := f.exchange(t, f.code(t, "patient", 1, ""))
	if tok.Extra("patient") != identity.DevPatientID || tok.RefreshToken == "" {
		t.Fatalf("token: %+v", tok)
	}

	bad := *cfg
	bad.ClientSecret = "wrong"
	g := h.newFlow(t, &bad)
	_, err := bad.Exchange(t.Context(), g.code(t, "patient", 1, ""), oauth2.VerifierOption(g.verifier))
	var re *oauth2.RetrieveError
	if !asRetrieve(err, &re) || re.Response.StatusCode != 401 || re.ErrorCode != "invalid_client" {
		t.Fatalf("wrong secret: %v", err)
	}
	// The secret is never accepted in the form, and a confidential client
	// cannot pass as public.
	res, body := h.postForm(t, "/auth/token", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {cl.ID}, "client_secret": {secret}}, nil)
	wantOAuthError(t, res, body, 401, "invalid_client")
	res, body = h.postForm(t, "/auth/token", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {cl.ID}}, nil)
	wantOAuthError(t, res, body, 401, "invalid_client")
	if res.Header.Get("WWW-Authenticate") == "" {
		t.Error("401 invalid_client without WWW-Authenticate")
	}
}

func asRetrieve(err error, re **oauth2.RetrieveError) bool {
	if err == nil {
		return false
	}
	r, ok := err.(*oauth2.RetrieveError)
	*re = r
	return ok
}

// TestAsymmetricClient: private_key_jwt with RS384 from an inline JWKS
// and ES384 from a JWKS URL, and every broken assertion refused.
func TestAsymmetricClient(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	rsaKey := newRSAKey(t, "rsa-1")
	ecKey := newECKey(t, "ec-1")
	jwksSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks(t, ecKey))
	}))
	t.Cleanup(jwksSrv.Close)

	inline := publicApp
	inline.ID, inline.Kind, inline.JWKS = "app-rsa", oauthstore.Asymmetric, jwks(t, rsaKey)
	h.register(t, inline)
	byURL := publicApp
	byURL.ID, byURL.Kind, byURL.JWKSURL = "app-ec", oauthstore.Asymmetric, jwksSrv.URL
	h.register(t, byURL)

	for _, tc := range []struct {
		cl  oauthstore.Client
		key signingKey
	}{{inline, rsaKey}, {byURL, ecKey}} {
		t.Run(string(tc.key.alg), func(t *testing.T) {
			cfg := h.oauthConfig(tc.cl, "", "openid", "fhirUser", "user/Patient.rs")
			f := h.newFlow(t, cfg)
			code := f.code(t, "practitioner", 1, "")
			a := sign(t, tc.key, h.claims(tc.cl.ID))
			tok := f.exchange(t, code, oauth2.SetAuthURLParam("client_assertion_type", client.AssertionType), oauth2.SetAuthURLParam("client_assertion", a))
			if tok.AccessToken == "" || tok.Extra("id_token") == nil {
				t.Fatalf("token: %+v", tok)
			}
			// The same assertion again: jti replay.
			res, body := h.postForm(t, "/auth/token", withForm(assertionParams(a), "grant_type", "authorization_code", "code", "x"), nil)
			wantOAuthError(t, res, body, 401, "invalid_client")
		})
	}

	other := newRSAKey(t, "rsa-1") // same kid, other key: bad signature
	tests := []struct {
		name string
		key  signingKey
		edit func(map[string]any)
		form func(url.Values)
	}{
		{"bad signature", other, nil, nil},
		{"unknown kid", newRSAKey(t, "rsa-9"), nil, nil},
		{"wrong aud", rsaKey, func(c map[string]any) { c["aud"] = "https://other.example/token" }, nil},
		{"iss is not sub", rsaKey, func(c map[string]any) { c["sub"] = "someone" }, nil},
		{"expired", rsaKey, func(c map[string]any) { c["exp"] = h.clock.Now().Add(-time.Minute).Unix() }, nil},
		{"exp too far ahead", rsaKey, func(c map[string]any) { c["exp"] = h.clock.Now().Add(time.Hour).Unix() }, nil},
		{"no exp", rsaKey, func(c map[string]any) { delete(c, "exp") }, nil},
		{"no jti", rsaKey, func(c map[string]any) { delete(c, "jti") }, nil},
		{"wrong assertion type", rsaKey, nil, func(v url.Values) { v.Set("client_assertion_type", "urn:other") }},
		{"client_id disagrees", rsaKey, nil, func(v url.Values) { v.Set("client_id", byURL.ID) }},
		{"garbage", rsaKey, nil, func(v url.Values) { v.Set("client_assertion", "a.b.c") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := h.claims(inline.ID)
			if tt.edit != nil {
				tt.edit(c)
			}
			v := withForm(assertionParams(sign(t, tt.key, c)), "grant_type", "client_credentials", "scope", "system/Patient.rs")
			if tt.form != nil {
				tt.form(v)
			}
			res, body := h.postForm(t, "/auth/token", v, nil)
			wantOAuthError(t, res, body, 401, "invalid_client")
		})
	}
	t.Run("HS256 refused", func(t *testing.T) {
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")}, nil)
		b, _ := json.Marshal(h.claims(inline.ID))
		jws, _ := s.Sign(b)
		a, _ := jws.CompactSerialize()
		res, body := h.postForm(t, "/auth/token", withForm(assertionParams(a), "grant_type", "client_credentials"), nil)
		wantOAuthError(t, res, body, 401, "invalid_client")
	})
}

func withForm(v url.Values, kv ...string) url.Values {
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// TestBackendServices: client_credentials with a signed assertion gives a
// short-lived system token and no refresh token.
func TestBackendServices(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	key := newRSAKey(t, "svc-1")
	svc := h.register(t, oauthstore.Client{ID: "backend", Kind: oauthstore.Asymmetric, JWKS: jwks(t, key), Scope: "system/Patient.rs system/Observation.cruds"})
	cc := func(sc ...string) *clientcredentials.Config {
		return &clientcredentials.Config{
			ClientID: svc.ID, TokenURL: h.base + "/auth/token", Scopes: sc, AuthStyle: oauth2.AuthStyleInParams,
			EndpointParams: assertionParams(sign(t, key, h.claims(svc.ID))),
		}
	}
	tok, err := cc("system/Patient.rs", "system/Observation.rs", "system/Encounter.rs").Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken != "" || tok.Extra("scope") != "system/Patient.rs system/Observation.rs" {
		t.Fatalf("token: %+v scope %v", tok, tok.Extra("scope"))
	}
	if in := tok.Extra("expires_in"); in == nil || in.(float64) > 300 {
		t.Fatalf("expires_in %v, want ≤ 300", in)
	}
	if res, _ := h.fhirGet(t, "/Patient/"+identity.DevPatientID, tok.AccessToken); res.StatusCode != 200 {
		t.Fatalf("system token on FHIR: %d", res.StatusCode)
	}
	_, err = cc("user/Patient.rs").Token(t.Context())
	var re *oauth2.RetrieveError
	if !asRetrieve(err, &re) || re.ErrorCode != "invalid_scope" {
		t.Fatalf("user scopes for a backend client: %v", err)
	}
	// Public clients have no client_credentials grant.
	h.register(t, publicApp)
	res, body := h.postForm(t, "/auth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {publicApp.ID}, "scope": {"system/Patient.rs"}}, nil)
	wantOAuthError(t, res, body, 400, "unauthorized_client")
	// The token expires after five minutes.
	h.clock.Advance(301 * time.Second)
	if res, body := h.fhirGet(t, "/Patient/"+identity.DevPatientID, tok.AccessToken); res.StatusCode != 401 ||
		res.Header.Get("WWW-Authenticate") == "" || !contains(res.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("expired token: %d %q %s", res.StatusCode, res.Header.Get("WWW-Authenticate"), body)
	}
}
