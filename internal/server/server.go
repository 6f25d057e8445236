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
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/rest"
)

// Options are what the HTTP stack is built from.
type Options struct {
	Service *fhir.Service
	REST    rest.Config
	Logger  *slog.Logger
	// Audit, when set, is the audit trail's middleware (audit.Middleware):
	// it runs inside the access log and outside panic recovery, so that
	// failures and panics are audited too.
	Audit echo.MiddlewareFunc
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
		middleware.GzipWithConfig(middleware.GzipConfig{MinLength: 1024}),
	)
	api.Register(e)
	return e, nil
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
