package smart_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/telefhir/telefhir/smart/client"
	"github.com/telefhir/telefhir/smart/identity"
	"github.com/telefhir/telefhir/smart/oauthstore"
)

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// TestRefreshRotationAndReuse: refresh tokens rotate; presenting a
// rotated one revokes every token of the authorization.
func TestRefreshRotationAndReuse(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	cl := h.register(t, publicApp)
	cfg := h.oauthConfig(cl, "", "offline_access", "patient/Patient.rs", "patient/Observation.rs")
	f := h.newFlow(t, cfg)
	first := f.exchange(t, f.code(t, "patient", 2, ""))
	refresh := func(rt string, extra ...string) (*http.Response, map[string]any) {
		v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {cl.ID}}
		return h.postForm(t, "/auth/token", withForm(v, extra...), nil)
	}
	res, second := refresh(first.RefreshToken)
	if res.StatusCode != 200 || second["refresh_token"] == first.RefreshToken {
		t.Fatalf("refresh: %d %v", res.StatusCode, second)
	}
	// Narrowing is allowed; widening is not.
	res, narrow := refresh(second["refresh_token"].(string), "scope", "patient/Patient.rs")
	if res.StatusCode != 200 || narrow["scope"] != "offline_access patient/Patient.rs" {
		t.Fatalf("narrowing refresh: %d %v", res.StatusCode, narrow)
	}
	res, body := refresh(narrow["refresh_token"].(string), "scope", "patient/Patient.cruds")
	wantOAuthError(t, res, body, 400, "invalid_scope")

	res, body = refresh("random-" + client.NewSecret())
	wantOAuthError(t, res, body, 400, "invalid_grant")
	res, body = h.postForm(t, "/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {narrow["refresh_token"].(string)}, "client_id": {"app-other"}}, nil)
	wantOAuthError(t, res, body, 401, "invalid_client")

	live := narrow["access_token"].(string)
	if res, _ := h.fhirGet(t, "/Patient/"+identity.DevPatientID, live); res.StatusCode != 200 {
		t.Fatalf("live token: %d", res.StatusCode)
	}
	// Reuse of the first (rotated) refresh token: the family dies.
	res, body = refresh(first.RefreshToken)
	wantOAuthError(t, res, body, 400, "invalid_grant")
	if res, _ := h.fhirGet(t, "/Patient/"+identity.DevPatientID, live); res.StatusCode != 401 {
		t.Fatalf("access token of a reused family: %d", res.StatusCode)
	}
	res, body = refresh(narrow["refresh_token"].(string))
	wantOAuthError(t, res, body, 400, "invalid_grant")
}

