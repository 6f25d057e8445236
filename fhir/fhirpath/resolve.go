package fhirpath

import (
	"strings"
)

// resolve() without a server. A Reference (or a uri or string holding a
// reference) resolves to a stub resource {"resourceType": T, "id": id} when
// its URL is T/id or T/id/_history/v (relative), or ends with that
// (absolute http or https), T being an R4 resource type; a local reference
// "#id" resolves to the contained resource of that id. Anything else —
// canonical URLs, urn:uuid:, references by identifier only — resolves to
// nothing. scripts/fhirpath-oracle gives fhirpath.js the same rule.

// resolve resolves v.
func resolve(v Value) (Value, bool) {
	ref, ok := referenceOf(v)
	if !ok {
		return Value{}, false
	}
	if ref[0] == '#' {
		return containedResource(v.res, v.resLoc, ref[1:])
	}
	typ, id, ok := refTarget(ref)
	if !ok {
		return Value{}, false
	}
	stub := map[string]any{"resourceType": typ, "id": id}
	return Value{Node: stub, Type: typ, ti: r4().types[typ], res: stub}, true
}

// resolvedType returns the type of the resource v resolves to, without
// building it: resolve() is T.
func resolvedType(v Value) (string, bool) {
	ref, ok := referenceOf(v)
	if !ok {
		return "", false
	}
	if ref[0] == '#' {
		r, ok := containedResource(v.res, nil, ref[1:])
		return r.Type, ok
	}
	typ, _, ok := refTarget(ref)
	return typ, ok
}

// referenceOf returns the reference URL v holds, if any.
func referenceOf(v Value) (string, bool) {
	var ref string
	m := r4()
	switch {
	case v.Type == "Reference":
		obj, _ := v.Node.(map[string]any)
		ref, _ = obj["reference"].(string)
	case m.isA(v.Type, "canonical"):
		// fhirpath.js looks canonicals up by URL on its server; there is
		// no server here.
		return "", false
	case m.isA(v.Type, "uri") || m.isA(v.Type, "string") || v.Type == sysString:
		ref, _ = v.Node.(string)
	}
	return ref, ref != ""
}

// refTarget parses a literal reference into the type and id it points to.
func refTarget(ref string) (typ, id string, ok bool) {
	if strings.IndexByte(ref, '#') >= 0 {
		// A fragment of another resource: the stub has no contained
		// resources.
		return "", "", false
	}
	path := ref
	relative := true
	switch {
	case strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://"):
		if strings.IndexByte(ref, '|') >= 0 {
			return "", "", false // a versioned canonical
		}
		rest := ref[strings.Index(ref, "//")+2:]
		slash := strings.IndexByte(rest, '/')
		if slash < 0 {
			return "", "", false
		}
		path, relative = rest[slash+1:], false
	case hasScheme(ref):
		return "", "", false
	}
	// The last four segments, last first; whole says whether that is all
	// of them.
	var segs [4]string
	n, whole := 0, false
	for p := path; n < 4; {
		i := strings.LastIndexByte(p, '/')
		segs[n] = p[i+1:]
		n++
		if i < 0 {
			whole = true
			break
		}
		p = p[:i]
	}
	switch {
	case n == 4 && segs[1] == "_history" && (whole || !relative):
		typ, id = segs[3], segs[2]
	case n == 2 && whole || n >= 2 && !relative:
		typ, id = segs[1], segs[0]
	default:
		return "", "", false
	}
	if r4().resourceType(typ) == nil || !validID(id) {
		return "", "", false
	}
	return typ, id, true
}

// containedResource finds the resource of the given id contained in res,
// which is at resLoc.
func containedResource(res map[string]any, resLoc *location, id string) (Value, bool) {
	if id == "" {
		return Value{}, false
	}
	list, _ := res["contained"].([]any)
	for i, x := range list {
		if c, ok := x.(map[string]any); ok && c["id"] == id {
			return rootValue(c, resLoc.child("contained", i, r4().types["DomainResource"].fields["contained"])), true
		}
	}
	return Value{}, false
}

// hasScheme reports whether s starts with a URI scheme and a colon.
func hasScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '.' || c == '-'):
		case i > 0 && c == ':':
			return true
		default:
			return false
		}
	}
	return false
}

// validID reports whether s is a FHIR resource id: [A-Za-z0-9\-\.]{1,64}.
func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
