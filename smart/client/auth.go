package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/telefhir/telefhir/smart/oauthstore"
)

// ErrInvalid is wrapped by every authentication failure; the message after
// it is safe to show the client (invalid_client's error_description).
var ErrInvalid = errors.New("invalid client")

// AssertionType is the client_assertion_type of private_key_jwt.
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// MaxAssertionLifetime bounds how far in the future a client assertion's
// exp may be.
const MaxAssertionLifetime = 5 * time.Minute

// Method is how a client authenticated.
type Method string

// The authentication methods.
const (
	MethodNone      Method = "none"
	MethodBasic     Method = "client_secret_basic"
	MethodSignedJWT Method = "private_key_jwt"
)

// Authenticator authenticates clients at the token endpoint (and the
// introspection and revocation endpoints, which share its audience).
type Authenticator struct {
	Store oauthstore.Store
	// TokenURL is the audience a client assertion must name.
	TokenURL string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// HTTP fetches JWKS URLs; nil means a client with a 10 s timeout.
	HTTP *http.Client
	// Allow, when set, refuses clients it returns false for (the dev
	// identity's demo clients outside dev mode).
	Allow func(oauthstore.Client) bool

	mu   sync.Mutex
	jwks map[string]cachedSet
}

type cachedSet struct {
	set     jose.JSONWebKeySet
	fetched time.Time
}

// jwksTTL is how long a fetched JWKS is used before it is fetched again; a
// kid not in the cached set triggers a fetch at most every jwksRefetch.
const (
	jwksTTL     = 5 * time.Minute
	jwksRefetch = 10 * time.Second
)

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Authenticate identifies the client of a token-endpoint request from its
// Authorization header and form. The client_id in the form must agree with
// whatever credential is presented.
func (a *Authenticator) Authenticate(ctx context.Context, authorization string, form url.Values) (oauthstore.Client, Method, error) {
	formID := form.Get("client_id")
	switch {
	case form.Get("client_assertion") != "" || form.Get("client_assertion_type") != "":
		if authorization != "" {
			return oauthstore.Client{}, "", invalid("use one client authentication method, not several")
		}
		c, err := a.assertion(ctx, form)
		if err == nil && formID != "" && formID != c.ID {
			err = invalid("client_id does not match the client assertion")
		}
		return c, MethodSignedJWT, err
	case authorization != "":
		c, err := a.basic(ctx, authorization)
		if err == nil && formID != "" && formID != c.ID {
			err = invalid("client_id does not match the credentials")
		}
		return c, MethodBasic, err
	case formID != "":
		if form.Get("client_secret") != "" {
			return oauthstore.Client{}, "", invalid("client_secret_post is not supported; send the secret with HTTP Basic")
		}
		c, err := a.lookup(ctx, formID)
		if err != nil {
			return oauthstore.Client{}, "", err
		}
		if c.Kind != oauthstore.Public {
			return oauthstore.Client{}, "", invalid("client %q is confidential and must authenticate", c.ID)
		}
		return c, MethodNone, nil
	}
	return oauthstore.Client{}, "", invalid("no client authentication")
}

func (a *Authenticator) lookup(ctx context.Context, id string) (oauthstore.Client, error) {
	c, err := a.Store.Client(ctx, id)
	if errors.Is(err, oauthstore.ErrNotFound) || (err == nil && a.Allow != nil && !a.Allow(c)) {
		return oauthstore.Client{}, invalid("unknown client")
	}
	if err != nil {
		return oauthstore.Client{}, fmt.Errorf("client: %w", err)
	}
	return c, nil
}

