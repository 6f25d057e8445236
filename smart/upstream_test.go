package smart_test

import (
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/telefhir/telefhir/smart/identity"
)

// oidcUser is a user at the upstream provider with telefhir's claims.
type oidcUser struct {
	sub, role, fhirUser string
	patients            []string
}

func (u oidcUser) ID() string                        { return u.sub }
func (u oidcUser) Userinfo([]string) ([]byte, error) { return []byte(`{"sub":"` + u.sub + `"}`), nil }

type oidcClaims struct {
	*mockoidc.IDTokenClaims
	Name     string   `json:"name,omitempty"`
	Role     string   `json:"telefhir_role,omitempty"`
	FHIRUser string   `json:"fhirUser,omitempty"`
	Patients []string `json:"telefhir_patients,omitempty"`
}

func (u oidcUser) Claims(_ []string, c *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	return &oidcClaims{IDTokenClaims: c, Name: "Upstream " + u.sub, Role: u.role, FHIRUser: u.fhirUser, Patients: u.patients}, nil
}

// startProvider runs a real OpenID Connect provider on a random port.
func startProvider(t *testing.T) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return m
}

func newUpstreamHarness(t *testing.T, m *mockoidc.MockOIDC) *harness {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	up, err := identity.NewUpstream(t.Context(), identity.UpstreamConfig{
		Issuer: m.Issuer(), ClientID: m.ClientID, ClientSecret: m.ClientSecret, RedirectURL: base + "/auth/callback",
	})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessOptions{upstream: up, listener: ts})
	// With the upstream identity nothing is seeded: create the patient the
	// upstream user may see.
	if _, err := h.svc.Update(t.Context(), "Patient", "p-42", []byte(`{"resourceType":"Patient","id":"p-42","name":[{"family":"Upstream"}]}`), fhirPre()); err != nil {
		t.Fatal(err)
	}
	return h
}

// upstreamLogin follows authorize → our login → the provider → our
// callback and returns where the callback sent the browser (and its
// status when it did not redirect).
func upstreamLogin(t *testing.T, f *flow) (*url.URL, int) {
	t.Helper()
	loc := location(t, f.get(t, f.authURL()))
	toProvider := location(t, f.get(t, loc.String()))
	q := toProvider.Query()
	if q.Get("nonce") == "" || q.Get("code_challenge_method") != "S256" || q.Get("state") == "" {
		t.Fatalf("upstream authorize lacks nonce, PKCE or state: %s", toProvider)
	}
	callback := location(t, f.get(t, toProvider.String()))
	res := f.get(t, callback.String())
	if res.StatusCode >= 300 && res.StatusCode < 400 {
		return location(t, res), res.StatusCode
	}
	return callback, res.StatusCode
}

// TestUpstreamOIDC: login at a real OpenID Connect provider, its ID token
// verified with go-oidc, the claims mapped to role, fhirUser and the
// patients the user may pick; our own id_token is signed with our key.
func TestUpstreamOIDC(t *testing.T) {
	t.Parallel()
	m := startProvider(t)
	h := newUpstreamHarness(t, m)
	cl := h.register(t, publicApp)
	cfg := h.oauthConfig(cl, "", "launch/patient", "openid", "fhirUser", "patient/Patient.rs")

	m.QueueUser(oidcUser{sub: "dr-who", role: "practitioner", fhirUser: "Practitioner/77", patients: []string{"p-42"}})
	f := h.newFlow(t, cfg)
	consentURL, _ := upstreamLogin(t, f)
	back := f.consent(t, consentURL, allowAll(1, "p-42"))
	tok := f.exchange(t, back.Query().Get("code"))
	if tok.Extra("patient") != "p-42" {
		t.Fatalf("patient = %v", tok.Extra("patient"))
	}
	// Our id_token, signed with our key, not the provider's.
	p, err := oidc.NewProvider(t.Context(), h.base)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: cl.ID}).Verify(t.Context(), raw)
	if err != nil || idt.Subject != "dr-who" || idt.Issuer != h.base {
		t.Fatalf("id_token after an upstream login: %v %+v", err, idt)
	}
	_, in := h.postForm(t, "/auth/introspect", url.Values{"token": {tok.AccessToken}}, bearerHeader(tok.AccessToken))
	if in["sub"] != "dr-who" || in["fhirUser"] != h.base+"/Practitioner/77" {
		t.Fatalf("introspection: %v", in)
	}

	// A patient the claims do not allow cannot be picked.
	m.QueueUser(oidcUser{sub: "dr-who", role: "practitioner", fhirUser: "Practitioner/77", patients: []string{"p-42"}})
	g := h.newFlow(t, cfg)
	consentURL, _ = upstreamLogin(t, g)
	form := allowAll(1, identity.DevPatientID)
	form.Set("req", consentURL.Query().Get("req"))
	form.Set("decision", "allow")
	if res := g.post(t, h.base+"/auth/consent", form); res.StatusCode != 400 {
		t.Fatalf("picking a patient outside the claim: %d", res.StatusCode)
	}

	// An account without a role is refused at the callback.
	m.QueueUser(oidcUser{sub: "nobody"})
	r := h.newFlow(t, cfg)
	if _, status := upstreamLogin(t, r); status != 401 {
		t.Fatalf("user without a role: %d", status)
	}
}

// TestUpstreamCallbackReplay: a callback's state is single use.
func TestUpstreamCallbackReplay(t *testing.T) {
	t.Parallel()
	m := startProvider(t)
	h := newUpstreamHarness(t, m)
	cl := h.register(t, publicApp)
	m.QueueUser(oidcUser{sub: "pat", role: "patient", fhirUser: "Patient/p-42"})
	f := h.newFlow(t, h.oauthConfig(cl, "", "patient/Patient.rs"))
	loc := location(t, f.get(t, f.authURL()))
	toProvider := location(t, f.get(t, loc.String()))
	callback := location(t, f.get(t, toProvider.String()))
	if res := f.get(t, callback.String()); res.StatusCode != 303 {
		t.Fatalf("first callback: %d", res.StatusCode)
	}
	if res := f.get(t, callback.String()); res.StatusCode != 400 {
		t.Fatalf("replayed callback: %d", res.StatusCode)
	}
	// A forged state is refused too.
	u := *callback
	q := u.Query()
	q.Set("state", "forged")
	u.RawQuery = q.Encode()
	if res := f.get(t, u.String()); res.StatusCode != 400 {
		t.Fatalf("forged state: %d", res.StatusCode)
	}
}
