package e2e

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-jose/go-jose/v4"

	"github.com/telefhir/telefhir/smart/client"
	"github.com/telefhir/telefhir/smart/identity"
	"github.com/telefhir/telefhir/smart/oauthstore"
	"github.com/telefhir/telefhir/smart/smarttest"
)

const (
	devPassword  = "e2e-dev-password"
	chromiumPath = "/usr/bin/chromium"
	// appScope is what the apps ask for, besides launch or launch/patient.
	appScope        = "openid fhirUser offline_access patient/Patient.rs patient/Observation.rs"
	observationsFor = 3
)

// missing skips the test, or fails it when CI=true.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; CI=true requires it", msg)
	}
	t.Skip(msg)
}

func needNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node is not installed; the fhirclient e2e tests need Node.js")
	}
	if _, err := os.Stat(filepath.Join("node_modules", "fhirclient", "package.json")); err != nil {
		missing(t, "e2e/node_modules/fhirclient is missing; run `npm ci` in e2e/")
	}
	return node
}

// telefhir is a running server with the dev identity and some data.
type telefhir struct {
	base  string
	store oauthstore.Store
}

func startTelefhir(t *testing.T) *telefhir {
	t.Helper()
	s := smarttest.Start(t, smarttest.Options{DevPassword: devPassword})
	for i := range observationsFor {
		obs := fmt.Sprintf(`{"resourceType":"Observation","status":"final",
			"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
			"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},
			"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2025-01-0%dT10:00:00Z",
			"valueQuantity":{"value":%d,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`, identity.DevPatientID, i+1, 60+i)
		if _, err := s.FHIR.Create(t.Context(), "Observation", []byte(obs)); err != nil {
			t.Fatal(err)
		}
	}
	return &telefhir{base: s.Base, store: s.Store}
}

// appClients are the three clients an app acts as, as fhirclient options.
type appClient struct {
	ClientID         string          `json:"clientId"`
	Scope            string          `json:"scope"`
	ClientSecret     string          `json:"clientSecret,omitempty"`
	ClientPrivateJwk json.RawMessage `json:"clientPrivateJwk,omitempty"`
}

