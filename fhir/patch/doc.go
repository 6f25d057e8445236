// Package patch applies JSON Patch documents (RFC 6902) to JSON resources,
// the body format of a FHIR "PATCH [type]/[id]" with
// Content-Type: application/json-patch+json.
//
//	out, err := patch.Apply(stored, body)
//	var perr *patch.Error
//	switch {
//	case errors.Is(err, patch.ErrTestFailed):
//		// 422 Unprocessable Entity
//	case errors.As(err, &perr):
//		// 400 (or 422), perr.Op and perr.Path locate the problem
//	}
//
// ApplyOps takes the same operations built in code (a []Op) instead of a
// JSON document; fhir/fhirpatch uses it to apply FHIRPath Patch with the
// same byte-preserving engine.
//
// All six operations are supported (add, remove, replace, move, copy, test)
// with RFC 6901 JSON Pointers, including the ~0 / ~1 escapes and the "-"
// index that appends to an array.
//
// The document is never decoded into Go maps or float64s. Apply splits it
// lazily, only along the paths the operations touch, and keeps every other
// value as its original bytes: member order is preserved, a decimal written
// as 1.50 stays 1.50, and string escapes are left alone. New members are
// appended at the end of their object. The result is compact JSON.
//
// Apply is all or nothing: on error it returns no document, and the input
// slices are never modified. Every error is an *Error that says which
// operation failed (Op, its index in the patch), at which JSON Pointer
// (Path), and why, and wraps one of the sentinel errors (ErrInvalidPatch,
// ErrInvalidDocument, ErrPathNotFound, ErrTestFailed, ErrTooLarge) so the
// REST layer can choose the status with errors.Is. Messages name paths from
// the patch but never values from the document, since those may be
// protected health information.
package patch
