package rest

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/telefhir/telefhir/fhir/outcome"
)

// ErrorHandler renders every error that reaches echo as an
// OperationOutcome. Unknown errors become a 500 that reveals nothing; their
// cause is logged with the request id (never the body or the query, which
// may carry patient data).
func ErrorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		oe := toOutcome(err)
		if oe.Kind == outcome.KindInternal {
			log.ErrorContext(c.Request().Context(), "request failed",
				"request_id", c.Response().Header().Get(echo.HeaderXRequestID),
				"method", c.Request().Method, "route", c.Path(), "error", errors.Unwrap(oe))
		}
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(oe.Status())
			return
		}
		if oe.Kind == outcome.KindUnauthorized && c.Response().Header().Get(echo.HeaderWWWAuthenticate) == "" {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, "Bearer")
		}
		if err := writeOutcome(c, oe); err != nil {
			log.DebugContext(c.Request().Context(), "writing error response failed", "error", err)
		}
	}
}

// echoKinds maps the errors echo itself produces (routing, body limits) to
// outcome kinds.
var echoKinds = map[int]outcome.Kind{
	http.StatusNotFound:              outcome.KindNotFound,
	http.StatusMethodNotAllowed:      outcome.KindMethodNotAllowed,
	http.StatusRequestEntityTooLarge: outcome.KindTooLarge,
	http.StatusUnsupportedMediaType:  outcome.KindUnsupportedMediaType,
	http.StatusBadRequest:            outcome.KindInvalid,
	http.StatusUnauthorized:          outcome.KindUnauthorized,
	http.StatusForbidden:             outcome.KindForbidden,
	http.StatusTooManyRequests:       outcome.KindTooManyRequests,
}

func toOutcome(err error) *outcome.Error {
	var oe *outcome.Error
	if errors.As(err, &oe) {
		return oe
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		k, ok := echoKinds[he.Code]
		if !ok {
			return outcome.Internal(err)
		}
		switch he.Code {
		case http.StatusNotFound:
			return outcome.Wrap(k, err, "No FHIR interaction is defined at this URL")
		case http.StatusMethodNotAllowed:
			return outcome.Wrap(k, err, "This HTTP method is not supported at this URL")
		}
		return outcome.Wrap(k, err, "%s", http.StatusText(he.Code))
	}
	return outcome.Internal(err)
}