// registerApps registers a public, a symmetric and an asymmetric (ES384)
// client whose redirect and launch URLs are at appBase (paths from
// redirect and launch, {kind} standing for the kind), and returns their fhirclient
// options by kind.
func registerApps(t *testing.T, tf *telefhir, prefix, appBase, redirect, launch string) map[string]appClient {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: "e2e-es384", Algorithm: "ES384", Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "e2e-es384", Algorithm: "ES384", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	secret := client.NewSecret()
	out := map[string]appClient{}
	for _, kind := range []string{"public", "symmetric", "asymmetric"} {
		c := oauthstore.Client{
			ID: prefix + "-" + kind, Name: "e2e " + kind, RedirectURIs: []string{appBase + strings.ReplaceAll(redirect, "{kind}", kind)},
			LaunchURL: appBase + strings.ReplaceAll(launch, "{kind}", kind), CreatedAt: time.Now(),
			Scope: "launch launch/patient openid fhirUser offline_access patient/*.rs user/*.rs",
		}
		ac := appClient{ClientID: c.ID, Scope: appScope}
		switch kind {
		case "public":
			c.Kind = oauthstore.Public
		case "symmetric":
			c.Kind, c.SecretHash, ac.ClientSecret = oauthstore.Symmetric, oauthstore.Hash(secret), secret
		case "asymmetric":
			c.Kind, c.JWKS, ac.ClientPrivateJwk = oauthstore.Asymmetric, pub, priv
		}
		if err := client.Validate(c); err != nil {
			t.Fatal(err)
		}
		if err := tf.store.CreateClient(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		out[kind] = ac
	}
	return out
}

// appResult is what the apps report after their FHIR calls.
type appResult struct {
	Error        string `json:"error"`
	Patient      string `json:"patient"`
	Family       string `json:"family"`
	Observations int    `json:"observations"`
	Encounter    string `json:"encounter"`
	Scope        string `json:"scope"`
	FHIRUser     string `json:"fhirUser"`
	Refresh      bool   `json:"refresh"`
}

func checkResult(t *testing.T, tf *telefhir, got appResult, ehr bool) {
	t.Helper()
	if got.Error != "" {
		t.Fatalf("the app failed: %s", got.Error)
	}
	if got.Patient != identity.DevPatientID || got.Family != "Patient" || got.Observations != observationsFor || !got.Refresh ||
		got.FHIRUser != "Practitioner/"+identity.DevPractitionerID || !strings.Contains(got.Scope, "patient/Observation.rs") {
		t.Fatalf("app result: %+v", got)
	}
	if ehr && got.Encounter != identity.DevEncounterID {
		t.Fatalf("EHR launch lost the encounter: %+v", got)
	}
}

// --- Node.js: fhirclient's Node adapter, the browser played by Go -----

var inputTag = regexp.MustCompile(`<input [^>]*>`)
var attr = regexp.MustCompile(`(\w+)(?:="([^"]*)")?`)

// formOf submits an HTML form as a browser would with its defaults:
// hidden fields, ticked checkboxes, and overrides in set.
func formOf(page string, set url.Values) url.Values {
	v := url.Values{}
	for _, tag := range inputTag.FindAllString(page, -1) {
		a := map[string]string{}
		for _, m := range attr.FindAllStringSubmatch(tag[len("<input "):], -1) {
			a[m[1]] = m[2]
		}
		_, checked := a["checked"]
		switch a["type"] {
		case "hidden":
			v.Add(a["name"], a["value"])
		case "checkbox":
			if checked {
				val := a["value"]
				if val == "" {
					val = "on"
				}
				v.Add(a["name"], val)
			}
		}
	}
	for k, vs := range set {
		v[k] = vs
	}
	return v
}

type browserlessUser struct {
	t  *testing.T
	hc *http.Client
}

func newBrowserless(t *testing.T) *browserlessUser {
	jar, _ := cookiejar.New(nil)
	return &browserlessUser{t: t, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

func (b *browserlessUser) do(method, u string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	var res *http.Response
	var err error
	if method == http.MethodGet {
		res, err = b.hc.Get(u)
	} else {
		res, err = b.hc.PostForm(u, form)
	}
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// signIn fills the dev login form the browser landed on.
func (b *browserlessUser) signIn(res *http.Response, page, user string) (*http.Response, string) {
	b.t.Helper()
	if res.Request.URL.Path != "/auth/login" {
		b.t.Fatalf("expected the login page, at %s (%d): %.300s", res.Request.URL, res.StatusCode, page)
	}
	return b.do(http.MethodPost, res.Request.URL.Scheme+"://"+res.Request.URL.Host+"/auth/login",
		formOf(page, url.Values{"username": {user}, "password": {devPassword}}))
}

// allow submits the consent form with its defaults (and the dev patient
// when a patient must be picked) and returns the app's answer.
func (b *browserlessUser) allow(res *http.Response, page string) appResult {
	b.t.Helper()
	if res.Request.URL.Path != "/auth/consent" {
		b.t.Fatalf("expected the consent page, at %s (%d): %.300s", res.Request.URL, res.StatusCode, page)
	}
	set := url.Values{"decision": {"allow"}}
	if strings.Contains(page, `name="patient"`) {
		set.Set("patient", identity.DevPatientID)
	}
	res, body := b.do(http.MethodPost, res.Request.URL.Scheme+"://"+res.Request.URL.Host+"/auth/consent", formOf(page, set))
	var out appResult
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		b.t.Fatalf("the app answered %d %s: %.300s", res.StatusCode, res.Request.URL, body)
	}
	return out
}

// startNodeApp runs app.mjs, registers the clients for its URL with
// register, hands their options to it, and returns its base URL.
func startNodeApp(t *testing.T, node string, register func(appBase string) map[string]appClient) string {
	t.Helper()
	cfgFile := filepath.Join(t.TempDir(), "clients.json")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, "app.mjs", cfgFile)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	lines := bufio.NewScanner(out)
	ready := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if p, ok := strings.CutPrefix(lines.Text(), "listening "); ok {
				ready <- p
			}
		}
	}()
	var base string
	select {
	case port := <-ready:
		base = "http://127.0.0.1:" + port
	case <-time.After(20 * time.Second):
		t.Fatal("the node app did not start")
	}
	b, err := json.Marshal(register(base))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return base
}

