package smart_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/telefhir/telefhir/smart/identity"
)

// TestTokenFailures: every way a code exchange can be wrong is a 400
// invalid_grant (or the specific RFC 6749 error), and a code is single use.
func TestTokenFailures(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	cl := h.register(t, publicApp)
	cfg := h.oauthConfig(cl, "", "openid", "fhirUser", "patient/Patient.rs")
	newCode := func(t *testing.T) *flow {
		t.Helper()
		f := h.newFlow(t, cfg)
		f.state = f.code(t, "patient", 1, "") // keep the code in state for brevity
		return f
	}
	exchange := func(t *testing.T, form url.Values) (*http.Response, map[string]any) {
		t.Helper()
		return h.postForm(t, "/auth/token", form, nil)
	}
	base := func(f *flow) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {f.state}, "redirect_uri": {cl.RedirectURIs[0]}, "client_id": {cl.ID}, "code_verifier": {f.verifier}}
	}
	tests := []struct {
		name   string
		change func(f *flow, v url.Values)
		status int
		code   string
	}{
		{"bad code", func(f *flow, v url.Values) { v.Set("code", "not-a-code") }, 400, "invalid_grant"},
		{"empty code", func(f *flow, v url.Values) { v.Set("code", "") }, 400, "invalid_grant"},
		{"wrong verifier", func(f *flow, v url.Values) { v.Set("code_verifier", oauth2.GenerateVerifier()) }, 400, "invalid_grant"},
		{"empty verifier", func(f *flow, v url.Values) { v.Set("code_verifier", "") }, 400, "invalid_grant"},
		{"missing verifier", func(f *flow, v url.Values) { v.Del("code_verifier") }, 400, "invalid_grant"},
		{"short verifier", func(f *flow, v url.Values) { v.Set("code_verifier", "abc") }, 400, "invalid_grant"},
		{"other redirect_uri", func(f *flow, v url.Values) { v.Set("redirect_uri", "http://localhost:9999/other") }, 400, "invalid_grant"},
		{"wrong grant type", func(f *flow, v url.Values) { v.Set("grant_type", "password") }, 400, "unsupported_grant_type"},
		{"no grant type", func(f *flow, v url.Values) { v.Del("grant_type") }, 400, "invalid_request"},
		{"unknown client", func(f *flow, v url.Values) { v.Set("client_id", "nobody") }, 401, "invalid_client"},
		{"no client", func(f *flow, v url.Values) { v.Del("client_id") }, 401, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newCode(t)
			v := base(f)
			tt.change(f, v)
			res, body := exchange(t, v)
			wantOAuthError(t, res, body, tt.status, tt.code)
		})
	}

	t.Run("reused code", func(t *testing.T) {
		f := newCode(t)
		if res, body := exchange(t, base(f)); res.StatusCode != 200 || body["access_token"] == nil {
			t.Fatalf("first exchange: %d %v", res.StatusCode, body)
		}
		res, body := exchange(t, base(f))
		wantOAuthError(t, res, body, 400, "invalid_grant")
	})
	t.Run("code of another client", func(t *testing.T) {
		other := publicApp
		other.ID = "app-other"
		h.register(t, other)
		f := newCode(t)
		v := base(f)
		v.Set("client_id", other.ID)
		res, body := exchange(t, v)
		wantOAuthError(t, res, body, 400, "invalid_grant")
	})
	t.Run("expired code", func(t *testing.T) {
		f := newCode(t)
		h.clock.Advance(61 * time.Second)
		res, body := exchange(t, base(f))
		wantOAuthError(t, res, body, 400, "invalid_grant")
	})
	t.Run("a wrong verifier burns the code", func(t *testing.T) {
		f := newCode(t)
		v := base(f)
		v.Set("code_verifier", oauth2.GenerateVerifier())
		exchange(t, v)
		res, body := exchange(t, base(f))
		wantOAuthError(t, res, body, 400, "invalid_grant")
	})
}

