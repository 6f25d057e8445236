package scope

import (
	"errors"
	"strings"
)

// Set is a parsed scope string.
type Set struct {
	Resources []Resource
	// Launch context and identity scopes.
	Launch          bool // launch (EHR launch)
	LaunchPatient   bool // launch/patient
	LaunchEncounter bool // launch/encounter
	OpenID          bool // openid
	FHIRUser        bool // fhirUser
	OfflineAccess   bool // offline_access
	OnlineAccess    bool // online_access
	// Other holds scopes this server does not interpret, kept so they can be
	// refused or dropped explicitly.
	Other []string
}

// ParseSet parses a space-separated scope string. Every malformed resource
// scope is reported (joined); unknown non-resource scopes go to Other.
func ParseSet(s string) (Set, error) {
	var set Set
	var errs []error
	for _, f := range strings.Fields(s) {
		switch f {
		case "launch":
			set.Launch = true
			continue
		case "launch/patient":
			set.LaunchPatient = true
			continue
		case "launch/encounter":
			set.LaunchEncounter = true
			continue
		case "openid":
			set.OpenID = true
			continue
		case "fhirUser":
			set.FHIRUser = true
			continue
		case "offline_access":
			set.OfflineAccess = true
			continue
		case "online_access":
			set.OnlineAccess = true
			continue
		}
		r, ok, err := ParseResource(f)
		switch {
		case err != nil:
			errs = append(errs, err)
		case ok:
			set.Resources = append(set.Resources, r)
		default:
			set.Other = append(set.Other, f)
		}
	}
	return set, errors.Join(errs...)
}

// String renders the set as a space-separated scope string, context and
// identity scopes first, resource scopes in the form they were granted.
func (s Set) String() string {
	var out []string
	for _, x := range []struct {
		on   bool
		name string
	}{
		{s.Launch, "launch"}, {s.LaunchPatient, "launch/patient"}, {s.LaunchEncounter, "launch/encounter"},
		{s.OpenID, "openid"}, {s.FHIRUser, "fhirUser"}, {s.OfflineAccess, "offline_access"}, {s.OnlineAccess, "online_access"},
	} {
		if x.on {
			out = append(out, x.name)
		}
	}
	for _, r := range s.Resources {
		out = append(out, r.String())
	}
	out = append(out, s.Other...)
	return strings.Join(out, " ")
}

// Allows reports whether some resource scope at level grants every
// permission in p on typ, ignoring granular filters (the caller applies
// Filters for what such scopes let through).
func (s Set) Allows(level Level, typ string, p Permission) bool {
	for _, r := range s.Resources {
		if r.Level == level && (r.Type == "*" || r.Type == typ) && r.Perms.Has(p) {
			return true
		}
	}
	return false
}

// Matching returns the resource scopes at level that grant p on typ; a
// resource is in scope when it satisfies at least one of them (a scope
// without Filter lets everything through).
func (s Set) Matching(level Level, typ string, p Permission) []Resource {
	var out []Resource
	for _, r := range s.Resources {
		if r.Level == level && (r.Type == "*" || r.Type == typ) && r.Perms.Has(p) {
			out = append(out, r)
		}
	}
	return out
}
