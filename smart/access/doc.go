// Package access carries who is calling (a Grant, put on the request
// context by the bearer-token middleware) and decides what that caller may
// do with FHIR resources: granted scopes ∩ role ∩ patient compartment ∩
// granular filters.
package access
