package identity

import (
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/oauth2-proxy/mockoidc"
	"golang.org/x/oauth2"
)

// TestUpstreamExchange logs in at a real OpenID Connect provider and
// checks that the ID token's nonce and the PKCE verifier are enforced.
func TestUpstreamExchange(t *testing.T) {
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	up, err := NewUpstream(t.Context(), UpstreamConfig{
		Issuer: m.Issuer(), ClientID: m.ClientID, ClientSecret: m.ClientSecret,
		RedirectURL: "http://127.0.0.1:1/auth/callback", DefaultRole: "practitioner",
	})
	if err != nil {
		t.Fatal(err)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// code runs the browser part and returns the provider's code.
	code := func(t *testing.T, nonce, verifier string) string {
		t.Helper()
		res, err := noRedirect.Get(up.AuthCodeURL("state-1", nonce, verifier))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		loc, err := url.Parse(res.Header.Get("Location"))
		if err != nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != "state-1" {
			t.Fatalf("provider answered %d %q", res.StatusCode, res.Header.Get("Location"))
		}
		return loc.Query().Get("code")
	}
	tests := []struct {
		name      string
		nonce     string
		wantNonce string
		wantVer   string
		ok        bool
	}{
		{"good", "n1", "n1", "", true},
		{"other nonce", "n1", "n2", "", false},
		{"other verifier", "n1", "n1", oauth2.GenerateVerifier(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := oauth2.GenerateVerifier()
			c := code(t, tt.nonce, v)
			if tt.wantVer == "" {
				tt.wantVer = v
			}
			u, err := up.Exchange(t.Context(), c, tt.wantVer, tt.wantNonce)
			if tt.ok {
				if err != nil || u.ID == "" || u.Role != "practitioner" {
					t.Fatalf("login: %+v %v", u, err)
				}
				return
			}
			if !errors.Is(err, ErrLogin) {
				t.Fatalf("got %+v, %v; want ErrLogin", u, err)
			}
		})
	}
	if _, err := NewUpstream(t.Context(), UpstreamConfig{Issuer: "http://127.0.0.1:1/nowhere", ClientID: "x", RedirectURL: "http://x/cb"}); err == nil {
		t.Fatal("an unreachable issuer was accepted")
	}
}