// basic checks client_secret_basic (RFC 6749 §2.3.1: id and secret are
// form-urlencoded before base64).
func (a *Authenticator) basic(ctx context.Context, h string) (oauthstore.Client, error) {
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return oauthstore.Client{}, invalid("the Authorization header must use the Basic scheme")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return oauthstore.Client{}, invalid("malformed Basic credentials")
	}
	id, secret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return oauthstore.Client{}, invalid("malformed Basic credentials")
	}
	if u, err := url.QueryUnescape(id); err == nil {
		id = u
	}
	if u, err := url.QueryUnescape(secret); err == nil {
		secret = u
	}
	c, err := a.lookup(ctx, id)
	if err != nil {
		return oauthstore.Client{}, err
	}
	if c.Kind != oauthstore.Symmetric {
		return oauthstore.Client{}, invalid("client %q does not authenticate with a secret", c.ID)
	}
	got := oauthstore.Hash(secret)
	if subtle.ConstantTimeCompare([]byte(got), []byte(c.SecretHash)) != 1 {
		return oauthstore.Client{}, invalid("wrong client secret")
	}
	return c, nil
}

type assertionClaims struct {
	Issuer    string          `json:"iss"`
	Subject   string          `json:"sub"`
	Audience  json.RawMessage `json:"aud"`
	Expiry    *float64        `json:"exp"`
	NotBefore *float64        `json:"nbf"`
	JTI       string          `json:"jti"`
}

func (c assertionClaims) audiences() []string {
	var one string
	if json.Unmarshal(c.Audience, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(c.Audience, &many)
	return many
}

var assertionAlgs = []jose.SignatureAlgorithm{jose.RS384, jose.ES384}

// assertion checks private_key_jwt (SMART Backend Services / asymmetric
// client authentication).
func (a *Authenticator) assertion(ctx context.Context, form url.Values) (oauthstore.Client, error) {
	if form.Get("client_assertion_type") != AssertionType {
		return oauthstore.Client{}, invalid("client_assertion_type must be %s", AssertionType)
	}
	raw := form.Get("client_assertion")
	if raw == "" {
		return oauthstore.Client{}, invalid("client_assertion is missing")
	}
	jws, err := jose.ParseSigned(raw, assertionAlgs)
	if err != nil {
		return oauthstore.Client{}, invalid("client_assertion is not a JWS signed with RS384 or ES384")
	}
	if len(jws.Signatures) != 1 {
		return oauthstore.Client{}, invalid("client_assertion must carry exactly one signature")
	}
	hdr := jws.Signatures[0].Header
	if hdr.KeyID == "" {
		return oauthstore.Client{}, invalid("client_assertion header has no kid")
	}
	var unverified assertionClaims
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &unverified); err != nil || unverified.Issuer == "" {
		return oauthstore.Client{}, invalid("client_assertion has no iss")
	}
	c, err := a.lookup(ctx, unverified.Issuer)
	if err != nil {
		return oauthstore.Client{}, err
	}
	if c.Kind != oauthstore.Asymmetric {
		return oauthstore.Client{}, invalid("client %q does not authenticate with a signed assertion", c.ID)
	}
	key, err := a.key(ctx, c, hdr.KeyID, hdr.Algorithm)
	if err != nil {
		return oauthstore.Client{}, err
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return oauthstore.Client{}, invalid("client_assertion signature does not verify")
	}
	var cl assertionClaims
	if err := json.Unmarshal(payload, &cl); err != nil {
		return oauthstore.Client{}, invalid("client_assertion claims are malformed")
	}
	now := a.now()
	switch {
	case cl.Issuer != c.ID || cl.Subject != c.ID:
		return oauthstore.Client{}, invalid("client_assertion iss and sub must both be the client_id")
	case !slices.Contains(cl.audiences(), a.TokenURL):
		return oauthstore.Client{}, invalid("client_assertion aud must be the token endpoint %s", a.TokenURL)
	case cl.Expiry == nil:
		return oauthstore.Client{}, invalid("client_assertion has no exp")
	case cl.JTI == "":
		return oauthstore.Client{}, invalid("client_assertion has no jti")
	}
	exp := time.Unix(int64(*cl.Expiry), 0)
	switch {
	case !exp.After(now):
		return oauthstore.Client{}, invalid("client_assertion has expired")
	case exp.After(now.Add(MaxAssertionLifetime)):
		return oauthstore.Client{}, invalid("client_assertion exp is more than 5 minutes ahead")
	case cl.NotBefore != nil && time.Unix(int64(*cl.NotBefore), 0).After(now.Add(time.Minute)):
		return oauthstore.Client{}, invalid("client_assertion is not valid yet (nbf)")
	}
	if err := a.Store.UseJTI(ctx, c.ID, cl.JTI, exp); err != nil {
		if errors.Is(err, oauthstore.ErrReplay) {
			return oauthstore.Client{}, invalid("client_assertion jti was already used")
		}
		return oauthstore.Client{}, fmt.Errorf("client: %w", err)
	}
	return c, nil
}

