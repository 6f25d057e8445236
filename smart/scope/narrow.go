package scope

import (
	"net/url"
	"slices"
)

// Narrow returns the part of s that allowed permits, and the scopes of s
// it dropped or cut down (as written in s). Context and identity scopes
// survive when allowed has them too. A resource scope keeps the
// permissions that allowed scopes of the same level and type (or "*")
// grant; an allowed scope with a granular filter only covers requests with
// the same filter. Scopes in Other are always dropped.
func (s Set) Narrow(allowed Set) (Set, []string) {
	out := Set{
		Launch: s.Launch && allowed.Launch, LaunchPatient: s.LaunchPatient && allowed.LaunchPatient,
		LaunchEncounter: s.LaunchEncounter && allowed.LaunchEncounter, OpenID: s.OpenID && allowed.OpenID,
		FHIRUser: s.FHIRUser && allowed.FHIRUser, OfflineAccess: s.OfflineAccess && allowed.OfflineAccess,
		OnlineAccess: s.OnlineAccess && allowed.OnlineAccess,
	}
	var dropped []string
	for _, x := range []struct {
		asked, kept bool
		name        string
	}{
		{s.Launch, out.Launch, "launch"}, {s.LaunchPatient, out.LaunchPatient, "launch/patient"},
		{s.LaunchEncounter, out.LaunchEncounter, "launch/encounter"}, {s.OpenID, out.OpenID, "openid"},
		{s.FHIRUser, out.FHIRUser, "fhirUser"}, {s.OfflineAccess, out.OfflineAccess, "offline_access"},
		{s.OnlineAccess, out.OnlineAccess, "online_access"},
	} {
		if x.asked && !x.kept {
			dropped = append(dropped, x.name)
		}
	}
	for _, r := range s.Resources {
		var p Permission
		for _, a := range allowed.Resources {
			if a.Level == r.Level && (a.Type == "*" || a.Type == r.Type) && (len(a.Filter) == 0 || sameFilter(a.Filter, r.Filter)) {
				p |= a.Perms
			}
		}
		p &= r.Perms
		if p != r.Perms {
			dropped = append(dropped, r.String())
		}
		if p == 0 {
			continue
		}
		n := r
		n.Perms = p
		n.V1 = r.V1 && p == r.Perms
		out.Resources = append(out.Resources, n)
	}
	dropped = append(dropped, s.Other...)
	return out, dropped
}

func sameFilter(a, b url.Values) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok || !slices.Equal(va, vb) {
			return false
		}
	}
	return true
}
