// Package scope parses SMART App Launch scopes, v1 (patient/Observation.read)
// and v2 (patient/Observation.rs?category=...), into a Set the token
// endpoint narrows and the enforcement in smart/access evaluates.
//
//	set, err := scope.ParseSet("openid fhirUser launch/patient patient/Observation.rs")
//	set.Allows(scope.Patient, "Observation", scope.Read)
package scope
