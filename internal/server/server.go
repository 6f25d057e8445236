// Package server assembles telefhir's HTTP stack: echo with the
// middleware every request passes through (request id, panic recovery,
// access log without PHI, gzip) and the FHIR REST API on the base path. It
// is shared by `telefhir serve` and by tests, so tests exercise exactly what
// production runs.
//
//	h, err := server.New(server.Options{Service: svc, REST: rest.Config{BaseURL: base}, Logger: log})
//	http.ListenAndServe(addr, h)
package server

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/rest"
	"github.com/telefhir/telefhir/smart"
	"github.com/telefhir/telefhir/smart/access"
)

// Options are what the HTTP stack is built from.
type Options struct {
	Service *fhir.Service
	REST    rest.Config
	Logger  *slog.Logger
	// Auth is the SMART authorization server: its endpoints are served,
	// and every FHIR route but /metadata needs one of its bearer tokens.
	// Nil turns authorization off (TELEFHIR_AUTH=off, local experiments
	// only).
	Auth *smart.Server
	// Audit, when set, is the audit trail's middleware (audit.Middleware):
	// it runs inside the access log and outside panic recovery, so that
	// failures and panics are audited too.
	Audit echo.MiddlewareFunc
	// Routes are plain HTTP endpoints beside the FHIR API (the
	// subscriptions websocket, which authenticates with its own binding
	// tokens).
	Routes []Route
}

// Route is one plain HTTP endpoint under the FHIR base.
type Route struct {
	Method, Path string
	Handler      http.Handler
}

// New returns the echo instance serving the FHIR API.
func New(o Options) (*echo.Echo, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	api, err := rest.New(o.Service, o.REST)
	if err != nil {
		return nil, err
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	// The client address (the token endpoint's rate limit) is the peer's:
	// X-Forwarded-For and X-Real-IP are not trusted, since any client can
	// send them.
	e.IPExtractor = echo.ExtractIPDirect()
	e.HTTPErrorHandler = rest.ErrorHandler(log)
	e.Use(middleware.RequestID(), accessLog(log))
	if o.Audit != nil {
		e.Use(o.Audit)
	}
	e.Use(
		middleware.RecoverWithConfig(middleware.RecoverConfig{
			DisableErrorHandler: true,
			LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
				log.ErrorContext(c.Request().Context(), "panic while serving request",
					"request_id", c.Response().Header().Get(echo.HeaderXRequestID),
					"route", c.Path(), "error", err, "stack", string(stack))
				return outcome.Internal(err)
			},
		}),
		middleware.GzipWithConfig(middleware.GzipConfig{
			MinLength: 1024,
			// A websocket upgrade must reach the client unbuffered.
			Skipper: func(c echo.Context) bool { return strings.EqualFold(c.Request().Header.Get("Upgrade"), "websocket") },
		}),
		// Browser apps call discovery, /metadata, the token endpoint and
		// the FHIR API from their own origin: echo it. No cookies are
		// involved (bearer tokens), so credentials stay disallowed.
		middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOriginFunc: func(string) (bool, error) { return true, nil },
			AllowMethods:    []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
			AllowHeaders:    []string{echo.HeaderAuthorization, echo.HeaderContentType, echo.HeaderAccept, "If-Match", "If-None-Match", "If-None-Exist", "Prefer"},
			ExposeHeaders:   []string{echo.HeaderLocation, "Content-Location", "ETag", echo.HeaderLastModified, echo.HeaderWWWAuthenticate},
			MaxAge:          600,
		}),
	)
	for _, r := range o.Routes {
		e.Add(r.Method, r.Path, echo.WrapHandler(r.Handler))
	}
	if o.Auth == nil {
		api.Register(e)
		return e, nil
	}
	o.Auth.Register(e)
	api.Register(guarded{e, bearerAuth(o.Auth, o.REST.BaseURL)})
	return e, nil
}

// guarded adds the bearer-token middleware to every FHIR route except
// /metadata, which stays open (it tells clients where to get tokens).
type guarded struct {
	e    *echo.Echo
	auth echo.MiddlewareFunc
}

func (g guarded) Add(method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	if path != "/metadata" {
		m = append([]echo.MiddlewareFunc{g.auth}, m...)
	}
	return g.e.Add(method, path, h, m...)
}

// bearerAuth puts the Grant of the request's bearer token on its context.
// No token: 401 with WWW-Authenticate: Bearer realm; a bad, expired or
// revoked token: 401 with error="invalid_token". The token is never
// logged.
func bearerAuth(a *smart.Server, realm string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Request().Header.Get(echo.HeaderAuthorization)
			scheme, tok, _ := strings.Cut(h, " ")
			tok = strings.TrimSpace(tok)
			if h == "" || !strings.EqualFold(scheme, "Bearer") || tok == "" {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="`+realm+`"`)
				return outcome.New(outcome.KindUnauthorized, "this request needs an OAuth bearer token (SMART App Launch); see %s/.well-known/smart-configuration", realm)
			}
			g, err := a.Authenticate(c.Request().Context(), tok)
			if errors.Is(err, smart.ErrInvalidToken) {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="`+realm+`", error="invalid_token", error_description="the access token is invalid, expired or revoked"`)
				return outcome.New(outcome.KindUnauthorized, "the access token is invalid, expired or revoked")
			}
			if err != nil {
				return outcome.Internal(err)
			}
			req := c.Request()
			c.SetRequest(req.WithContext(access.WithGrant(req.Context(), g)))
			return next(c)
		}
	}
}

// accessLog logs one line per request: route template, status, size and
// latency. Never the query string, headers or bodies: they can carry
// patient data and credentials.
func accessLog(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			res := c.Response()
			level := slog.LevelInfo
			if res.Status >= http.StatusInternalServerError {
				level = slog.LevelError
			}
			log.LogAttrs(c.Request().Context(), level, "http",
				slog.String("request_id", res.Header().Get(echo.HeaderXRequestID)),
				slog.String("method", c.Request().Method),
				slog.String("route", c.Path()),
				slog.String("type", c.Param("type")),
				slog.Int("status", res.Status),
				slog.Int64("bytes", res.Size),
				slog.Float64("ms", float64(time.Since(start).Microseconds())/1000),
			)
			return nil
		}
	}
}
