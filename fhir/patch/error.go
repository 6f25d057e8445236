package patch

import (
	"errors"
	"fmt"
)

// The kinds of failure. Every *Error returned by Apply wraps exactly one of
// them. A suggested HTTP mapping for the FHIR REST layer is given with each.
var (
	// ErrInvalidPatch: the patch document itself is malformed: not a JSON
	// array of operation objects, an unknown "op", a missing or mistyped
	// "path", "from" or "value", a syntactically bad JSON Pointer, an
	// attempt to move a location into its own child or to remove the
	// whole document. 400 Bad Request.
	ErrInvalidPatch = errors.New("invalid patch")

	// ErrInvalidDocument: the document to patch is not valid JSON (or has a
	// duplicate member on a path the patch walks). When the document comes
	// from the store this is a server fault, not the client's.
	ErrInvalidDocument = errors.New("invalid document")

	// ErrPathNotFound: the patch is well formed but does not fit the
	// document: a "path" or "from" location (or the parent of an "add"
	// target) does not exist, an array index is out of range, or a pointer
	// goes through a string, number, boolean or null.
	// 422 Unprocessable Entity (the patch cannot be applied to this version).
	ErrPathNotFound = errors.New("path not found")

	// ErrTestFailed: a "test" operation found a value different from the
	// expected one. FHIR answers 422 Unprocessable Entity.
	ErrTestFailed = errors.New("test failed")

	// ErrTooLarge: applying the patch would grow the document beyond
	// MaxResultSize (a few "copy" operations can double it each time).
	// 413 or 422.
	ErrTooLarge = errors.New("result too large")
)

// Error is a failure to apply a patch, located at one operation.
type Error struct {
	// Op is the index of the failing operation in the patch array, or -1
	// when the patch or the document as a whole is at fault.
	Op int
	// Name is the failing operation's "op" (add, remove, ...), or empty when
	// it is missing or unknown.
	Name string
	// Path is the JSON Pointer the failure is about, exactly as written in
	// the patch: the operation's "path", or its "from" for a bad source of
	// move/copy. Empty when the failure has no location.
	Path string
	// Msg says what went wrong, e.g. "path /name/5 does not exist". It names
	// locations from the patch, never values from the document.
	Msg string
	// Err is the kind of failure: ErrInvalidPatch, ErrInvalidDocument,
	// ErrPathNotFound, ErrTestFailed or ErrTooLarge.
	Err error
}

// Error formats e as "operation 2 (replace): path /name/5 does not exist".
func (e *Error) Error() string {
	switch {
	case e.Op < 0:
		return "patch: " + e.Msg
	case e.Name == "":
		return fmt.Sprintf("operation %d: %s", e.Op, e.Msg)
	default:
		return fmt.Sprintf("operation %d (%s): %s", e.Op, e.Name, e.Msg)
	}
}

// Unwrap returns the kind of failure, for errors.Is.
func (e *Error) Unwrap() error { return e.Err }

// TestFailed reports whether e is a failed "test" operation.
func (e *Error) TestFailed() bool { return errors.Is(e.Err, ErrTestFailed) }

// opError builds an *Error for operation i.
func opError(kind error, i int, name, path, format string, args ...any) *Error {
	return &Error{Op: i, Name: name, Path: path, Msg: fmt.Sprintf(format, args...), Err: kind}
}
