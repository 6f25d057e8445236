package smart

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/telefhir/telefhir/smart/access"
	"github.com/telefhir/telefhir/smart/client"
	"github.com/telefhir/telefhir/smart/oauthstore"
	"github.com/telefhir/telefhir/smart/scope"
)

// lookup returns the live token with value raw and its grant: known, not
// revoked, not expired, not a rotated refresh token.
func (s *Server) lookup(ctx context.Context, raw string) (oauthstore.Token, grantRecord, error) {
	if raw == "" {
		return oauthstore.Token{}, grantRecord{}, fmt.Errorf("%w: empty token", ErrInvalidToken)
	}
	tok, err := s.cfg.Store.Token(ctx, oauthstore.Hash(raw))
	if notFound(err) {
		return oauthstore.Token{}, grantRecord{}, fmt.Errorf("%w: unknown token", ErrInvalidToken)
	}
	if err != nil {
		return oauthstore.Token{}, grantRecord{}, err
	}
	switch {
	case tok.Revoked:
		return oauthstore.Token{}, grantRecord{}, fmt.Errorf("%w: the token was revoked", ErrInvalidToken)
	case !tok.ExpiresAt.After(s.now()):
		return oauthstore.Token{}, grantRecord{}, fmt.Errorf("%w: the token has expired", ErrInvalidToken)
	case tok.Used:
		return oauthstore.Token{}, grantRecord{}, fmt.Errorf("%w: the refresh token was rotated", ErrInvalidToken)
	}
	var g grantRecord
	if err := json.Unmarshal(tok.Data, &g); err != nil {
		return oauthstore.Token{}, grantRecord{}, fmt.Errorf("token grant: %w", err)
	}
	if g.DevClient && !s.DevMode() {
		return oauthstore.Token{}, grantRecord{}, fmt.Errorf("%w: issued to a dev client", ErrInvalidToken)
	}
	return tok, g, nil
}

// Authenticate resolves a bearer access token to the Grant it stands
// for. Unknown, expired and revoked tokens give an error wrapping
// ErrInvalidToken; anything else is a server failure.
func (s *Server) Authenticate(ctx context.Context, raw string) (*access.Grant, error) {
	tok, g, err := s.lookup(ctx, raw)
	if err != nil {
		return nil, err
	}
	if tok.Kind != oauthstore.Access {
		return nil, fmt.Errorf("%w: not an access token", ErrInvalidToken)
	}
	set, err := scope.ParseSet(g.Scope)
	if err != nil {
		return nil, fmt.Errorf("token scope: %w", err)
	}
	return &access.Grant{
		TokenID: tok.Hash[:16], ClientID: g.ClientID, Subject: g.Subject, FHIRUser: g.FHIRUser,
		Role: access.Role(g.Role), Scopes: set, Patient: g.Patient, Encounter: g.Encounter, ExpiresAt: tok.ExpiresAt,
	}, nil
}

// bearer reads an Authorization: Bearer header.
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// introspect is RFC 7662 introspection. The caller is a confidential
// client (Basic or private_key_jwt) or presents a live bearer token.
func (s *Server) introspect(c echo.Context) error {
	ctx := c.Request().Context()
	if err := c.Request().ParseForm(); err != nil {
		return invalidRequest("the request body must be application/x-www-form-urlencoded")
	}
	if raw, ok := bearer(c.Request().Header.Get(echo.HeaderAuthorization)); ok {
		if _, err := s.Authenticate(ctx, raw); err != nil {
			if errors.Is(err, ErrInvalidToken) {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer error="invalid_token"`)
				return c.JSON(http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
			}
			return err
		}
	} else {
		_, m, err := s.authenticateClient(c)
		if err != nil {
			return err
		}
		if m == client.MethodNone {
			return invalidClient("introspection needs a confidential client or a bearer token")
		}
	}
	token := c.Request().PostForm.Get("token")
	if token == "" {
		return invalidRequest("token is required")
	}
	tok, g, err := s.lookup(ctx, token)
	if errors.Is(err, ErrInvalidToken) {
		return c.JSON(http.StatusOK, map[string]bool{"active": false})
	}
	if err != nil {
		return err
	}
	out := map[string]any{
		"active": true, "scope": g.Scope, "client_id": g.ClientID, "sub": g.Subject, "iss": s.cfg.BaseURL,
		"exp": tok.ExpiresAt.Unix(), "iat": tok.IssuedAt.Unix(), "token_type": "Bearer",
	}
	if tok.Kind == oauthstore.Refresh {
		out["token_type"] = "refresh_token"
	}
	if g.Patient != "" {
		out["patient"] = g.Patient
	}
	if g.Encounter != "" {
		out["encounter"] = g.Encounter
	}
	if g.FHIRUser != "" {
		out["fhirUser"] = s.cfg.BaseURL + "/" + g.FHIRUser
	}
	return c.JSON(http.StatusOK, out)
}

// revoke is RFC 7009 revocation. Revoking a refresh token revokes every
// token of its authorization; unknown tokens and tokens of other clients
// are ignored (200 either way).
func (s *Server) revoke(c echo.Context) error {
	ctx := c.Request().Context()
	cl, _, err := s.authenticateClient(c)
	if err != nil {
		return err
	}
	raw := c.Request().PostForm.Get("token")
	if raw == "" {
		return invalidRequest("token is required")
	}
	tok, err := s.cfg.Store.Token(ctx, oauthstore.Hash(raw))
	switch {
	case notFound(err):
	case err != nil:
		return err
	case tok.ClientID != cl.ID:
	case tok.Kind == oauthstore.Refresh:
		if err := s.cfg.Store.RevokeFamily(ctx, tok.Family); err != nil {
			return err
		}
	default:
		if err := s.cfg.Store.RevokeToken(ctx, tok.Hash); err != nil {
			return err
		}
	}
	return c.NoContent(http.StatusOK)
}
