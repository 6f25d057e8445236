package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/telefhir/telefhir/fhir/store/sqlite"
	"github.com/telefhir/telefhir/smart/oauthstore"
	"github.com/telefhir/telefhir/smart/oauthstore/sqlitestore"
)

func publicJWKS(t *testing.T, keys ...jose.JSONWebKey) []byte {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestValidate(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	e256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := publicJWKS(t, jose.JSONWebKey{Key: &rk.PublicKey, KeyID: "r"}, jose.JSONWebKey{Key: &ek.PublicKey, KeyID: "e"})
	tests := []struct {
		name  string
		c     oauthstore.Client
		wants []string // substrings of the error; none: valid
	}{
		{"public", oauthstore.Client{ID: "a", Kind: oauthstore.Public, RedirectURIs: []string{"https://app/cb", "http://localhost:3000/cb"}, Scope: "launch patient/*.rs"}, nil},
		{"backend without redirect", oauthstore.Client{ID: "b", Kind: oauthstore.Asymmetric, JWKS: good, Scope: "system/*.rs"}, nil},
		{"symmetric", oauthstore.Client{ID: "c", Kind: oauthstore.Symmetric, SecretHash: oauthstore.Hash("x"), RedirectURIs: []string{"https://app/cb"}, Scope: "user/*.rs"}, nil},
		{"everything wrong", oauthstore.Client{ID: "bad id!", Kind: "weird", RedirectURIs: []string{"http://evil.example/cb", "/relative", "https://app/cb#frag"}, LaunchURL: "ftp://x", Scope: "patient/X.zz"},
			[]string{"id", "kind", "plain http", "absolute", "fragment", "launch_url", "scope"}},
		{"public with system scopes", oauthstore.Client{ID: "d", Kind: oauthstore.Public, RedirectURIs: []string{"https://app/cb"}, Scope: "system/*.rs"}, []string{"public client cannot hold system/"}},
		{"user app without redirect", oauthstore.Client{ID: "e", Kind: oauthstore.Public, Scope: "user/*.rs"}, []string{"redirect_uris"}},
		{"symmetric without secret", oauthstore.Client{ID: "f", Kind: oauthstore.Symmetric, RedirectURIs: []string{"https://app/cb"}}, []string{"secret"}},
		{"asymmetric without keys", oauthstore.Client{ID: "g", Kind: oauthstore.Asymmetric, Scope: "system/*.rs"}, []string{"jwks or jwks_url"}},
		{"private key registered", oauthstore.Client{ID: "h", Kind: oauthstore.Asymmetric, Scope: "system/*.rs", JWKS: publicJWKS(t, jose.JSONWebKey{Key: rk, KeyID: "p"})}, []string{"private key"}},
		{"P-256 key", oauthstore.Client{ID: "i", Kind: oauthstore.Asymmetric, Scope: "system/*.rs", JWKS: publicJWKS(t, jose.JSONWebKey{Key: &e256.PublicKey, KeyID: "p"})}, []string{"P-384"}},
		{"key without kid", oauthstore.Client{ID: "j", Kind: oauthstore.Asymmetric, Scope: "system/*.rs", JWKS: publicJWKS(t, jose.JSONWebKey{Key: &rk.PublicKey})}, []string{"kid"}},
		{"jwks on a public client", oauthstore.Client{ID: "k", Kind: oauthstore.Public, RedirectURIs: []string{"https://app/cb"}, JWKSURL: "https://app/jwks"}, []string{"belong to confidential asymmetric"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.c)
			if len(tt.wants) == 0 {
				if err != nil {
					t.Fatalf("valid client refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("invalid client accepted")
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func newAuthenticator(t testing.TB) *Authenticator {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	ost := sqlitestore.New(st)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []oauthstore.Client{
		{ID: "pub", Kind: oauthstore.Public},
		{ID: "sym", Kind: oauthstore.Symmetric, SecretHash: oauthstore.Hash("s3cret")},
		{ID: "dev", Kind: oauthstore.Public, Dev: true},
	} {
		if err := ost.CreateClient(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	return &Authenticator{Store: ost, TokenURL: "https://fhir/auth/token", Now: func() time.Time { return now }, Allow: func(c oauthstore.Client) bool { return !c.Dev }}
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func TestAuthenticate(t *testing.T) {
	a := newAuthenticator(t)
	tests := []struct {
		name   string
		header string
		form   url.Values
		want   string
		method Method
	}{
		{"public", "", url.Values{"client_id": {"pub"}}, "pub", MethodNone},
		{"basic", basic("sym", "s3cret"), nil, "sym", MethodBasic},
		{"basic with matching client_id", basic("sym", "s3cret"), url.Values{"client_id": {"sym"}}, "sym", MethodBasic},
		{"basic wrong secret", basic("sym", "nope"), nil, "", ""},
		{"basic other client_id", basic("sym", "s3cret"), url.Values{"client_id": {"pub"}}, "", ""},
		{"basic for a public client", basic("pub", ""), nil, "", ""},
		{"confidential as public", "", url.Values{"client_id": {"sym"}}, "", ""},
		{"secret in the form", "", url.Values{"client_id": {"sym"}, "client_secret": {"s3cret"}}, "", ""},
		{"unknown", "", url.Values{"client_id": {"who"}}, "", ""},
		{"dev client refused", "", url.Values{"client_id": {"dev"}}, "", ""},
		{"nothing", "", nil, "", ""},
		{"bearer scheme", "Bearer abc", nil, "", ""},
		{"basic not base64", "Basic ***", nil, "", ""},
		{"basic without colon", "Basic " + base64.StdEncoding.EncodeToString([]byte("sym")), nil, "", ""},
		{"assertion and basic", basic("sym", "s3cret"), url.Values{"client_assertion": {"x"}}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, m, err := a.Authenticate(t.Context(), tt.header, tt.form)
			if tt.want == "" {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("got %q, %v; want ErrInvalid", c.ID, err)
				}
				return
			}
			if err != nil || c.ID != tt.want || m != tt.method {
				t.Fatalf("got %q %s %v; want %q %s", c.ID, m, err, tt.want, tt.method)
			}
		})
	}
}

// FuzzAuthenticate: whatever the header and form, client authentication
// either succeeds for a registered client or fails with ErrInvalid; it
// never panics or fails otherwise.
func FuzzAuthenticate(f *testing.F) {
	for _, s := range [][3]string{
		{basic("sym", "s3cret"), "", ""},
		{"", "pub", ""},
		{"", "", "eyJhbGciOiJSUzM4NCIsImtpZCI6ImsifQ.eyJpc3MiOiJzeW0ifQ.c2ln"},
		{"Basic Og==", "", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	a := newAuthenticator(f)
	f.Fuzz(func(t *testing.T, header, clientID, assertion string) {
		form := url.Values{}
		if clientID != "" {
			form.Set("client_id", clientID)
		}
		if assertion != "" {
			form.Set("client_assertion_type", AssertionType)
			form.Set("client_assertion", assertion)
		}
		c, _, err := a.Authenticate(context.Background(), header, form)
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("unexpected failure: %v", err)
		}
		if err == nil && c.ID == "" {
			t.Fatal("success without a client")
		}
	})
}
