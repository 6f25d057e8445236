package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/telefhir/telefhir/smart/access"
)

// UpstreamConfig configures login at an upstream OpenID Connect provider.
type UpstreamConfig struct {
	// Issuer is the provider's issuer URL; its discovery document is read
	// at start.
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is this server's callback ({base}/auth/callback).
	RedirectURL string
	// Claims holding the user's role, FHIR resource and allowed patients;
	// defaults "telefhir_role", "fhirUser" and "telefhir_patients".
	RoleClaim, FHIRUserClaim, PatientsClaim string
	// DefaultRole applies when the role claim is absent; empty refuses
	// such users.
	DefaultRole access.Role
	// HTTP is the client used to reach the provider (nil: default).
	HTTP *http.Client
}

// Upstream logs users in at an OpenID Connect provider.
type Upstream struct {
	cfg      UpstreamConfig
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// ErrLogin wraps every failure of an upstream login; the text after it is
// safe to show the user.
var ErrLogin = errors.New("upstream login failed")

// NewUpstream discovers the provider and returns the login flow.
func NewUpstream(ctx context.Context, cfg UpstreamConfig) (*Upstream, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.RedirectURL == "" {
		return nil, errors.New("identity: upstream OIDC needs issuer, client id and redirect URL")
	}
	if cfg.RoleClaim == "" {
		cfg.RoleClaim = "telefhir_role"
	}
	if cfg.FHIRUserClaim == "" {
		cfg.FHIRUserClaim = "fhirUser"
	}
	if cfg.PatientsClaim == "" {
		cfg.PatientsClaim = "telefhir_patients"
	}
	if cfg.HTTP != nil {
		ctx = oidc.ClientContext(ctx, cfg.HTTP)
	}
	p, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("identity: discover %s: %w", cfg.Issuer, err)
	}
	return &Upstream{
		cfg: cfg,
		oauth: oauth2.Config{
			ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: cfg.RedirectURL,
			Endpoint: p.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile", "email"},
		},
		verifier: p.Verifier(&oidc.Config{ClientID: cfg.ClientID}),
	}, nil
}

// AuthCodeURL is where to send the browser: our state, nonce and PKCE
// challenge go with it.
func (u *Upstream) AuthCodeURL(state, nonce, verifier string) string {
	return u.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
}

// Exchange redeems the code, verifies the ID token (signature, issuer,
// audience, expiry, nonce) and maps its claims to a User.
func (u *Upstream) Exchange(ctx context.Context, code, verifier, nonce string) (User, error) {
	if u.cfg.HTTP != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, u.cfg.HTTP)
	}
	tok, err := u.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return User{}, fmt.Errorf("%w: the provider refused the code: %w", ErrLogin, err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return User{}, fmt.Errorf("%w: the provider returned no id_token", ErrLogin)
	}
	idt, err := u.verifier.Verify(ctx, raw)
	if err != nil {
		return User{}, fmt.Errorf("%w: the id_token does not verify: %w", ErrLogin, err)
	}
	if idt.Nonce != nonce {
		return User{}, fmt.Errorf("%w: the id_token nonce does not match", ErrLogin)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return User{}, fmt.Errorf("%w: unreadable claims: %w", ErrLogin, err)
	}
	return u.mapClaims(idt.Subject, claims)
}

// mapClaims turns ID token claims into a local user.
func (u *Upstream) mapClaims(sub string, claims map[string]any) (User, error) {
	user := User{ID: sub, FHIRUser: fhirRef(str(claims[u.cfg.FHIRUserClaim]))}
	user.Name = str(claims["name"])
	if user.Name == "" {
		user.Name = str(claims["preferred_username"])
	}
	role := u.cfg.DefaultRole
	for _, r := range strs(claims[u.cfg.RoleClaim]) {
		if known := access.Role(r); known == access.RolePractitioner || known == access.RolePatient || known == access.RoleAdmin || known == access.RoleAuditor {
			role = known
			break
		}
	}
	if role == "" {
		return User{}, fmt.Errorf("%w: the account has no telefhir role (claim %q)", ErrLogin, u.cfg.RoleClaim)
	}
	user.Role = role
	for _, p := range strs(claims[u.cfg.PatientsClaim]) {
		if strings.Contains(p, "/") {
			p = strings.TrimPrefix(fhirRef(p), "Patient/")
		}
		if p != "" {
			user.Patients = append(user.Patients, p)
		}
	}
	if role == access.RolePatient {
		own, ok := strings.CutPrefix(user.FHIRUser, "Patient/")
		if !ok {
			return User{}, fmt.Errorf("%w: a patient account needs a %s claim naming its Patient", ErrLogin, u.cfg.FHIRUserClaim)
		}
		user.Patients = []string{own}
	}
	return user, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return strings.Fields(x)
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// fhirRef keeps the last Type/id of an absolute or relative reference.
func fhirRef(s string) string {
	parts := strings.Split(strings.TrimRight(s, "/"), "/")
	if len(parts) < 2 {
		return ""
	}
	return parts[len(parts)-2] + "/" + parts[len(parts)-1]
}