// TestIntrospectAndRevoke: introspection answers active tokens with their
// context and everything else with active:false only; revoked access
// tokens get 401 on FHIR and revoked refresh tokens 400.
func TestIntrospectAndRevoke(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	secret := client.NewSecret()
	cl := publicApp
	cl.ID, cl.Kind, cl.SecretHash = "app-secret", oauthstore.Symmetric, oauthstore.Hash(secret)
	h.register(t, cl)
	cfg := h.oauthConfig(cl, secret, "launch/patient", "openid", "fhirUser", "offline_access", "patient/Patient.rs")
	f := h.newFlow(t, cfg)
	tok := f.exchange(t, f.code(t, "patient", 1, ""))
	basic := http.Header{"Authorization": {"Basic " + basicAuth(cl.ID, secret)}}

	res, in := h.postForm(t, "/auth/introspect", url.Values{"token": {tok.AccessToken}}, basic)
	if res.StatusCode != 200 || in["active"] != true || in["client_id"] != cl.ID || in["sub"] != "patient" || in["patient"] != identity.DevPatientID ||
		in["scope"] != "launch/patient openid fhirUser offline_access patient/Patient.rs" || in["iss"] != h.base || in["exp"] == nil ||
		in["fhirUser"] != h.base+"/Patient/"+identity.DevPatientID {
		t.Fatalf("introspect: %d %v", res.StatusCode, in)
	}
	// A resource server may introspect with its own bearer token.
	res, in = h.postForm(t, "/auth/introspect", url.Values{"token": {tok.RefreshToken}}, http.Header{"Authorization": {"Bearer " + tok.AccessToken}})
	if res.StatusCode != 200 || in["active"] != true {
		t.Fatalf("introspect refresh token: %d %v", res.StatusCode, in)
	}
	res, in = h.postForm(t, "/auth/introspect", url.Values{"token": {"unknown"}}, basic)
	if res.StatusCode != 200 || len(in) != 1 || in["active"] != false {
		t.Fatalf("introspect unknown: %d %v", res.StatusCode, in)
	}
	res, body := h.postForm(t, "/auth/introspect", url.Values{"token": {tok.AccessToken}}, nil)
	wantOAuthError(t, res, body, 401, "invalid_client")

	// Revoke the access token: 401 on FHIR, inactive at introspection.
	if res, _ := h.postForm(t, "/auth/revoke", url.Values{"token": {tok.AccessToken}}, basic); res.StatusCode != 200 {
		t.Fatalf("revoke: %d", res.StatusCode)
	}
	if res, _ := h.fhirGet(t, "/Patient/"+identity.DevPatientID, tok.AccessToken); res.StatusCode != 401 || !contains(res.Header.Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("revoked token on FHIR: %d", res.StatusCode)
	}
	if _, in := h.postForm(t, "/auth/introspect", url.Values{"token": {tok.AccessToken}}, basic); in["active"] != false {
		t.Fatalf("revoked token introspects %v", in)
	}
	// Revoke the refresh token: refreshing is a 400.
	if res, _ := h.postForm(t, "/auth/revoke", url.Values{"token": {tok.RefreshToken}}, basic); res.StatusCode != 200 {
		t.Fatalf("revoke refresh: %d", res.StatusCode)
	}
	res, body = h.postForm(t, "/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, basic)
	wantOAuthError(t, res, body, 400, "invalid_grant")
	// Unknown tokens revoke quietly.
	if res, _ := h.postForm(t, "/auth/revoke", url.Values{"token": {"nope"}}, basic); res.StatusCode != 200 {
		t.Fatalf("revoke unknown: %d", res.StatusCode)
	}
}

// TestEHRLaunch: the launch API mints a launch id for a practitioner; the
// app's authorization with it carries patient and encounter into the
// token, and only the launching user may complete it.
func TestEHRLaunch(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	cl := publicApp
	cl.LaunchURL = "http://localhost:9999/launch"
	h.register(t, cl)
	admin := h.mint(t, "admin", "user/*.rs")
	practitioner := h.mint(t, "practitioner", "user/*.rs")
	patient := h.mint(t, "patient", "patient/*.rs")

	res, body := h.postJSON(t, "/auth/launch", practitioner, `{"patient":"`+identity.DevPatientID+`","encounter":"`+identity.DevEncounterID+`","client_id":"`+cl.ID+`"}`)
	if res.StatusCode != 201 || body["launch"] == "" || !contains(body["launch_url"].(string), "iss="+url.QueryEscape(h.base)) {
		t.Fatalf("launch API: %d %v", res.StatusCode, body)
	}
	launch := body["launch"].(string)
	if res, _ := h.postJSON(t, "/auth/launch", patient, `{"patient":"`+identity.DevPatientID+`"}`); res.StatusCode != 403 {
		t.Fatalf("patient launching: %d", res.StatusCode)
	}
	if res, _ := h.postJSON(t, "/auth/launch", admin, `{"patient":"nobody"}`); res.StatusCode != 400 {
		t.Fatalf("launch of an unknown patient: %d", res.StatusCode)
	}
	if res, _ := h.postJSON(t, "/auth/launch", "", `{"patient":"x"}`); res.StatusCode != 401 {
		t.Fatalf("launch without a token: %d", res.StatusCode)
	}

	cfg := h.oauthConfig(cl, "", "launch", "openid", "fhirUser", "patient/*.rs")
	f := h.newFlow(t, cfg, oauth2.SetAuthURLParam("launch", launch))
	tok := f.exchange(t, f.code(t, "practitioner", 1, ""))
	if tok.Extra("patient") != identity.DevPatientID || tok.Extra("encounter") != identity.DevEncounterID {
		t.Fatalf("launch context: patient %v encounter %v", tok.Extra("patient"), tok.Extra("encounter"))
	}
	fc, _ := tok.Extra("fhirContext").([]any)
	if len(fc) != 1 || fc[0].(map[string]any)["reference"] != "Encounter/"+identity.DevEncounterID {
		t.Fatalf("fhirContext: %v", tok.Extra("fhirContext"))
	}

	// Without the launch scope the launch gives no context.
	noLaunch := h.newFlow(t, h.oauthConfig(cl, "", "openid", "fhirUser", "user/Patient.rs"), oauth2.SetAuthURLParam("launch", launch))
	if tok := noLaunch.exchange(t, noLaunch.code(t, "practitioner", 1, "")); tok.Extra("patient") != nil || tok.Extra("encounter") != nil {
		t.Fatalf("context without the launch scope: %v %v", tok.Extra("patient"), tok.Extra("encounter"))
	}

	// Another user cannot complete the practitioner's launch.
	g := h.newFlow(t, cfg, oauth2.SetAuthURLParam("launch", launch))
	back := g.login(t, "admin")
	if back.Query().Get("error") != "access_denied" {
		t.Fatalf("launch by another user: %s", back)
	}
}

// TestConsentNarrowing: what the user unticks, the permissions they take
// away and the categories they pick shape the granted scope.
func TestConsentNarrowing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	cl := h.register(t, publicApp)
	cfg := h.oauthConfig(cl, "", "offline_access", "patient/Patient.read", "patient/Observation.rs", "patient/Condition.rs", "patient/Encounter.cruds")
	f := h.newFlow(t, cfg)
	back := f.consent(t, f.login(t, "patient"), url.Values{
		"s0": {"on"}, "p0": {"r", "s"}, // Patient.read kept as v1
		"s1": {"on"}, "p1": {"r", "s"}, "cat1": {"http://terminology.hl7.org/CodeSystem/observation-category|vital-signs", "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"},
		// Condition unticked
		"s3": {"on"}, "p3": {"r"}, // Encounter cut to read
		// offline_access not kept
	})
	tok := f.exchange(t, back.Query().Get("code"))
	want := "patient/Patient.read " +
		"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs " +
		"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory " +
		"patient/Encounter.r"
	if tok.Extra("scope") != want || tok.RefreshToken != "" {
		t.Fatalf("scope %q (refresh %q), want %q", tok.Extra("scope"), tok.RefreshToken, want)
	}

	// A wildcard scope limited to some types; unknown names are dropped.
	g := h.newFlow(t, h.oauthConfig(cl, "", "patient/*.rs", "user/*.read"))
	back = g.consent(t, g.login(t, "practitioner"), url.Values{
		"s0": {"on"}, "p0": {"r", "s"}, "types0": {"Patient, Observation,Unicorn"},
		"s1": {"on"}, "p1": {"r", "s"}, "types1": {"Unicorn"},
	})
	if got := g.exchange(t, back.Query().Get("code")).Extra("scope"); got != "patient/Patient.rs patient/Observation.rs" {
		t.Fatalf("types narrowing: %q", got)
	}
}
