package smart

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/telefhir/telefhir/smart/access"
	"github.com/telefhir/telefhir/smart/client"
	"github.com/telefhir/telefhir/smart/oauthstore"
)

// ClientView is a registered client as the admin API and CLI show it:
// never the secret hash.
type ClientView struct {
	ID           string                `json:"client_id"`
	Name         string                `json:"client_name,omitempty"`
	Kind         oauthstore.ClientKind `json:"kind"`
	RedirectURIs []string              `json:"redirect_uris,omitempty"`
	LaunchURL    string                `json:"launch_url,omitempty"`
	Scope        string                `json:"scope"`
	JWKS         json.RawMessage       `json:"jwks,omitempty"`
	JWKSURL      string                `json:"jwks_uri,omitempty"`
	Dev          bool                  `json:"dev,omitempty"`
	// Secret is set only in the answer to a registration, once.
	Secret string `json:"client_secret,omitempty"`
}

// View renders c for the API.
func View(c oauthstore.Client) ClientView {
	return ClientView{
		ID: c.ID, Name: c.Name, Kind: c.Kind, RedirectURIs: c.RedirectURIs, LaunchURL: c.LaunchURL,
		Scope: c.Scope, JWKS: json.RawMessage(c.JWKS), JWKSURL: c.JWKSURL, Dev: c.Dev,
	}
}

// NewClient is a client to register.
type NewClient struct {
	ID           string                `json:"client_id"`
	Name         string                `json:"client_name"`
	Kind         oauthstore.ClientKind `json:"kind"`
	RedirectURIs []string              `json:"redirect_uris"`
	LaunchURL    string                `json:"launch_url"`
	Scope        string                `json:"scope"`
	JWKS         json.RawMessage       `json:"jwks"`
	JWKSURL      string                `json:"jwks_uri"`
}

// ErrInvalidClient wraps every reason Register refuses a client.
var ErrInvalidClient = errors.New("invalid client registration")

// Register validates and stores a new client, generating its id when
// empty and, for a symmetric client, its secret, which is returned once
// and stored only hashed.
func Register(ctx context.Context, st oauthstore.Store, n NewClient, now func() time.Time) (ClientView, error) {
	c := oauthstore.Client{
		ID: n.ID, Name: n.Name, Kind: n.Kind, RedirectURIs: n.RedirectURIs, LaunchURL: n.LaunchURL,
		Scope: n.Scope, JWKS: []byte(n.JWKS), JWKSURL: n.JWKSURL, CreatedAt: now().UTC(),
	}
	if c.ID == "" {
		c.ID = client.NewSecret()[:22]
	}
	secret := ""
	if c.Kind == oauthstore.Symmetric {
		secret = client.NewSecret()
		c.SecretHash = oauthstore.Hash(secret)
	}
	if err := client.Validate(c); err != nil {
		return ClientView{}, fmt.Errorf("%w: %w", ErrInvalidClient, err)
	}
	if err := st.CreateClient(ctx, c); err != nil {
		if errors.Is(err, oauthstore.ErrExists) {
			return ClientView{}, fmt.Errorf("%w: client_id %q is taken", ErrInvalidClient, c.ID)
		}
		return ClientView{}, err
	}
	v := View(c)
	v.Secret = secret
	return v, nil
}

func requireAdmin(g *access.Grant) error {
	if g.Role != access.RoleAdmin {
		return apiErr(http.StatusForbidden, "insufficient_scope", "client registration needs the admin role")
	}
	return nil
}

func (s *Server) listClients(c echo.Context, g *access.Grant) error {
	if err := requireAdmin(g); err != nil {
		return err
	}
	all, err := s.cfg.Store.Clients(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]ClientView, 0, len(all))
	for _, cl := range all {
		out = append(out, View(cl))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) getClient(c echo.Context, g *access.Grant) error {
	if err := requireAdmin(g); err != nil {
		return err
	}
	cl, err := s.cfg.Store.Client(c.Request().Context(), c.Param("id"))
	if notFound(err) {
		return apiErr(http.StatusNotFound, "not_found", "no such client")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, View(cl))
}

func (s *Server) addClient(c echo.Context, g *access.Grant) error {
	if err := requireAdmin(g); err != nil {
		return err
	}
	var n NewClient
	if err := c.Bind(&n); err != nil {
		return apiErr(http.StatusBadRequest, "invalid_client_metadata", "the body must be a JSON client registration")
	}
	v, err := Register(c.Request().Context(), s.cfg.Store, n, s.now)
	if errors.Is(err, ErrInvalidClient) {
		return apiErr(http.StatusBadRequest, "invalid_client_metadata", err.Error())
	}
	if err != nil {
		return err
	}
	s.log.InfoContext(c.Request().Context(), "client registered", "client_id", v.ID, "kind", v.Kind, "by", g.Subject)
	return c.JSON(http.StatusCreated, v)
}

func (s *Server) deleteClient(c echo.Context, g *access.Grant) error {
	if err := requireAdmin(g); err != nil {
		return err
	}
	err := s.cfg.Store.DeleteClient(c.Request().Context(), c.Param("id"))
	if notFound(err) {
		return apiErr(http.StatusNotFound, "not_found", "no such client")
	}
	if err != nil {
		return err
	}
	s.log.InfoContext(c.Request().Context(), "client removed", "client_id", c.Param("id"), "by", g.Subject)
	return c.NoContent(http.StatusNoContent)
}
