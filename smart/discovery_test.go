package smart_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/telefhir/telefhir/smart/identity"
)

func getJSON(t *testing.T, u string, hdr http.Header) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: not JSON: %.200s", u, b)
	}
	return res, out
}

func strList(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestDiscovery: smart-configuration, openid-configuration, JWKS, the
// style document and the CapabilityStatement security block, all open and
// with CORS for browser apps.
func TestDiscovery(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	origin := http.Header{"Origin": {"http://app.example:3000"}}
	res, sc := getJSON(t, h.base+"/.well-known/smart-configuration", origin)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("smart-configuration: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if res.Header.Get("Access-Control-Allow-Origin") != "http://app.example:3000" {
		t.Errorf("no CORS on discovery: %q", res.Header.Get("Access-Control-Allow-Origin"))
	}
	for k, want := range map[string]string{
		"issuer": h.base, "jwks_uri": h.base + "/auth/jwks", "authorization_endpoint": h.base + "/auth/authorize",
		"token_endpoint": h.base + "/auth/token", "introspection_endpoint": h.base + "/auth/introspect", "revocation_endpoint": h.base + "/auth/revoke",
	} {
		if sc[k] != want {
			t.Errorf("%s = %v, want %s", k, sc[k], want)
		}
	}
	if got := strList(sc["code_challenge_methods_supported"]); !slices.Equal(got, []string{"S256"}) {
		t.Errorf("code_challenge_methods_supported = %v", got)
	}
	for k, want := range map[string][]string{
		"grant_types_supported":                            {"authorization_code", "refresh_token", "client_credentials"},
		"token_endpoint_auth_methods_supported":            {"client_secret_basic", "private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": {"RS384", "ES384"},
		"response_types_supported":                         {"code"},
		"capabilities": {"launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric", "client-confidential-asymmetric",
			"sso-openid-connect", "context-banner", "context-style", "context-ehr-patient", "context-ehr-encounter", "context-standalone-patient",
			"permission-offline", "permission-online", "permission-patient", "permission-user", "permission-v1", "permission-v2", "authorize-post"},
	} {
		got := strList(sc[k])
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("%s lacks %s: %v", k, w, got)
			}
		}
	}
	if len(strList(sc["scopes_supported"])) == 0 {
		t.Error("no scopes_supported")
	}

	_, oc := getJSON(t, h.base+"/.well-known/openid-configuration", nil)
	if oc["issuer"] != h.base || oc["jwks_uri"] != h.base+"/auth/jwks" || !slices.Equal(strList(oc["id_token_signing_alg_values_supported"]), []string{"RS256"}) {
		t.Errorf("openid-configuration: %v", oc)
	}
	_, ks := getJSON(t, h.base+"/auth/jwks", nil)
	keys := ks["keys"].([]any)
	if len(keys) != 1 || keys[0].(map[string]any)["kty"] != "RSA" || keys[0].(map[string]any)["alg"] != "RS256" || keys[0].(map[string]any)["d"] != nil {
		t.Errorf("jwks: %v", ks)
	}
	if res, st := getJSON(t, h.base+"/auth/smart-style.json", nil); res.StatusCode != 200 || st["color_background"] == nil {
		t.Errorf("style: %d %v", res.StatusCode, st)
	}

	res, cs := getJSON(t, h.base+"/metadata", origin)
	if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != "http://app.example:3000" {
		t.Fatalf("/metadata: %d, CORS %q", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
	}
	sec := cs["rest"].([]any)[0].(map[string]any)["security"].(map[string]any)
	svc := sec["service"].([]any)[0].(map[string]any)["coding"].([]any)[0].(map[string]any)
	if svc["code"] != "SMART-on-FHIR" || sec["cors"] != true {
		t.Errorf("security: %v", sec)
	}
	uris := map[string]string{}
	for _, e := range sec["extension"].([]any)[0].(map[string]any)["extension"].([]any) {
		m := e.(map[string]any)
		uris[m["url"].(string)] = m["valueUri"].(string)
	}
	if uris["authorize"] != h.base+"/auth/authorize" || uris["token"] != h.base+"/auth/token" || uris["introspect"] != sc["introspection_endpoint"] || uris["revoke"] != sc["revocation_endpoint"] {
		t.Errorf("oauth-uris: %v", uris)
	}

	// A browser preflight to the token endpoint and to the FHIR API.
	for _, path := range []string{"/auth/token", "/Patient/" + identity.DevPatientID} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodOptions, h.base+path, nil)
		req.Header.Set("Origin", "http://app.example:3000")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != "http://app.example:3000" ||
			!strings.Contains(strings.ToLower(res.Header.Get("Access-Control-Allow-Headers")), "authorization") {
			t.Errorf("preflight %s: %d %v", path, res.StatusCode, res.Header)
		}
	}
}

