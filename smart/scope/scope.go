package scope

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Level is the context a resource scope applies in.
type Level string

const (
	// Patient scopes reach the resources in the compartment of the patient
	// in the launch context (or the patient the user is).
	Patient Level = "patient"
	// User scopes reach whatever the user may see.
	User Level = "user"
	// System scopes are for Backend Services clients acting for themselves.
	System Level = "system"
)

// Permission is a set of SMART v2 interactions (c, r, u, d, s).
type Permission uint8

// The v2 permissions, in the order they must appear in a scope.
const (
	Create Permission = 1 << iota
	Read
	Update
	Delete
	Search
)

// All is cruds.
const All = Create | Read | Update | Delete | Search

var letters = [...]struct {
	p Permission
	c byte
}{{Create, 'c'}, {Read, 'r'}, {Update, 'u'}, {Delete, 'd'}, {Search, 's'}}

// String renders p as v2 letters (e.g. "rs").
func (p Permission) String() string {
	var b strings.Builder
	for _, l := range letters {
		if p&l.p != 0 {
			b.WriteByte(l.c)
		}
	}
	return b.String()
}

// Has reports whether p includes every permission in q.
func (p Permission) Has(q Permission) bool { return p&q == q }

// Resource is one resource scope such as patient/Observation.rs?category=vital-signs.
type Resource struct {
	Level Level
	// Type is an R4 resource type or "*".
	Type  string
	Perms Permission
	// V1 is true when the scope was written in v1 form (.read, .write, .*);
	// it is answered in the form it was granted.
	V1 bool
	// Filter is the v2 granular filter (the query after '?'); nil when
	// none. Every parameter in it must match for a resource to be in scope.
	Filter url.Values
}

// String renders the scope as granted (v1 form when it was asked in v1).
func (r Resource) String() string {
	s := string(r.Level) + "/" + r.Type + "."
	if r.V1 {
		switch r.Perms {
		case Read | Search:
			return s + "read"
		case Create | Update | Delete:
			return s + "write"
		case All:
			return s + "*"
		}
	}
	s += r.Perms.String()
	if len(r.Filter) > 0 {
		s += "?" + encodeFilter(r.Filter)
	}
	return s
}

// encodeFilter renders a filter with its keys sorted and without escaping
// the '|' and ':' that SMART filters normally carry.
func encodeFilter(f url.Values) string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range f[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(v)
		}
	}
	return b.String()
}

// ParseResource parses one resource scope. It returns an error naming
// what is wrong when s looks like a resource scope (it has a level prefix)
// but is malformed; ok is false when s is not a resource scope at all.
func ParseResource(s string) (r Resource, ok bool, err error) {
	lvl, rest, found := strings.Cut(s, "/")
	switch Level(lvl) {
	case Patient, User, System:
	default:
		return Resource{}, false, nil
	}
	if !found {
		return Resource{}, false, nil
	}
	r.Level = Level(lvl)
	typ, perm, found := strings.Cut(rest, ".")
	if !found || typ == "" {
		return Resource{}, true, fmt.Errorf("scope %q: expected %s/Type.permissions", s, lvl)
	}
	if typ != "*" && !validType(typ) {
		return Resource{}, true, fmt.Errorf("scope %q: %q is not a resource type", s, typ)
	}
	r.Type = typ
	perm, query, hasQuery := strings.Cut(perm, "?")
	switch perm {
	case "read":
		r.Perms, r.V1 = Read|Search, true
	case "write":
		r.Perms, r.V1 = Create|Update|Delete, true
	case "*":
		r.Perms, r.V1 = All, true
	default:
		p, err := parsePerms(perm)
		if err != nil {
			return Resource{}, true, fmt.Errorf("scope %q: %w", s, err)
		}
		r.Perms = p
	}
	if hasQuery {
		if r.V1 {
			return Resource{}, true, fmt.Errorf("scope %q: granular filters need v2 permissions (.rs?...), not .%s", s, perm)
		}
		f, err := url.ParseQuery(query)
		if err != nil || len(f) == 0 {
			return Resource{}, true, fmt.Errorf("scope %q: malformed filter %q", s, query)
		}
		for k, vs := range f {
			for _, v := range vs {
				if k == "" || v == "" {
					return Resource{}, true, fmt.Errorf("scope %q: empty parameter or value in filter %q", s, query)
				}
			}
		}
		r.Filter = f
	}
	return r, true, nil
}

// parsePerms parses v2 letters, which must appear at most once each and in
// the order c, r, u, d, s.
func parsePerms(s string) (Permission, error) {
	if s == "" {
		return 0, fmt.Errorf("no permissions after '.'")
	}
	var p Permission
	next := 0
	for i := 0; i < len(s); i++ {
		j := next
		for j < len(letters) && letters[j].c != s[i] {
			j++
		}
		if j == len(letters) {
			return 0, fmt.Errorf("permissions %q: %q is not one of c, r, u, d, s in that order", s, s[i])
		}
		p |= letters[j].p
		next = j + 1
	}
	return p, nil
}

// validType reports whether s looks like a resource type name: an ASCII
// capital followed by letters. The registry of types lives in fhir/resource;
// the token endpoint checks requested types against it.
func validType(s string) bool {
	if s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
