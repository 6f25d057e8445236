package smart

import (
	"errors"
	"fmt"
	"net/http"
)

// oauthError is an RFC 6749 error: rendered as JSON by the token,
// introspection and revocation endpoints, and as redirect parameters by
// authorize. Its description is shown to the client, so it never carries
// internals.
type oauthError struct {
	Status      int
	Code        string
	Description string
	// basic asks for WWW-Authenticate: Basic (a failed Basic login).
	basic bool
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

func oauthErr(status int, code, format string, args ...any) *oauthError {
	return &oauthError{Status: status, Code: code, Description: fmt.Sprintf(format, args...)}
}

func invalidRequest(format string, args ...any) *oauthError {
	return oauthErr(http.StatusBadRequest, "invalid_request", format, args...)
}

func invalidGrant(format string, args ...any) *oauthError {
	return oauthErr(http.StatusBadRequest, "invalid_grant", format, args...)
}

func invalidScope(format string, args ...any) *oauthError {
	return oauthErr(http.StatusBadRequest, "invalid_scope", format, args...)
}

func invalidClient(format string, args ...any) *oauthError {
	return oauthErr(http.StatusUnauthorized, "invalid_client", format, args...)
}

func unauthorizedClient(format string, args ...any) *oauthError {
	return oauthErr(http.StatusBadRequest, "unauthorized_client", format, args...)
}

// pageError is shown as an HTML error page (never a redirect): a bad
// client_id or redirect_uri at authorize, a broken login.
type pageError struct {
	Status  int
	Title   string
	Message string
}

func (e *pageError) Error() string { return e.Title + ": " + e.Message }

func pageErr(status int, title, format string, args ...any) *pageError {
	return &pageError{Status: status, Title: title, Message: fmt.Sprintf(format, args...)}
}

// ErrInvalidToken is wrapped by Authenticate when a bearer token is
// unknown, expired or revoked; the text after it is safe to return in
// WWW-Authenticate.
var ErrInvalidToken = errors.New("invalid token")
