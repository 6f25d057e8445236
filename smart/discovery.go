package smart

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/telefhir/telefhir/conformance"
)

// capabilities are the SMART capabilities this server implements.
var capabilities = []string{
	"launch-ehr", "launch-standalone", "authorize-post",
	"client-public", "client-confidential-symmetric", "client-confidential-asymmetric",
	"sso-openid-connect", "context-banner", "context-style",
	"context-ehr-patient", "context-ehr-encounter", "context-standalone-patient",
	"permission-offline", "permission-online", "permission-patient", "permission-user",
	"permission-v1", "permission-v2",
}

var scopesSupported = []string{
	"openid", "fhirUser", "launch", "launch/patient", "launch/encounter", "offline_access", "online_access",
	"patient/*.cruds", "patient/*.rs", "patient/*.read", "patient/*.write", "patient/*.*",
	"user/*.cruds", "user/*.rs", "user/*.read", "user/*.write", "user/*.*",
	"system/*.cruds", "system/*.rs", "system/*.read", "system/*.write", "system/*.*",
}

type smartConfiguration struct {
	Issuer                            string   `json:"issuer"`
	JWKSURI                           string   `json:"jwks_uri"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgs      []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	Capabilities                      []string `json:"capabilities"`
}

func (s *Server) smartConfiguration(c echo.Context) error {
	u := s.Endpoints()
	return c.JSON(http.StatusOK, smartConfiguration{
		Issuer: s.cfg.BaseURL, JWKSURI: u.JWKS, AuthorizationEndpoint: u.Authorize, TokenEndpoint: u.Token,
		IntrospectionEndpoint: u.Introspect, RevocationEndpoint: u.Revoke,
		GrantTypesSupported:               []string{"authorization_code", "refresh_token", "client_credentials"},
		TokenEndpointAuthMethodsSupported: []string{"none", "client_secret_basic", "private_key_jwt"},
		TokenEndpointAuthSigningAlgs:      []string{"RS384", "ES384"},
		ScopesSupported:                   scopesSupported,
		ResponseTypesSupported:            []string{"code"},
		CodeChallengeMethodsSupported:     []string{"S256"},
		Capabilities:                      capabilities,
	})
}

type openIDConfiguration struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
}

func (s *Server) openIDConfiguration(c echo.Context) error {
	u := s.Endpoints()
	return c.JSON(http.StatusOK, openIDConfiguration{
		Issuer: s.cfg.BaseURL, AuthorizationEndpoint: u.Authorize, TokenEndpoint: u.Token, JWKSURI: u.JWKS,
		IntrospectionEndpoint: u.Introspect, RevocationEndpoint: u.Revoke,
		ResponseTypesSupported:            []string{"code"},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256"},
		ScopesSupported:                   []string{"openid", "fhirUser", "offline_access", "online_access"},
		ClaimsSupported:                   []string{"iss", "sub", "aud", "exp", "iat", "nonce", "fhirUser", "name"},
		GrantTypesSupported:               []string{"authorization_code", "refresh_token", "client_credentials"},
		TokenEndpointAuthMethodsSupported: []string{"none", "client_secret_basic", "private_key_jwt"},
		CodeChallengeMethodsSupported:     []string{"S256"},
	})
}

func (s *Server) jwks(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=300")
	return c.JSON(http.StatusOK, s.keys.jwks())
}

// styleJSON is the smart_style_url document: colours and fonts an app may
// use to blend in with the host.
var styleJSON = map[string]any{
	"color_background":     "#f7f8fa",
	"color_error":          "#b00020",
	"color_highlight":      "#0b6e99",
	"color_modal_backdrop": "rgba(0,0,0,0.4)",
	"color_success":        "#2e7d32",
	"color_text":           "#1f2933",
	"dim_border_radius":    "6px",
	"dim_font_size":        "14px",
	"dim_spacing_size":     "16px",
	"font_family_body":     "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
	"font_family_heading":  "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
}

func (s *Server) style(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=3600")
	return c.JSON(http.StatusOK, styleJSON)
}

// Security is the CapabilityStatement security block: the SMART service
// and its OAuth endpoints.
func (s *Server) Security() *conformance.Security {
	u := s.Endpoints()
	desc := "SMART App Launch 2 (OAuth 2.0, PKCE S256) and SMART Backend Services. Discovery: " + s.cfg.BaseURL + "/.well-known/smart-configuration."
	if s.DevMode() {
		desc += " DEV IDENTITY: built-in demo users and clients; not for production."
	}
	return &conformance.Security{
		CORS:        true,
		Description: desc,
		SMART: &conformance.OAuthURIs{
			Authorize: u.Authorize, Token: u.Token, Introspect: u.Introspect, Revoke: u.Revoke,
		},
	}
}
