package smart_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/smart"
	"github.com/telefhir/telefhir/smart/identity"
	"github.com/telefhir/telefhir/smart/oauthstore"
	"github.com/telefhir/telefhir/smart/smarttest"
)

const devPassword = "dev-password-for-tests"

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness is the whole server (FHIR API behind the bearer middleware and
// the authorization server) on the embedded store, over real HTTP.
type harness struct {
	base  string
	clock *clock
	store oauthstore.Store
	svc   *fhir.Service
	srv   *smart.Server
}

type harnessOptions struct {
	upstream   *identity.Upstream
	tokenRate  float64
	tokenBurst int
	// base, when set, is the listener address to use (the upstream
	// provider needs the callback URL before the server starts).
	listener *httptest.Server
}

func newHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	return newHarnessWith(t, o, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func newHarnessLogged(t *testing.T, log *slog.Logger) *harness {
	t.Helper()
	return newHarnessWith(t, harnessOptions{}, log)
}

// syncWriter serialises writes of concurrent handlers.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func newHarnessWith(t *testing.T, o harnessOptions, log *slog.Logger) *harness {
	t.Helper()
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	s := smarttest.Start(t, smarttest.Options{
		Upstream: o.upstream, DevPassword: devPassword, Listener: o.listener, Now: clk.Now, Logger: log,
		TokenRate: o.tokenRate, TokenBurst: o.tokenBurst,
	})
	return &harness{base: s.Base, clock: clk, store: s.Store, svc: s.FHIR, srv: s.Auth}
}

// browser is an HTTP client with its own cookies that does not follow
// redirects, so each step of a flow is seen.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (h *harness) register(t *testing.T, c oauthstore.Client) oauthstore.Client {
	t.Helper()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = h.clock.Now()
	}
	if err := h.store.CreateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

func (h *harness) oauthConfig(c oauthstore.Client, secret string, scopes ...string) *oauth2.Config {
	style := oauth2.AuthStyleInParams
	if secret != "" {
		style = oauth2.AuthStyleInHeader
	}
	redirect := ""
	if len(c.RedirectURIs) > 0 {
		redirect = c.RedirectURIs[0]
	}
	return &oauth2.Config{
		ClientID: c.ID, ClientSecret: secret, RedirectURL: redirect, Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: h.base + "/auth/authorize", TokenURL: h.base + "/auth/token", AuthStyle: style},
	}
}

// flow is one authorization in a browser.
type flow struct {
	h        *harness
	b        *http.Client
	cfg      *oauth2.Config
	verifier string
	state    string
	extra    []oauth2.AuthCodeOption
}

func (h *harness) newFlow(t *testing.T, cfg *oauth2.Config, extra ...oauth2.AuthCodeOption) *flow {
	t.Helper()
	return &flow{h: h, b: browser(t), cfg: cfg, verifier: oauth2.GenerateVerifier(), state: "st-" + oauth2.GenerateVerifier()[:8], extra: extra}
}

func (f *flow) authURL() string {
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.verifier), oauth2.SetAuthURLParam("aud", f.h.base)}, f.extra...)
	return f.cfg.AuthCodeURL(f.state, opts...)
}

