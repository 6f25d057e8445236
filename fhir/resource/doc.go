// Package resource is telefhir's model of an R4 resource on the write path:
// it parses and structurally validates the client's JSON with google/fhir's
// jsonformat (R4), and stamps the server-set fields into the client's bytes
// without re-marshalling them, so that what is stored, and served on every
// read, is what the client sent plus id and meta.
//
// Every write goes through Parse and then Stamp:
//
//	p, err := resource.Parse(body, "Observation") // "" accepts any type
//	if err != nil {
//		return err // an *outcome.Error: KindStructure or KindInvalid, one issue per problem
//	}
//	id := p.ID // as sent; for a create, use resource.NewID()
//	stored, err := resource.Stamp(p.Raw, id, version, now)
//
// Parse reports every problem it finds, each located by a FHIRPath
// expression (Patient.name[0].given[1], Bundle.entry[2].resource.status).
// Malformed JSON is reported with its line, column and byte offset. Beyond
// what the library checks, Parse
//   - validates inline resources (contained, Bundle.entry.resource,
//     Bundle.entry.response.outcome, Parameters.parameter.resource) as
//     resources of their own type, at their own location;
//   - accepts nulls in primitive arrays paired with their "_x" extension
//     array, and rejects every other null;
//   - rejects duplicate property names, property names in the wrong case,
//     objects or arrays where a primitive value belongs, numbers out of
//     range, and nesting deeper than MaxDepth.
//
// Stamp sets id, meta.versionId and meta.lastUpdated and otherwise keeps
// the client's members, their order and their bytes (1.50 stays 1.50);
// Meta reads those two back, and DiffIgnoringMeta compares two resources
// as JSON apart from them.
//
// RewriteLinks replaces links inside a resource where the FHIR transaction
// rules say a Bundle's fullUrls are replaced: references, elements of type
// uri, url, oid and uuid, and narrative href and src attributes, in
// contained resources and extensions too; the resource's type information
// tells it which strings those are.
//
// Types and IsType list the 146 concrete R4 resource types, taken from
// google/fhir's R4 ContainedResource proto. ValidID checks an R4 logical id;
// NewID makes a server-assigned one (a UUIDv7, so ids sort by creation).
//
// TELEFHIR_R4_EXAMPLES, when set to the directory scripts/fetch-r4-examples.sh
// prints, makes the tests parse and round-trip all official R4 examples;
// otherwise they use the subset in testdata/r4examples.
package resource