// TestAuthorizeFailures: a bad client_id or redirect_uri gets an error
// page and never a redirect; every other problem redirects back with
// error, error_description and state.
func TestAuthorizeFailures(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	cl := h.register(t, publicApp)
	f := h.newFlow(t, h.oauthConfig(cl, "", "patient/Patient.rs"))
	good := func() url.Values {
		u, _ := url.Parse(f.authURL())
		return u.Query()
	}
	page := []struct {
		name   string
		change func(url.Values)
	}{
		{"unknown client", func(v url.Values) { v.Set("client_id", "nobody") }},
		{"unregistered redirect_uri", func(v url.Values) { v.Set("redirect_uri", "https://evil.example/cb") }},
		{"redirect_uri with extra path", func(v url.Values) { v.Set("redirect_uri", cl.RedirectURIs[0]+"/x") }},
		{"missing redirect_uri", func(v url.Values) { v.Del("redirect_uri") }},
	}
	for _, tt := range page {
		t.Run(tt.name, func(t *testing.T) {
			v := good()
			tt.change(v)
			res := f.get(t, h.base+"/auth/authorize?"+v.Encode())
			if res.StatusCode != 400 || res.Header.Get("Location") != "" || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("got %d Location %q, want a 400 error page", res.StatusCode, res.Header.Get("Location"))
			}
		})
	}
	redirect := []struct {
		name   string
		change func(url.Values)
		code   string
	}{
		{"wrong aud", func(v url.Values) { v.Set("aud", "https://other.example/fhir") }, "invalid_request"},
		{"missing aud", func(v url.Values) { v.Del("aud") }, "invalid_request"},
		{"no PKCE", func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }, "invalid_request"},
		{"plain PKCE", func(v url.Values) { v.Set("code_challenge_method", "plain") }, "invalid_request"},
		{"malformed challenge", func(v url.Values) { v.Set("code_challenge", "short") }, "invalid_request"},
		{"token response type", func(v url.Values) { v.Set("response_type", "token") }, "unsupported_response_type"},
		{"malformed scope", func(v url.Values) { v.Set("scope", "patient/Observation.zz") }, "invalid_scope"},
		{"unknown resource type", func(v url.Values) { v.Set("scope", "patient/Unicorn.rs") }, "invalid_scope"},
		{"nothing grantable", func(v url.Values) { v.Set("scope", "system/Patient.rs") }, "invalid_scope"},
		{"unknown launch", func(v url.Values) { v.Set("launch", "nope"); v.Set("scope", "launch patient/Patient.rs") }, "invalid_request"},
	}
	for _, tt := range redirect {
		t.Run(tt.name, func(t *testing.T) {
			v := good()
			tt.change(v)
			loc := location(t, f.get(t, h.base+"/auth/authorize?"+v.Encode()))
			q := loc.Query()
			if loc.Scheme+"://"+loc.Host+loc.Path != cl.RedirectURIs[0] || q.Get("error") != tt.code || q.Get("state") != f.state || q.Get("error_description") == "" {
				t.Fatalf("redirect %s, want error=%s with state", loc, tt.code)
			}
		})
	}
	t.Run("missing state", func(t *testing.T) {
		v := good()
		v.Del("state")
		loc := location(t, f.get(t, h.base+"/auth/authorize?"+v.Encode()))
		if loc.Query().Get("error") != "invalid_request" {
			t.Fatalf("redirect %s", loc)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		g := h.newFlow(t, h.oauthConfig(cl, "", "patient/Patient.rs"))
		loc := location(t, g.get(t, g.authURL()))
		res := g.post(t, h.base+"/auth/login", url.Values{"req": {loc.Query().Get("req")}, "username": {"practitioner"}, "password": {"wrong"}})
		if res.StatusCode != 401 || res.Header.Get("Location") != "" {
			t.Fatalf("wrong password: %d", res.StatusCode)
		}
	})
	t.Run("expired request", func(t *testing.T) {
		g := h.newFlow(t, h.oauthConfig(cl, "", "patient/Patient.rs"))
		loc := location(t, g.get(t, g.authURL()))
		h.clock.Advance(16 * time.Minute)
		res := g.post(t, h.base+"/auth/login", url.Values{"req": {loc.Query().Get("req")}, "username": {"practitioner"}, "password": {devPassword}})
		if res.StatusCode != 400 || res.Header.Get("Location") != "" {
			t.Fatalf("expired request: %d", res.StatusCode)
		}
	})
	t.Run("denied", func(t *testing.T) {
		g := h.newFlow(t, h.oauthConfig(cl, "", "patient/Patient.rs"))
		back := g.consent(t, g.login(t, "patient"), url.Values{"decision": {"deny"}})
		if back.Query().Get("error") != "access_denied" || back.Query().Get("state") != g.state {
			t.Fatalf("deny: %s", back)
		}
	})
	t.Run("patient must be picked", func(t *testing.T) {
		g := h.newFlow(t, h.oauthConfig(cl, "", "launch/patient", "patient/Patient.rs"))
		consentURL := g.login(t, "practitioner")
		form := allowAll(1, "")
		form.Set("req", consentURL.Query().Get("req"))
		form.Set("decision", "allow")
		res := g.post(t, h.base+"/auth/consent", form)
		if res.StatusCode != 400 || res.Header.Get("Location") != "" {
			t.Fatalf("consent without a patient: %d", res.StatusCode)
		}
		form.Set("patient", "no-such-patient")
		if res := g.post(t, h.base+"/auth/consent", form); res.StatusCode != 400 {
			t.Fatalf("consent with an unknown patient: %d", res.StatusCode)
		}
		form.Set("patient", identity.DevPatientID)
		if loc := location(t, g.post(t, h.base+"/auth/consent", form)); loc.Query().Get("code") == "" {
			t.Fatalf("consent with a patient: %s", loc)
		}
	})
}
