// Package fhirpatch applies FHIRPath Patch (http://hl7.org/fhir/R4/fhirpatch.html):
// a Parameters resource whose "operation" parameters add, insert, delete,
// replace and move elements of a resource located by FHIRPath, the body of
// a FHIR "PATCH [type]/[id]" with Content-Type: application/fhir+json.
//
//	p, err := fhirpatch.Parse(body) // the Parameters resource
//	if err != nil {
//		return err // *outcome.Error, 400, located at Parameters.parameter[i]
//	}
//	out, err := p.Apply(stored) // the current resource's JSON
//	if err != nil {
//		return err // *outcome.Error, 422: why operation i does not fit
//	}
//	// out must still pass resource.Parse before it is stored.
//
// # Operations
//
// Each operation is one Parameters.parameter named "operation" whose parts
// are type (add | insert | delete | replace | move), path (FHIRPath), and
// what the type needs: name and value (add), index and value (insert),
// value (replace), source and destination (move). Parts a type does not use
// are an error, as are repeated or unknown parts.
//
//   - add: path selects exactly one element; name is one of its elements.
//     A repeating element gets the value appended; a single one must not
//     have a value yet (use replace).
//   - insert: path ends in the name of a list (Patient.identifier); the
//     value goes in at index, which may be the list's length (append).
//   - delete: path selects at most one element, which is removed; nothing
//     selected is not an error. Objects and lists left empty are removed
//     too (FHIR JSON has no empty elements).
//   - replace: path selects exactly one element, whose value (with its id
//     and extensions) becomes the new one. A choice element may change
//     type (valueQuantity becomes valueString).
//   - move: path ends in the name of a list; the item at source moves to
//     destination, both indexes into the list.
//
// The operations apply in order, each to the result of the ones before, and
// all or nothing: an error leaves nothing changed. The resource's own id
// and meta cannot be patched: the server maintains them.
//
// Paths use the FHIRPath subset of fhir/fhirpath. A path must select
// elements of the resource being patched: resolve() may reach a contained
// resource ("#id") but nothing outside.
//
// # Values
//
// A value part carries a value[x] whose type must fit the element: the
// element's type, a specialisation of it (Age for Quantity), or, for a
// primitive element, another primitive with the same JSON form (a
// valueString for a code, date or xhtml element; the result is validated
// afterwards, so a bad date is still refused). A choice element takes the
// type of the value (valueQuantity for Observation.value[x]); its typed
// name (valueQuantity) may be given as the add operation's name instead. A
// primitive's id and extensions come along from the part's _value[x].
// Anonymous elements (Patient.contact) and any complex type are given as
// nested parts, one per element, named by the element; an element that
// holds a resource (contained) takes the part's resource.
//
// # Bytes
//
// The result keeps the stored JSON: members the patch does not touch keep
// their order and bytes (a decimal written 1.50 stays 1.50), and new
// members go at the end of their object. The edits are applied with
// fhir/patch, the JSON Patch engine.
package fhirpatch
