package smart

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/smart/client"
	"github.com/telefhir/telefhir/smart/identity"
	"github.com/telefhir/telefhir/smart/oauthstore"
)

// Config is what the authorization server is built from.
type Config struct {
	// BaseURL is the FHIR base URL (no trailing slash). It is the issuer,
	// the only accepted aud, and the root of every endpoint URL.
	BaseURL string
	Store   oauthstore.Store
	// FHIR resolves patients for the consent screen and the launcher, and
	// holds the dev identity's seeded resources.
	FHIR *fhir.Service
	// Exactly one identity: Dev (the built-in dev identity) or Upstream.
	Dev      *identity.Dev
	Upstream *identity.Upstream
	// AutoApprove, dev identity only: sign every authorization in as this
	// dev user and approve it without showing the consent screen.
	AutoApprove string
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Lifetimes. Defaults: access tokens 1 h, Backend Services tokens
	// 5 min, offline refresh tokens 90 days, online refresh tokens end
	// 12 h after the login, codes 60 s.
	AccessTTL, SystemTTL, OfflineTTL, OnlineTTL, CodeTTL time.Duration
	// TokenRate and TokenBurst limit token-endpoint requests per client
	// address on this node (default 10/s, burst 40).
	TokenRate  float64
	TokenBurst int
	// HTTP fetches clients' JWKS URLs (nil: default client).
	HTTP *http.Client
}

// Server is the SMART App Launch authorization server.
type Server struct {
	cfg     Config
	log     *slog.Logger
	clients *client.Authenticator
	keys    *signer
	secure  bool // cookies get Secure (https base URL)
	// cookiePath scopes the login session cookie to the auth pages under
	// the base URL's path.
	cookiePath string
}

// Endpoint paths, relative to the base URL.
const (
	pathAuthorize  = "/auth/authorize"
	pathLogin      = "/auth/login"
	pathConsent    = "/auth/consent"
	pathCallback   = "/auth/callback"
	pathToken      = "/auth/token"
	pathIntrospect = "/auth/introspect"
	pathRevoke     = "/auth/revoke"
	pathJWKS       = "/auth/jwks"
	pathStyle      = "/auth/smart-style.json"
	pathLauncher   = "/auth/launcher"
	pathLaunch     = "/auth/launch"
	pathClients    = "/auth/clients"
)

// New builds the server, loading (or, on first start, creating) the
// id_token signing key.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.FHIR == nil {
		return nil, errors.New("smart: Store and FHIR are required")
	}
	if (cfg.Dev == nil) == (cfg.Upstream == nil) {
		return nil, errors.New("smart: configure exactly one identity (dev or upstream OIDC)")
	}
	if cfg.AutoApprove != "" {
		if cfg.Dev == nil {
			return nil, errors.New("smart: auto-approve works with the dev identity only")
		}
		if _, ok := cfg.Dev.User(cfg.AutoApprove); !ok {
			return nil, fmt.Errorf("smart: auto-approve user %q is not a dev user", cfg.AutoApprove)
		}
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("smart: base URL %q is not an absolute http(s) URL", cfg.BaseURL)
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	cfg.AccessTTL = cmp.Or(cfg.AccessTTL, time.Hour)
	cfg.SystemTTL = min(cmp.Or(cfg.SystemTTL, 5*time.Minute), 5*time.Minute)
	cfg.OfflineTTL = cmp.Or(cfg.OfflineTTL, 90*24*time.Hour)
	cfg.OnlineTTL = cmp.Or(cfg.OnlineTTL, 12*time.Hour)
	cfg.CodeTTL = min(cmp.Or(cfg.CodeTTL, 60*time.Second), 60*time.Second)
	cfg.TokenRate = cmp.Or(cfg.TokenRate, 10)
	cfg.TokenBurst = cmp.Or(cfg.TokenBurst, 40)
	s := &Server{cfg: cfg, log: cmp.Or(cfg.Logger, slog.Default()), secure: u.Scheme == "https", cookiePath: strings.TrimRight(u.Path, "/") + "/auth/"}
	s.clients = &client.Authenticator{
		Store: cfg.Store, TokenURL: s.url(pathToken), Now: s.now, HTTP: cfg.HTTP, Allow: s.allowClient,
	}
	s.keys, err = loadSigner(ctx, cfg.Store, s.now())
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) now() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now()
	}
	return time.Now()
}

func (s *Server) url(path string) string { return s.cfg.BaseURL + path }

// DevMode reports whether the server runs the built-in dev identity.
func (s *Server) DevMode() bool { return s.cfg.Dev != nil }