// TestClientAdminAPI: only admins register and remove clients; a
// symmetric client's secret is shown once and never listed; removing a
// client revokes its tokens.
func TestClientAdminAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	admin := h.mint(t, "admin", "user/*.rs")
	practitioner := h.mint(t, "practitioner", "user/*.rs")
	reg := `{"client_id":"new-app","client_name":"New","kind":"confidential-symmetric","redirect_uris":["https://app.example/cb"],"scope":"launch/patient patient/*.rs"}`
	if res, _ := h.postJSON(t, "/auth/clients", practitioner, reg); res.StatusCode != 403 {
		t.Fatalf("practitioner registering: %d", res.StatusCode)
	}
	if res, _ := h.postJSON(t, "/auth/clients", "", reg); res.StatusCode != 401 {
		t.Fatalf("registering without a token: %d", res.StatusCode)
	}
	res, body := h.postJSON(t, "/auth/clients", admin, reg)
	secret, _ := body["client_secret"].(string)
	if res.StatusCode != 201 || secret == "" || body["client_id"] != "new-app" {
		t.Fatalf("register: %d %v", res.StatusCode, body)
	}
	if res, body := h.postJSON(t, "/auth/clients", admin, reg); res.StatusCode != 400 || !strings.Contains(body["error_description"].(string), "taken") {
		t.Fatalf("duplicate: %d %v", res.StatusCode, body)
	}
	bad := `{"kind":"confidential-asymmetric","redirect_uris":["http://evil.example/cb"],"scope":"patient/Nope.zz"}`
	if res, body := h.postJSON(t, "/auth/clients", admin, bad); res.StatusCode != 400 ||
		!strings.Contains(body["error_description"].(string), "jwks") || !strings.Contains(body["error_description"].(string), "localhost") || !strings.Contains(body["error_description"].(string), "scope") {
		t.Fatalf("invalid registration: %d %v", res.StatusCode, body)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, h.base+"/auth/clients", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	lres, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	listed, _ := io.ReadAll(lres.Body)
	lres.Body.Close()
	if lres.StatusCode != 200 || !strings.Contains(string(listed), "new-app") || strings.Contains(string(listed), secret) || strings.Contains(string(listed), "secret") {
		t.Fatalf("list: %d %s", lres.StatusCode, listed)
	}
	// The new client works, then is removed with its tokens.
	res, tok := h.postForm(t, "/auth/revoke", url.Values{"token": {"x"}}, http.Header{"Authorization": {"Basic " + basicAuth("new-app", secret)}})
	if res.StatusCode != 200 {
		t.Fatalf("new client authenticating: %d %v", res.StatusCode, tok)
	}
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodDelete, h.base+"/auth/clients/new-app", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	dres, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	dres.Body.Close()
	if dres.StatusCode != 204 {
		t.Fatalf("delete: %d", dres.StatusCode)
	}
	res, body = h.postForm(t, "/auth/revoke", url.Values{"token": {"x"}}, http.Header{"Authorization": {"Basic " + basicAuth("new-app", secret)}})
	wantOAuthError(t, res, body, 401, "invalid_client")
}

// TestTokenRateLimit: the token endpoint refuses a flood from one address
// with 429.
func TestTokenRateLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{tokenRate: 1, tokenBurst: 3})
	codes := map[int]int{}
	for range 6 {
		res, _ := h.postForm(t, "/auth/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {"x"}}, nil)
		codes[res.StatusCode]++
		if res.StatusCode == 429 && res.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if codes[429] < 2 || codes[401] < 3 {
		t.Fatalf("statuses %v, want 3 answers then 429s", codes)
	}
}

// TestNoSecretsInLogs: a whole flow with every kind of secret logs none of
// them.
func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	h := newHarnessLogged(t, slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug})))
	cl := h.register(t, publicApp)
	f := h.newFlow(t, h.oauthConfig(cl, "", "offline_access", "patient/Patient.rs"))
	code := f.code(t, "patient", 1, "")
	tok := f.exchange(t, code)
	h.postForm(t, "/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {cl.ID}}, nil)
	h.postForm(t, "/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {cl.ID}}, nil) // reuse: logged as a warning
	h.fhirGet(t, "/Patient/"+identity.DevPatientID, tok.AccessToken)
	out := logs.String()
	if !strings.Contains(out, "reused") {
		t.Fatalf("the reuse was not logged:\n%s", out)
	}
	for name, secret := range map[string]string{"code": code, "access token": tok.AccessToken, "refresh token": tok.RefreshToken, "verifier": f.verifier, "dev password": devPassword} {
		if strings.Contains(out, secret) {
			t.Errorf("the %s is in the logs", name)
		}
	}
}