func (f *flow) get(t *testing.T, u string) *http.Response {
	t.Helper()
	res, err := f.b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func (f *flow) post(t *testing.T, u string, form url.Values) *http.Response {
	t.Helper()
	res, err := f.b.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// location returns the redirect target of res, failing unless res is a
// redirect.
func location(t *testing.T, res *http.Response) *url.URL {
	t.Helper()
	if res.StatusCode < 300 || res.StatusCode > 399 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("%s %s: status %d, want a redirect; body: %.400s", res.Request.Method, res.Request.URL.Path, res.StatusCode, b)
	}
	u, err := res.Request.URL.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// login starts the flow and signs in as user; it returns the consent
// page URL (or wherever the server sent the browser after login).
func (f *flow) login(t *testing.T, user string) *url.URL {
	t.Helper()
	loc := location(t, f.get(t, f.authURL()))
	if loc.Path != "/auth/login" {
		t.Fatalf("authorize sent the browser to %s, want the login page", loc)
	}
	page := f.get(t, loc.String())
	if page.StatusCode != http.StatusOK {
		t.Fatalf("login page: %d", page.StatusCode)
	}
	return location(t, f.post(t, f.h.base+"/auth/login", url.Values{"req": {loc.Query().Get("req")}, "username": {user}, "password": {devPassword}}))
}

// consent submits the consent form; form holds the choices (s<i>, p<i>,
// cat<i>, patient, offline), req and decision are added.
func (f *flow) consent(t *testing.T, consentURL *url.URL, form url.Values) *url.URL {
	t.Helper()
	if consentURL.Path != "/auth/consent" {
		t.Fatalf("expected the consent page, got %s", consentURL)
	}
	page := f.get(t, consentURL.String())
	if page.StatusCode != http.StatusOK {
		t.Fatalf("consent page: %d", page.StatusCode)
	}
	if form == nil {
		form = url.Values{}
	}
	form.Set("req", consentURL.Query().Get("req"))
	if form.Get("decision") == "" {
		form.Set("decision", "allow")
	}
	return location(t, f.post(t, f.h.base+"/auth/consent", form))
}

// allowAll is the consent form with every offered scope and permission
// ticked (n resource scopes) and offline access kept.
func allowAll(n int, patient string) url.Values {
	form := url.Values{"offline": {"on"}, "online": {"on"}}
	for i := range n {
		k := strings.TrimSpace(string(rune('0' + i)))
		form.Set("s"+k, "on")
		form["p"+k] = []string{"c", "r", "u", "d", "s"}
	}
	if patient != "" {
		form.Set("patient", patient)
	}
	return form
}

// code runs the whole browser part as user with every scope allowed and
// returns the code.
func (f *flow) code(t *testing.T, user string, nScopes int, patient string) string {
	t.Helper()
	back := f.consent(t, f.login(t, user), allowAll(nScopes, patient))
	if back.Query().Get("state") != f.state {
		t.Fatalf("redirect lost the state: %s", back)
	}
	code := back.Query().Get("code")
	if code == "" {
		t.Fatalf("no code in %s", back)
	}
	return code
}

func (f *flow) exchange(t *testing.T, code string, opts ...oauth2.AuthCodeOption) *oauth2.Token {
	t.Helper()
	tok, err := f.cfg.Exchange(t.Context(), code, append([]oauth2.AuthCodeOption{oauth2.VerifierOption(f.verifier)}, opts...)...)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok
}

// fhirGet reads path from the FHIR API with token (none when empty).
func (h *harness) fhirGet(t *testing.T, path, token string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, h.base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// postForm posts to an OAuth endpoint and decodes the JSON answer.
func (h *harness) postForm(t *testing.T, path string, form url.Values, hdr http.Header) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, h.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
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
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s: %d, not JSON: %s", path, res.StatusCode, b)
		}
	}
	return res, out
}

func wantOAuthError(t *testing.T, res *http.Response, body map[string]any, status int, code string) {
	t.Helper()
	if res.StatusCode != status || body["error"] != code {
		t.Fatalf("got %d %v, want %d error=%s", res.StatusCode, body, status, code)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("OAuth error without Cache-Control: no-store")
	}
}

var publicApp = oauthstore.Client{
	ID: "app-public", Name: "Public app", Kind: oauthstore.Public, RedirectURIs: []string{"http://localhost:9999/cb"},
	Scope: "launch launch/patient launch/encounter openid fhirUser offline_access online_access patient/*.cruds user/*.cruds",
}

func ctxT(t *testing.T) context.Context { return t.Context() }

// mint is a token for a dev user, as `telefhir token` makes it.
func (h *harness) mint(t *testing.T, user, scopes string) string {
	t.Helper()
	u, ok := identity.NewDev("x").User(user)
	if !ok {
		t.Fatalf("no dev user %q", user)
	}
	tok, err := smart.Mint(t.Context(), h.store, u, scopes, "", "", time.Hour, h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// postJSON posts a JSON body with a bearer token and decodes the answer.
func (h *harness) postJSON(t *testing.T, path, token, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, h.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res, out
}

func basicAuth(id, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
}

func fhirPre() fhir.Preconditions { return fhir.Preconditions{} }

func bearerHeader(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
