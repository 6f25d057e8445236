package fhir

import (
	"context"

	"github.com/telefhir/telefhir/fhir/fhirpatch"
)

// FHIRPathPatch applies a FHIRPath Patch (a Parameters resource, see
// fhir/fhirpatch) to the current version of typ/id and stores the result,
// validated as every write is, as the next version. A patch that is not
// well formed is a 400 located in the Parameters; one that does not fit
// the current version a 422 naming the operation; an invalid result a 400
// located in the resource. Nothing is stored on error.
func (s *Service) FHIRPathPatch(ctx context.Context, typ, id string, params []byte, pre Preconditions) (Result, error) {
	if err := checkTypeID(typ, id); err != nil {
		return Result{}, err
	}
	p, err := fhirpatch.Parse(params)
	if err != nil {
		return Result{}, err
	}
	return s.patchWith(ctx, typ, id, pre, p.Apply)
}
