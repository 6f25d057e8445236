package smart_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/telefhir/telefhir/smart"
	"github.com/telefhir/telefhir/smart/identity"
	"github.com/telefhir/telefhir/smart/smarttest"
)

// TestStandalonePublic: a public client's standalone launch with
// launch/patient, openid fhirUser and offline_access, PKCE S256, the
// practitioner picking the patient; then the token reads FHIR, the
// id_token verifies with go-oidc, and the refresh token rotates.
func TestStandalonePublic(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	cl := h.register(t, publicApp)
	cfg := h.oauthConfig(cl, "", "launch/patient", "openid", "fhirUser", "offline_access", "patient/Patient.rs", "patient/Observation.rs")
	f := h.newFlow(t, cfg, oidc.Nonce("n-123"))
	code := f.code(t, "practitioner", 2, identity.DevPatientID)
	tok := f.exchange(t, code)

	if tok.TokenType != "Bearer" || tok.RefreshToken == "" || tok.Expiry.IsZero() {
		t.Fatalf("token: %+v", tok)
	}
	if got := tok.Extra("patient"); got != identity.DevPatientID {
		t.Errorf("patient = %v", got)
	}
	if got := tok.Extra("scope"); got != "launch/patient openid fhirUser offline_access patient/Patient.rs patient/Observation.rs" {
		t.Errorf("scope = %v", got)
	}
	if tok.Extra("need_patient_banner") != true || tok.Extra("smart_style_url") != h.base+"/auth/smart-style.json" {
		t.Errorf("banner/style: %v %v", tok.Extra("need_patient_banner"), tok.Extra("smart_style_url"))
	}

	// The id_token: RS256, our issuer, aud = client, nonce, fhirUser.
	p, err := oidc.NewProvider(t.Context(), h.base)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: cl.ID}).Verify(t.Context(), raw)
	if err != nil {
		t.Fatalf("id_token: %v", err)
	}
	var claims struct {
		FHIRUser string `json:"fhirUser"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != "practitioner" || idt.Nonce != "n-123" || claims.FHIRUser != h.base+"/Practitioner/"+identity.DevPractitionerID {
		t.Errorf("id_token: sub %q nonce %q fhirUser %q", idt.Subject, idt.Nonce, claims.FHIRUser)
	}
	// fhirUser resolves.
	if res, _ := h.fhirGet(t, "/Practitioner/"+identity.DevPractitionerID, tok.AccessToken); res.StatusCode != 200 {
		t.Errorf("fhirUser does not resolve: %d", res.StatusCode)
	}

	// The access token opens the FHIR API; no token does not.
	if res, _ := h.fhirGet(t, "/Patient/"+identity.DevPatientID, tok.AccessToken); res.StatusCode != 200 {
		t.Fatalf("read with token: %d", res.StatusCode)
	}
	res, body := h.fhirGet(t, "/Patient/"+identity.DevPatientID, "")
	if res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") != `Bearer realm="`+h.base+`"` || !strings.Contains(string(body), "OperationOutcome") {
		t.Fatalf("read without token: %d %q %s", res.StatusCode, res.Header.Get("WWW-Authenticate"), body)
	}

	// Refresh: a new access token and a rotated refresh token.
	src := cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken})
	next, err := src.Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if next.AccessToken == tok.AccessToken || next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh did not rotate: %+v", next)
	}
	if res, _ := h.fhirGet(t, "/Patient/"+identity.DevPatientID, next.AccessToken); res.StatusCode != 200 {
		t.Fatalf("read with refreshed token: %d", res.StatusCode)
	}
}

// TestDevAutoApprove: with the dev identity's auto-approve switch the
// authorize request comes straight back with a code, as the chosen user,
// the dev patient in context; the switch needs the dev identity.
func TestDevAutoApprove(t *testing.T) {
	t.Parallel()
	s := smarttest.Start(t, smarttest.Options{DevPassword: devPassword, AutoApprove: "practitioner"})
	h := &harness{base: s.Base, clock: &clock{t: time.Now()}, store: s.Store, svc: s.FHIR, srv: s.Auth}
	cl := h.register(t, publicApp)
	f := h.newFlow(t, h.oauthConfig(cl, "", "launch/patient", "openid", "fhirUser", "patient/Patient.rs"))
	back := location(t, f.get(t, f.authURL()))
	tok := f.exchange(t, back.Query().Get("code"))
	if tok.Extra("patient") != identity.DevPatientID {
		t.Fatalf("patient = %v", tok.Extra("patient"))
	}
	_, in := h.postForm(t, "/auth/introspect", url.Values{"token": {tok.AccessToken}}, bearerHeader(tok.AccessToken))
	if in["sub"] != "practitioner" {
		t.Fatalf("auto-approved as %v", in["sub"])
	}
	if _, err := smart.New(t.Context(), smart.Config{BaseURL: s.Base, Store: s.Store, FHIR: s.FHIR, Upstream: &identity.Upstream{}, AutoApprove: "practitioner"}); err == nil {
		t.Fatal("auto-approve accepted without the dev identity")
	}
}
