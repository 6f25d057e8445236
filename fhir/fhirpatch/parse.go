package fhirpatch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/telefhir/telefhir/fhir/fhirpath"
	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/resource"
)

// MaxOperations is the most operations one patch may have.
const MaxOperations = 1000

// Patch is a parsed FHIRPath Patch, ready to apply to any number of
// resources. It is safe for concurrent use.
type Patch struct {
	ops []*operation
}

// Len is the number of operations.
func (p *Patch) Len() int { return len(p.ops) }

// operation is one Parameters.parameter, checked.
type operation struct {
	where string // Parameters.parameter[i]
	kind  string // add | insert | delete | replace | move
	path  *fhirpath.Expr
	// parent and list split the path of insert and move: the element
	// holding the list, and the list's name.
	parent *fhirpath.Expr
	list   string
	name   string // add, with its part
	nameAt string
	value  *part // add, insert, replace
	// index (insert), source and destination (move), with their parts.
	index, source, destination int
	indexAt, sourceAt, destAt  string
}

// part is one Parameters.parameter.part, or a part nested in a value.
type part struct {
	where string // its location: Parameters.parameter[1].part[3]
	name  string
	// valueType is the type of value[x] ("HumanName", "string"), "" when
	// there is none; value and ext are the compact JSON of value[x] and
	// _value[x] (either may be nil).
	valueType  string
	value, ext []byte
	parts      []*part
	resource   []byte
}

// partsOf says which parts each type of operation takes, required ones
// first; kinds lists the types.
var partsOf = map[string][]string{
	"add":     {"type", "path", "name", "value"},
	"insert":  {"type", "path", "index", "value"},
	"delete":  {"type", "path"},
	"replace": {"type", "path", "value"},
	"move":    {"type", "path", "source", "destination"},
}

const kinds = "add, insert, delete, replace or move"

// Parse parses body, a Parameters resource, as a FHIRPath Patch. The body
// must first be a valid R4 Parameters resource (resource.Parse); then each
// parameter must be an operation as the package documentation describes.
// Errors are *outcome.Error values (400), each issue located in the
// Parameters: Parameters.parameter[2].part[1].
func Parse(body []byte) (*Patch, error) {
	if _, err := resource.Parse(body, "Parameters"); err != nil {
		return nil, err
	}
	var params struct {
		Parameter []map[string]json.RawMessage `json:"parameter"`
	}
	if err := json.Unmarshal(body, &params); err != nil {
		// resource.Parse accepted it, so this cannot happen.
		return nil, outcome.Wrap(outcome.KindInvalid, err, "the Parameters resource could not be read")
	}
	if len(params.Parameter) > MaxOperations {
		return nil, outcome.Invalid("Parameters.parameter", "a patch may have at most %d operations, this one has %d", MaxOperations, len(params.Parameter))
	}
	p := &Patch{ops: make([]*operation, 0, len(params.Parameter))}
	for i, raw := range params.Parameter {
		op, err := parseOperation(fmt.Sprintf("Parameters.parameter[%d]", i), raw)
		if err != nil {
			return nil, err
		}
		p.ops = append(p.ops, op)
	}
	return p, nil
}

func parseOperation(where string, raw map[string]json.RawMessage) (*operation, error) {
	top, err := parsePart(where, raw)
	if err != nil {
		return nil, err
	}
	if top.name != "operation" {
		return nil, outcome.Invalid(where+".name", "a FHIRPath Patch parameter must be named \"operation\", not %s", quote(top.name))
	}
	if top.valueType != "" || top.resource != nil {
		return nil, outcome.Invalid(where, "an operation is given by its parts only (type, path, …), not a value or resource")
	}
	op := &operation{where: where}
	byName := map[string]*part{}
	for _, pt := range top.parts {
		if !isPartName(pt.name) {
			return nil, outcome.Invalid(pt.where+".name", "unknown part %s: an operation has the parts type, path, name, value, index, source and destination", quote(pt.name))
		}
		if prev := byName[pt.name]; prev != nil {
			return nil, outcome.Invalid(pt.where, "part %q is given twice (also at %s)", pt.name, prev.where)
		}
		byName[pt.name] = pt
	}
	typ := byName["type"]
	if typ == nil {
		return nil, outcome.Invalid(where, "the operation has no type part (%s)", kinds)
	}
	kind, err := stringPart(typ, "code", "string")
	if err != nil {
		return nil, err
	}
	want, ok := partsOf[kind]
	if !ok {
		return nil, outcome.Invalid(typ.where, "unknown operation type %s (want %s)", quote(kind), kinds)
	}
	op.kind = kind
	for _, name := range want {
		if byName[name] == nil {
			return nil, outcome.Invalid(where, "%s operation needs a %s part", an(kind), name)
		}
	}
	for _, pt := range top.parts {
		if !contains(want, pt.name) {
			return nil, outcome.Invalid(pt.where, "%s operation has no %s part (it takes %s)", an(kind), pt.name, strings.Join(want[1:], ", "))
		}
	}

	pathPart := byName["path"]
	src, err := stringPart(pathPart, "string")
	if err != nil {
		return nil, err
	}
	if op.path, err = fhirpath.Compile(src); err != nil {
		var se *fhirpath.SyntaxError
		if errors.As(err, &se) {
			return nil, outcome.Invalid(pathPart.where, "the path is not FHIRPath this server supports: %s", se.Error())
		}
		return nil, outcome.Invalid(pathPart.where, "the path is not FHIRPath this server supports")
	}
	if kind == "insert" || kind == "move" {
		var ok bool
		if op.parent, op.list, ok = op.path.SplitLast(); !ok {
			return nil, outcome.Invalid(pathPart.where, "the path of %s names the list, and must end in the list's element name, such as Patient.identifier", an(kind))
		}
	}
	if pt := byName["name"]; pt != nil {
		if op.name, err = stringPart(pt, "string"); err != nil {
			return nil, err
		}
		if op.name == "" {
			return nil, outcome.Invalid(pt.where, "the name part is empty")
		}
		op.nameAt = pt.where
	}
	if pt := byName["value"]; pt != nil {
		if err := checkValue(pt); err != nil {
			return nil, err
		}
		op.value = pt
	}
	for _, ix := range []struct {
		name string
		n    *int
		at   *string
	}{{"index", &op.index, &op.indexAt}, {"source", &op.source, &op.sourceAt}, {"destination", &op.destination, &op.destAt}} {
		if pt := byName[ix.name]; pt != nil {
			if *ix.n, err = indexPart(pt); err != nil {
				return nil, err
			}
			*ix.at = pt.where
		}
	}
	return op, nil
}

