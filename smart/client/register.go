package client

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/telefhir/telefhir/smart/oauthstore"
	"github.com/telefhir/telefhir/smart/scope"
)

// NewSecret returns a random secret of 256 bits, base64url encoded: a
// client secret, a token, a code.
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,128}$`)

// Validate reports every problem with a client about to be registered.
func Validate(c oauthstore.Client) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !idPattern.MatchString(c.ID) {
		bad("id %q: 1 to 128 letters, digits, '.', '_', '~' or '-'", c.ID)
	}
	if !c.Kind.Valid() {
		bad("kind %q: must be %s, %s or %s", c.Kind, oauthstore.Public, oauthstore.Symmetric, oauthstore.Asymmetric)
	}
	for _, u := range c.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			bad("redirect_uri %q: %v", u, err)
		}
	}
	if c.LaunchURL != "" {
		if u, err := url.Parse(c.LaunchURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("launch_url %q: must be an absolute http(s) URL", c.LaunchURL)
		}
	}
	set, err := scope.ParseSet(c.Scope)
	if err != nil {
		bad("scope: %v", err)
	}
	hasSystem := false
	for _, r := range set.Resources {
		hasSystem = hasSystem || r.Level == scope.System
	}
	if len(c.RedirectURIs) == 0 && !(c.Kind == oauthstore.Asymmetric && hasSystem) {
		bad("redirect_uris: at least one is needed (only a Backend Services client with system/ scopes may have none)")
	}
	switch c.Kind {
	case oauthstore.Symmetric:
		if len(c.SecretHash) != 64 {
			bad("a confidential symmetric client needs a secret")
		}
	case oauthstore.Asymmetric:
		if len(c.JWKS) == 0 && c.JWKSURL == "" {
			bad("a confidential asymmetric client needs jwks or jwks_url")
		}
		if len(c.JWKS) > 0 {
			if err := checkJWKS(c.JWKS); err != nil {
				bad("jwks: %v", err)
			}
		}
		if c.JWKSURL != "" {
			if u, err := url.Parse(c.JWKSURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("jwks_url %q: must be an absolute http(s) URL", c.JWKSURL)
			}
		}
	case oauthstore.Public:
		if hasSystem {
			bad("a public client cannot hold system/ scopes")
		}
	}
	if c.Kind != oauthstore.Asymmetric && (len(c.JWKS) > 0 || c.JWKSURL != "") {
		bad("jwks and jwks_url belong to confidential asymmetric clients")
	}
	return errors.Join(errs...)
}

func checkRedirectURI(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err
	case !u.IsAbs() || u.Host == "" && u.Scheme == "https" || u.Host == "" && u.Scheme == "http":
		return errors.New("must be an absolute URL")
	case u.Fragment != "" || strings.Contains(s, "#"):
		return errors.New("must not have a fragment")
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return errors.New("plain http is allowed for localhost only")
	}
	return nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// checkJWKS accepts a key set of public RSA or EC keys usable for RS384 or
// ES384 signatures.
func checkJWKS(b []byte) error {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		return fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	if len(set.Keys) == 0 {
		return errors.New("no keys")
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			return fmt.Errorf("key %q is a private key; register the public key only", k.KeyID)
		}
		if k.KeyID == "" {
			return errors.New("every key needs a kid")
		}
		if algFor(k) == "" {
			return fmt.Errorf("key %q: only RSA (RS384) and P-384 EC (ES384) keys are supported", k.KeyID)
		}
	}
	return nil
}
