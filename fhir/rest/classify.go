package rest

// Classify says which FHIR interaction the route with path pattern
// routePath (echo's c.Path()) performs for method, for the audit trail:
// the restful-interaction code, or "operation" and the operation's name.
// fhir reports whether routePath belongs to the FHIR API at all; an empty
// routePath (no route matched) does, since the API serves the base path.
// interaction is "" when the API has no route for method at routePath.
func Classify(method, routePath string) (interaction, operation string, fhir bool) {
	if routePath == "" {
		return "", "", true
	}
	for _, r := range routes {
		if r.path != routePath {
			continue
		}
		fhir = true
		if r.method != method {
			continue
		}
		if r.operation != nil {
			return "operation", r.operation.op.Name, true
		}
		return r.interaction, "", true
	}
	return "", "", fhir
}
