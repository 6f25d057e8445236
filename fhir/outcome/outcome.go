// Package outcome is the one place where failures become FHIR
// OperationOutcomes: an Error carries a Kind, and the Kind table maps it to
// both the HTTP status and the OperationOutcome issue code.
//
//	return outcome.Invalid("Patient.name[0].given[1]", "must be a string")
//
// Anything that is not an *Error renders as a 500 whose body says nothing
// about internals.
package outcome

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Kind classifies a failure. Each kind has exactly one HTTP status and one
// default issue code (see table).
type Kind int

// The kinds of failure.
const (
	KindInternal Kind = iota
	KindInvalid
	KindStructure
	KindNotFound
	KindGone
	KindConflict
	KindPreconditionFailed
	KindNotAcceptable
	KindUnsupportedMediaType
	KindTooLarge
	KindMethodNotAllowed
	KindUnprocessable
	KindUnauthorized
	KindForbidden
	KindNotSupported
	KindTooManyRequests
)

type kindInfo struct {
	status int
	code   string // OperationOutcome.issue.code (IssueType)
}

// table maps each Kind to its HTTP status and issue code.
var table = map[Kind]kindInfo{
	KindInternal:             {http.StatusInternalServerError, "exception"},
	KindInvalid:              {http.StatusBadRequest, "invalid"},
	KindStructure:            {http.StatusBadRequest, "structure"},
	KindNotFound:             {http.StatusNotFound, "not-found"},
	KindGone:                 {http.StatusGone, "deleted"},
	KindConflict:             {http.StatusConflict, "conflict"},
	KindPreconditionFailed:   {http.StatusPreconditionFailed, "conflict"},
	KindNotAcceptable:        {http.StatusNotAcceptable, "not-supported"},
	KindUnsupportedMediaType: {http.StatusUnsupportedMediaType, "not-supported"},
	KindTooLarge:             {http.StatusRequestEntityTooLarge, "too-costly"},
	KindMethodNotAllowed:     {http.StatusMethodNotAllowed, "not-supported"},
	KindUnprocessable:        {http.StatusUnprocessableEntity, "processing"},
	KindUnauthorized:         {http.StatusUnauthorized, "login"},
	KindForbidden:            {http.StatusForbidden, "forbidden"},
	KindNotSupported:         {http.StatusBadRequest, "not-supported"},
	KindTooManyRequests:      {http.StatusTooManyRequests, "throttled"},
}

// Status is the HTTP status for k.
func (k Kind) Status() int { return table[k].status }

// Code is the OperationOutcome issue code for k.
func (k Kind) Code() string { return table[k].code }

// Issue is one OperationOutcome.issue.
type Issue struct {
	Severity    string   `json:"severity"` // fatal | error | warning | information
	Code        string   `json:"code"`
	Diagnostics string   `json:"diagnostics,omitempty"`
	Expression  []string `json:"expression,omitempty"` // FHIRPath location(s)
}

// Error is a failure with a known FHIR meaning. Its message is safe to show
// to clients: it must never carry SQL, stack traces, file names or PHI.
type Error struct {
	Kind   Kind
	Issues []Issue
	cause  error // internal cause, logged by the caller, never rendered
}

func (e *Error) Error() string {
	if len(e.Issues) == 0 {
		return e.Kind.Code()
	}
	i := e.Issues[0]
	if len(i.Expression) > 0 {
		return fmt.Sprintf("%s: %s", i.Expression[0], i.Diagnostics)
	}
	return i.Diagnostics
}

// Unwrap returns the internal cause, if any.
func (e *Error) Unwrap() error { return e.cause }

// Status is the HTTP status of e.
func (e *Error) Status() int { return e.Kind.Status() }

// New builds an error of kind k with one error-severity issue.
func New(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Issues: []Issue{{Severity: "error", Code: k.Code(), Diagnostics: fmt.Sprintf(format, args...)}}}
}

// At builds an error of kind k located at a FHIRPath expression.
func At(k Kind, expression, format string, args ...any) *Error {
	e := New(k, format, args...)
	if expression != "" {
		e.Issues[0].Expression = []string{expression}
	}
	return e
}

// Wrap builds an error of kind k whose internal cause is err (kept for
// logs and errors.Is, never shown to the client).
func Wrap(k Kind, err error, format string, args ...any) *Error {
	e := New(k, format, args...)
	e.cause = err
	return e
}

// Invalid is a 400 "invalid" located at expression.
func Invalid(expression, format string, args ...any) *Error {
	return At(KindInvalid, expression, format, args...)
}

// Internal is a 500 with a fixed, non-revealing message. err is kept as the
// cause for the logs.
func Internal(err error) *Error {
	return Wrap(KindInternal, err, "internal server error")
}

// From returns err as an *Error; errors of other types become Internal.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}

// Locate returns a copy of e (same kind and cause) whose issues' locations
// are mapped by locate, which is called with each expression, or with ""
// for an issue that has none (a "" result leaves it without one). A Bundle
// uses it to place an entry's errors inside the Bundle:
// Patient.name[0] → Bundle.entry[3].resource.name[0].
func (e *Error) Locate(locate func(expression string) string) *Error {
	out := &Error{Kind: e.Kind, cause: e.cause, Issues: make([]Issue, len(e.Issues))}
	for i, is := range e.Issues {
		if len(is.Expression) == 0 {
			if x := locate(""); x != "" {
				is.Expression = []string{x}
			}
		} else {
			exprs := make([]string, len(is.Expression))
			for j, x := range is.Expression {
				exprs[j] = locate(x)
			}
			is.Expression = exprs
		}
		out.Issues[i] = is
	}
	return out
}

// Is reports whether err is an *Error of kind k.
func Is(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

// OperationOutcome is the JSON shape of an R4 OperationOutcome.
type OperationOutcome struct {
	ResourceType string  `json:"resourceType"`
	Issue        []Issue `json:"issue"`
}

// Outcome renders e as an OperationOutcome.
func (e *Error) Outcome() OperationOutcome {
	issues := e.Issues
	if len(issues) == 0 {
		issues = []Issue{{Severity: "error", Code: e.Kind.Code()}}
	}
	return OperationOutcome{ResourceType: "OperationOutcome", Issue: issues}
}

// JSON renders e as OperationOutcome JSON.
func (e *Error) JSON() []byte {
	b, _ := json.Marshal(e.Outcome())
	return b
}

// Info builds an OperationOutcome carrying a single informational issue
// (used for Prefer: return=OperationOutcome on success).
func Info(format string, args ...any) OperationOutcome {
	return OperationOutcome{ResourceType: "OperationOutcome", Issue: []Issue{{Severity: "information", Code: "informational", Diagnostics: fmt.Sprintf(format, args...)}}}
}