// allowClient refuses the dev identity's demo clients when the dev
// identity is not running.
func (s *Server) allowClient(c oauthstore.Client) bool { return !c.Dev || s.DevMode() }

// URLs are the server's endpoints, for discovery and the
// CapabilityStatement.
type URLs struct {
	Authorize, Token, Introspect, Revoke, JWKS, Register string
}

// Endpoints returns the absolute endpoint URLs.
func (s *Server) Endpoints() URLs {
	return URLs{
		Authorize: s.url(pathAuthorize), Token: s.url(pathToken), Introspect: s.url(pathIntrospect),
		Revoke: s.url(pathRevoke), JWKS: s.url(pathJWKS), Register: s.url(pathClients),
	}
}

// Register installs the authorization server's routes on e. None of them
// needs a bearer token except the launch and client-admin APIs, which
// check their own.
func (s *Server) Register(e *echo.Echo) {
	e.GET("/.well-known/smart-configuration", s.smartConfiguration)
	e.GET("/.well-known/openid-configuration", s.openIDConfiguration)
	e.GET(pathJWKS, s.jwks)
	e.GET(pathStyle, s.style)

	e.GET(pathAuthorize, s.page(s.authorize))
	e.POST(pathAuthorize, s.page(s.authorize))
	e.GET(pathLogin, s.page(s.loginPage))
	e.POST(pathLogin, s.page(s.login))
	e.GET(pathCallback, s.page(s.callback))
	e.GET(pathConsent, s.page(s.consentPage))
	e.POST(pathConsent, s.page(s.consent))
	e.GET(pathLauncher, s.page(s.launcherPage))
	e.POST(pathLauncher, s.page(s.launcher))

	limit := middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
		Store: middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
			Rate: rate.Limit(s.cfg.TokenRate), Burst: s.cfg.TokenBurst, ExpiresIn: 3 * time.Minute,
		}),
		IdentifierExtractor: func(c echo.Context) (string, error) { return c.RealIP(), nil },
		ErrorHandler: func(c echo.Context, err error) error {
			return s.renderOAuth(c, invalidRequest("the client address could not be determined"))
		},
		DenyHandler: func(c echo.Context, _ string, _ error) error {
			c.Response().Header().Set("Retry-After", "1")
			return s.renderOAuth(c, oauthErr(http.StatusTooManyRequests, "slow_down", "too many token requests; retry later"))
		},
	})
	e.POST(pathToken, s.oauth(s.token), limit)
	e.POST(pathIntrospect, s.oauth(s.introspect), limit)
	e.POST(pathRevoke, s.oauth(s.revoke), limit)

	e.POST(pathLaunch, s.api(s.launchAPI))
	e.GET(pathClients, s.api(s.listClients))
	e.POST(pathClients, s.api(s.addClient))
	e.GET(pathClients+"/:id", s.api(s.getClient))
	e.DELETE(pathClients+"/:id", s.api(s.deleteClient))
}

// noStore marks a response as not cacheable (tokens, pages with request
// ids).
func noStore(c echo.Context) {
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("Pragma", "no-cache")
}

// oauth adapts an OAuth endpoint: errors become RFC 6749 JSON.
func (s *Server) oauth(h echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		noStore(c)
		if err := h(c); err != nil {
			return s.renderOAuth(c, err)
		}
		return nil
	}
}

func (s *Server) renderOAuth(c echo.Context, err error) error {
	var oe *oauthError
	if !errors.As(err, &oe) {
		s.log.ErrorContext(c.Request().Context(), "oauth endpoint failed", "route", c.Path(), "error", err)
		oe = oauthErr(http.StatusInternalServerError, "server_error", "the server could not complete the request")
	}
	noStore(c)
	if oe.Status == http.StatusUnauthorized {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Basic realm="`+s.cfg.BaseURL+`"`)
	}
	body := map[string]string{"error": oe.Code}
	if oe.Description != "" {
		body["error_description"] = oe.Description
	}
	return c.JSON(oe.Status, body)
}

// page adapts a browser page: errors become an HTML error page.
func (s *Server) page(h echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		noStore(c)
		c.Response().Header().Set("X-Frame-Options", "DENY")
		c.Response().Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:; frame-ancestors 'none'")
		err := h(c)
		if err == nil {
			return nil
		}
		var pe *pageError
		if !errors.As(err, &pe) {
			s.log.ErrorContext(c.Request().Context(), "authorization page failed", "route", c.Path(), "error", err)
			pe = pageErr(http.StatusInternalServerError, "Something went wrong", "The server could not complete the request. Try again later.")
		}
		return s.render(c, pe.Status, "error", pe)
	}
}
