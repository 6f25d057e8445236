// Package fhirpath evaluates the FHIRPath that FHIR R4 SearchParameter
// expressions use, over resources decoded as generic JSON, to extract the
// values that search indexes.
//
// Compile once, evaluate many times, from any number of goroutines:
//
//	e, err := fhirpath.Compile("Observation.value as Quantity")
//	if err != nil {
//		return err // a *SyntaxError: what is wrong, at which offset
//	}
//	res, err := fhirpath.Decode(body) // json.Number for numbers
//	if err != nil {
//		return err
//	}
//	vals, err := e.Evaluate(res)
//	for _, v := range vals {
//		// v.Node is the JSON value, v.Type its FHIR type:
//		// "Quantity", "dateTime", "Period", "CodeableConcept", …
//	}
//
// # Locations and the element model
//
// EvaluateLocated also records where each item sits in the resource's JSON
// (Value.Location: member names and array indexes) and which element of
// the R4 model it is (Value.Element), so that a caller can change the
// element it found, as FHIRPath Patch does. LookupType, Type and Element
// expose the model itself: each element's type, whether it repeats, the
// types and JSON names of a choice element.
//
// # Types
//
// Every value carries its type, known from the R4 element model, which the
// package reads from google/fhir's R4 protos (message descriptors give each
// element's type, choice elements are the oneofs of ..._X messages), so
// Observation.effective yields "dateTime", "Period", "Timing" or "instant"
// by which effective[x] the resource has. Bound codes report "code",
// SimpleQuantity "Quantity", backbone elements "BackboneElement" (or
// "Element"), a resource its resourceType. Values an expression computes
// have FHIRPath System types ("System.Boolean", "System.String", …).
//
// # The subset
//
// Everything the 1,372 expressions (1,344 distinct) of the R4 SearchParameter definitions
// use, and a little more:
//
//   - paths, with implicit flattening of repeating elements; a capitalised
//     type name starting a path filters the context (Observation.code on a
//     Patient is empty; Resource.id works on every resource); choice
//     elements by their base name (Observation.value matches valueQuantity,
//     valueString, …); a primitive's id and extensions from its "_name"
//     property; contained and Bundle entry resources, typed by resourceType
//   - indexers with an integer literal: Bundle.entry[0]
//   - literals: 'strings' (with FHIRPath escapes), integers and decimals,
//     true, false, {}; `delimited` identifiers; // and /* */ comments
//   - operators: | (union, without duplicates), = and != (FHIRPath
//     equality: exact decimals, dates of different precision give empty),
//     and, or, xor, implies (three-valued), is and as
//   - functions: where, select, all, exists (with or without criteria),
//     empty, not, count, hasValue, first, last, tail, skip, take, single,
//     as, is, ofType, extension(url), resolve
//   - $this, and the variables %resource, %rootResource, %context (all the
//     evaluated resource), %ucum, %sct, %loinc
//
// Anything else — other functions and operators (<, +, ~, in, …), date,
// time and quantity literals, $index — is a Compile error, never a silently
// wrong answer. So is a path that names no element of the model where the
// type is known (Patient.nmae), or an unknown type name (as Quantityy).
//
// # Where it departs from FHIRPath
//
//   - as, and as(), accept a collection and keep the items of the type,
//     like ofType(): R4 search expressions apply it to repeating elements,
//     as in (Observation.component.value as Quantity), where strict
//     FHIRPath (and fhirpath.js) fail.
//   - resolve() has no server: a reference Type/id or Type/id/_history/v,
//     or an absolute http(s) URL ending so, resolves to a stub resource
//     {"resourceType": Type, "id": id}; "#id" resolves to the contained
//     resource; anything else (canonicals, urn:uuid:, logical references)
//     to nothing. That is what "where(resolve() is Patient)" needs.
//
// The test TestOracleR4Examples checks every R4 search parameter
// expression on the official R4 examples against the reference engine,
// fhirpath.js, run by scripts/fhirpath-oracle; see that directory's
// README.md.
package fhirpath