func isPartName(name string) bool {
	switch name {
	case "type", "path", "name", "value", "index", "source", "destination":
		return true
	}
	return false
}

// parsePart reads one parameter or part (already valid FHIR) and its
// nested parts.
func parsePart(where string, raw map[string]json.RawMessage) (*part, error) {
	p := &part{where: where}
	if n, ok := raw["name"]; ok {
		if err := json.Unmarshal(n, &p.name); err != nil {
			return nil, outcome.Invalid(where+".name", "name must be a string")
		}
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys) // "_valueX" sorts before "valueX"
	for _, k := range keys {
		v := raw[k]
		switch {
		case strings.HasPrefix(strings.TrimPrefix(k, "_"), "value") && len(strings.TrimPrefix(k, "_")) > len("value"):
			// value[x], or _value[x] with a primitive's id and extensions.
			raw := compact(v)
			if string(raw) == "null" {
				raw = nil
			}
			if k[0] == '_' {
				p.ext = raw
			} else {
				p.value = raw
			}
			if err := p.setType(strings.TrimPrefix(k, "_")[len("value"):]); err != nil {
				return nil, err
			}
		case k == "resource":
			p.resource = compact(v)
		case k == "part":
			var list []map[string]json.RawMessage
			if err := json.Unmarshal(v, &list); err != nil {
				return nil, outcome.Invalid(where+".part", "part must be an array of parts")
			}
			for i, r := range list {
				sub, err := parsePart(fmt.Sprintf("%s.part[%d]", where, i), r)
				if err != nil {
					return nil, err
				}
				p.parts = append(p.parts, sub)
			}
		}
	}
	return p, nil
}

// setType sets p's value type from the suffix of its value[x] property
// ("HumanName" of valueHumanName, "String" of valueString).
func (p *part) setType(suffix string) error {
	name := suffix
	if t, ok := fhirpath.LookupType(name); !ok || t.Primitive() {
		name = strings.ToLower(suffix[:1]) + suffix[1:]
		if t, ok := fhirpath.LookupType(name); !ok || !t.Primitive() {
			return outcome.Invalid(p.where, "value%s is not a FHIR type", suffix)
		}
	}
	if p.valueType != "" && p.valueType != name {
		return outcome.Invalid(p.where, "a part has only one value[x]")
	}
	p.valueType = name
	return nil
}

// checkValue checks the shape of a value part and every part nested in it:
// exactly one of value[x], part and resource. (resource.Parse has checked
// that every part has a name.)
func checkValue(p *part) error {
	n := 0
	for _, has := range []bool{p.valueType != "", len(p.parts) > 0, p.resource != nil} {
		if has {
			n++
		}
	}
	if n != 1 {
		return outcome.Invalid(p.where, "a value is given by exactly one of value[x], part (one per element) or resource")
	}
	for _, q := range p.parts {
		if err := checkValue(q); err != nil {
			return err
		}
	}
	return nil
}

// stringPart returns the value of a part that must be a value[x] of one
// of the given types.
func stringPart(p *part, types ...string) (string, error) {
	if !contains(types, p.valueType) || p.value == nil {
		return "", outcome.Invalid(p.where, "the %s part must have a value%s", p.name, upperFirst(types[0]))
	}
	var s string
	if err := json.Unmarshal(p.value, &s); err != nil {
		return "", outcome.Invalid(p.where, "the %s part must have a value%s", p.name, upperFirst(types[0]))
	}
	return s, nil
}

// indexPart returns the value of an index, source or destination part.
func indexPart(p *part) (int, error) {
	if !contains([]string{"integer", "unsignedInt", "positiveInt"}, p.valueType) || p.value == nil {
		return 0, outcome.Invalid(p.where, "the %s part must have a valueInteger", p.name)
	}
	var n int
	if err := json.Unmarshal(p.value, &n); err != nil || n < 0 {
		return 0, outcome.Invalid(p.where, "the %s part must be a list index: 0 or more", p.name)
	}
	return n, nil
}

// compact returns the compact form of raw, which resource.Parse has
// already accepted as JSON.
func compact(raw []byte) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// an puts the article before an operation type.
func an(kind string) string {
	if kind == "insert" || kind == "add" {
		return "an " + kind
	}
	return "a " + kind
}

// quote quotes a client-supplied name for a message, cut short.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}