// key finds the client's public key kid for alg, fetching the JWKS URL
// when the key is not in the cached set.
func (a *Authenticator) key(ctx context.Context, c oauthstore.Client, kid, alg string) (any, error) {
	var set jose.JSONWebKeySet
	if len(c.JWKS) > 0 {
		if err := json.Unmarshal(c.JWKS, &set); err != nil {
			return nil, invalid("the client's registered JWKS is malformed")
		}
	}
	if k := pick(set, kid, alg); k != nil {
		return k, nil
	}
	if c.JWKSURL == "" {
		return nil, invalid("no registered key with kid %q for %s", kid, alg)
	}
	fetched, err := a.fetch(ctx, c.JWKSURL, false)
	if err != nil {
		return nil, err
	}
	if k := pick(fetched, kid, alg); k != nil {
		return k, nil
	}
	fetched, err = a.fetch(ctx, c.JWKSURL, true)
	if err != nil {
		return nil, err
	}
	if k := pick(fetched, kid, alg); k != nil {
		return k, nil
	}
	return nil, invalid("no key with kid %q for %s at the client's JWKS URL", kid, alg)
}

// pick returns the public key kid usable with alg.
func pick(set jose.JSONWebKeySet, kid, alg string) any {
	for _, k := range set.Key(kid) {
		if !k.IsPublic() || (k.Use != "" && k.Use != "sig") || (k.Algorithm != "" && k.Algorithm != alg) || algFor(k) != alg {
			continue
		}
		return k.Key
	}
	return nil
}

// algFor is the assertion algorithm a key can verify: RS384 for RSA keys,
// ES384 for P-384 keys.
func algFor(k jose.JSONWebKey) string {
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		if key.N.BitLen() >= 2048 {
			return string(jose.RS384)
		}
	case *ecdsa.PublicKey:
		if key.Curve == elliptic.P384() {
			return string(jose.ES384)
		}
	}
	return ""
}

func (a *Authenticator) fetch(ctx context.Context, u string, force bool) (jose.JSONWebKeySet, error) {
	a.mu.Lock()
	cached, ok := a.jwks[u]
	a.mu.Unlock()
	now := a.now()
	if ok && now.Sub(cached.fetched) < jwksTTL && (!force || now.Sub(cached.fetched) < jwksRefetch) {
		return cached.set, nil
	}
	hc := a.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return jose.JSONWebKeySet{}, invalid("the client's JWKS URL is malformed")
	}
	req.Header.Set("Accept", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return jose.JSONWebKeySet{}, invalid("the client's JWKS URL could not be fetched")
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return jose.JSONWebKeySet{}, invalid("the client's JWKS URL answered %d", res.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&set); err != nil {
		return jose.JSONWebKeySet{}, invalid("the client's JWKS URL did not return a JSON Web Key Set")
	}
	a.mu.Lock()
	if a.jwks == nil {
		a.jwks = map[string]cachedSet{}
	}
	a.jwks[u] = cachedSet{set: set, fetched: now}
	a.mu.Unlock()
	return set, nil
}