// TestFHIRClientNode: fhirclient's Node adapter does standalone and EHR
// launches as a public, a symmetric and an asymmetric client, then reads
// the patient and searches Observations with the token.
func TestFHIRClientNode(t *testing.T) {
	node := needNode(t)
	tf := startTelefhir(t)
	var clients map[string]appClient
	app := startNodeApp(t, node, func(appBase string) map[string]appClient {
		clients = registerApps(t, tf, "node", appBase, "/{kind}/callback", "/{kind}/launch")
		return clients
	})
	for _, kind := range []string{"public", "symmetric", "asymmetric"} {
		t.Run(kind+"/standalone", func(t *testing.T) {
			b := newBrowserless(t)
			res, page := b.do(http.MethodGet, app+"/"+kind+"/standalone?iss="+url.QueryEscape(tf.base), nil)
			res, page = b.signIn(res, page, "practitioner")
			checkResult(t, tf, b.allow(res, page), false)
		})
		t.Run(kind+"/ehr", func(t *testing.T) {
			b := newBrowserless(t)
			res, page := b.do(http.MethodGet, tf.base+"/auth/launcher", nil)
			res, page = b.signIn(res, page, "practitioner")
			if res.Request.URL.Path != "/auth/launcher" || !strings.Contains(page, clients[kind].ClientID) {
				t.Fatalf("launcher: %s %d", res.Request.URL, res.StatusCode)
			}
			res, page = b.do(http.MethodPost, tf.base+"/auth/launcher", url.Values{
				"client": {clients[kind].ClientID}, "patient": {identity.DevPatientID}, "encounter": {identity.DevEncounterID},
			})
			checkResult(t, tf, b.allow(res, page), true)
		})
	}
}

// --- Chromium: fhirclient's browser bundle, real redirects and CORS -----

func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		missing(t, "Debian chromium is not installed at %s (apt-get install chromium)", chromiumPath)
	}
	if _, err := os.Stat(filepath.Join("node_modules", "fhirclient", "build", "fhir-client.js")); err != nil {
		missing(t, "e2e/node_modules/fhirclient is missing; run `npm ci` in e2e/")
	}
}

// startBrowserApp serves the app pages (web/), fhirclient's browser bundle
// and the client options on their own origin, different from telefhir's.
func startBrowserApp(t *testing.T, clients func() map[string]appClient) string {
	t.Helper()
	mux := http.NewServeMux()
	for _, page := range []string{"launch.html", "index.html"} {
		// Written out directly: http.ServeFile would redirect index.html.
		mux.HandleFunc("GET /"+page, func(w http.ResponseWriter, r *http.Request) {
			b, err := os.ReadFile(filepath.Join("web", page))
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(b)
		})
	}
	mux.HandleFunc("GET /fhir-client.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join("node_modules", "fhirclient", "build", "fhir-client.js"))
	})
	mux.HandleFunc("GET /clients.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(clients())
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts.URL
}

// startChromium starts headless Chromium with a fresh profile; each
// newTab of it is an isolated browser context (its own cookies and
// storage).
func startChromium(t *testing.T) context.Context {
	t.Helper()
	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
	)
	t.Cleanup(cancel)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser); err != nil { // start the browser
		t.Fatalf("start chromium: %v", err)
	}
	return browser
}

// newTab opens a tab in a new browser context of browser.
func newTab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancelTimeout)
	return ctx
}

// browserLogin fills the dev login form the page is on.
func browserLogin(ctx context.Context, user string) error {
	return chromedp.Do(ctx,
		chromedp.WaitVisible("#password"),
		chromedp.SetValue("#username", user),
		chromedp.SendKeys("#password", devPassword),
		chromedp.Click("#signin"),
	)
}

// browserAllow approves the consent screen (picking the dev patient when
// asked) and returns what the app shows once it has used the token.
func browserAllow(ctx context.Context) (appResult, error) {
	var out appResult
	err := chromedp.Do(ctx,
		chromedp.WaitVisible("#allow"),
		chromedp.Evaluate[chromedp.Void](`(() => { const p = document.getElementById("patient"); if (p) p.value = "`+identity.DevPatientID+`"; })()`),
		chromedp.Click("#allow"),
	)
	if err != nil {
		return out, err
	}
	// The consent redirects to the app, which redirects again while it
	// completes the authorization: wait for the result page, re-polling
	// when a navigation interrupts the poll, until the context's deadline.
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("result") !== null && document.getElementById("result").textContent.length > 0`))
		if err == nil {
			break
		}
		if ctx.Err() != nil || !(strings.Contains(err.Error(), "navigated or closed") || strings.Contains(err.Error(), "Cannot find context")) {
			loc, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.Location())
			return out, fmt.Errorf("waiting for the app's result at %s: %w", loc, err)
		}
	}
	text, err := chromedp.Run(ctx, chromedp.Text("#result"))
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal([]byte(text), &out); err != nil {
		return out, fmt.Errorf("app result %q: %w", text, err)
	}
	return out, nil
}

// TestFHIRClientChromium: the same launches in headless Chromium with
// fhirclient's browser bundle, so the redirects, the cookies and CORS
// between the app's origin and telefhir's are the browser's own.
func TestFHIRClientChromium(t *testing.T) {
	needChromium(t)
	tf := startTelefhir(t)
	var clients map[string]appClient
	app := startBrowserApp(t, func() map[string]appClient { return clients })
	clients = registerApps(t, tf, "browser", app, "/index.html", "/launch.html?kind={kind}")
	browser := startChromium(t)
	for _, kind := range []string{"public", "symmetric", "asymmetric"} {
		t.Run(kind+"/standalone", func(t *testing.T) {
			ctx := newTab(t, browser)
			if err := chromedp.Do(ctx, chromedp.Navigate(app+"/launch.html?kind="+kind+"&iss="+url.QueryEscape(tf.base))); err != nil {
				t.Fatal(err)
			}
			if err := browserLogin(ctx, "practitioner"); err != nil {
				t.Fatalf("login: %v", err)
			}
			got, err := browserAllow(ctx)
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, tf, got, false)
		})
		t.Run(kind+"/ehr", func(t *testing.T) {
			ctx := newTab(t, browser)
			if err := chromedp.Do(ctx, chromedp.Navigate(tf.base+"/auth/launcher")); err != nil {
				t.Fatal(err)
			}
			if err := browserLogin(ctx, "practitioner"); err != nil {
				t.Fatalf("login: %v", err)
			}
			err := chromedp.Do(ctx,
				chromedp.WaitVisible("#launch"),
				chromedp.SetValue("#client", clients[kind].ClientID),
				chromedp.SetValue("#patient", identity.DevPatientID),
				chromedp.SetValue("#encounter", identity.DevEncounterID),
				chromedp.Click("#launch"),
			)
			if err != nil {
				t.Fatalf("launcher: %v", err)
			}
			got, err := browserAllow(ctx)
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, tf, got, true)
		})
	}
}
