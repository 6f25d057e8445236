package fhirpatch

import (
	"strings"

	"github.com/telefhir/telefhir/fhir/fhirpath"
)

// build makes the JSON of value part p for element elem. name is how the
// patch names the element: its JSON name, or for a choice its base name
// (the value's type picks the property) or one typed name (valueQuantity).
// what names the element in messages (Patient.contact). It returns the
// item and the JSON property it goes in.
func (op *operation) build(p *part, elem fhirpath.Element, name, what string) (item, string, error) {
	switch {
	case elem.HoldsResource():
		if p.resource == nil {
			return item{}, "", op.fail(p.where, "%s holds a resource: give it as the part's resource", what)
		}
		return item{raw: p.resource}, elem.Name(), nil
	case p.resource != nil:
		return item{}, "", op.fail(p.where, "%s does not hold a resource; give a value[x] or parts", what)
	case p.valueType != "":
		return op.typed(p, elem, name, what)
	}

	// Parts, one per element of a complex type.
	var typ fhirpath.Type
	jsonName := elem.Name()
	switch {
	case elem.Choice() && name == elem.Name():
		return item{}, "", op.fail(p.where, "%s[x] is a choice element: give a value[x], or name the type (such as %s) to build it from parts", what, elem.Choices()[0].Name)
	case elem.Choice():
		c, _ := choiceNamed(elem, name)
		typ, jsonName = c.Type, c.Name
	default:
		typ, _ = elem.Type()
	}
	if typ.Primitive() {
		return item{}, "", op.fail(p.where, "%s is %s, a primitive: give it as a value[x], not parts", what, article(typ.Name()))
	}
	raw, err := op.object(p.parts, typ, what)
	if err != nil {
		return item{}, "", err
	}
	return item{raw: raw}, jsonName, nil
}

// typed checks that the value[x] of p fits elem and returns it.
func (op *operation) typed(p *part, elem fhirpath.Element, name, what string) (item, string, error) {
	vt, _ := fhirpath.LookupType(p.valueType) // Parse checked it
	it := item{raw: p.value, ext: p.ext}
	if elem.Choice() {
		if name != elem.Name() {
			c, _ := choiceNamed(elem, name)
			if !fits(vt, c.Type) {
				return item{}, "", op.fail(p.where, "%s is %s; %s value does not fit", name, article(c.Type.Name()), article(vt.Name()))
			}
			return it, c.Name, nil
		}
		cs := elem.Choices()
		for _, c := range cs {
			if c.Type.Name() == vt.Name() {
				return it, c.Name, nil
			}
		}
		for _, c := range cs {
			if vt.IsA(c.Type.Name()) {
				return it, c.Name, nil
			}
		}
		names := make([]string, len(cs))
		for i, c := range cs {
			names[i] = c.Type.Name()
		}
		return item{}, "", op.fail(p.where, "%s[x] cannot be %s; it can be %s", what, article(vt.Name()), strings.Join(names, ", "))
	}
	et, _ := elem.Type()
	switch {
	case et.Anonymous():
		return item{}, "", op.fail(p.where, "%s is a backbone element with no type of its own: give its elements as parts, not a value%s", what, upperFirst(vt.Name()))
	case !fits(vt, et):
		return item{}, "", op.fail(p.where, "%s is %s; %s value does not fit", what, article(et.Name()), article(vt.Name()))
	}
	return it, elem.Name(), nil
}

// choiceNamed returns the type of choice element e whose JSON name is
// name (valueQuantity).
func choiceNamed(e fhirpath.Element, name string) (fhirpath.Choice, bool) {
	for _, c := range e.Choices() {
		if c.Name == name {
			return c, true
		}
	}
	return fhirpath.Choice{}, false
}

// fits reports whether a value of type v may be given for an element of
// type e: the same type, a specialisation (Age for Quantity), or for a
// primitive element another primitive with the same JSON form (the value
// is validated with the resource afterwards).
func fits(v, e fhirpath.Type) bool {
	switch {
	case v.Name() == e.Name(), v.IsA(e.Name()):
		return true
	case v.Primitive() && e.Primitive():
		return jsonForm(v.Name()) == jsonForm(e.Name())
	}
	return false
}

// jsonForm is the JSON type of a primitive type's value.
func jsonForm(primitive string) byte {
	switch primitive {
	case "boolean":
		return 'b'
	case "integer", "decimal", "positiveInt", "unsignedInt":
		return 'n'
	}
	return 's'
}

// member is one element of an object built from parts.
type member struct {
	name  string // JSON property name
	list  bool
	items []item
}

// object builds the JSON object of type typ from parts, one per element,
// in their order; what names the object in messages.
func (op *operation) object(parts []*part, typ fhirpath.Type, what string) ([]byte, error) {
	var members []*member
	byElem := map[string]*member{}
	for _, q := range parts {
		sub, ok := typ.Element(q.name)
		if !ok {
			return nil, op.fail(q.where, "%s (%s) has no element %s", what, article(typ.Name()), quote(q.name))
		}
		it, name, err := op.build(q, sub, q.name, what+"."+sub.Name())
		if err != nil {
			return nil, err
		}
		m := byElem[sub.Name()]
		switch {
		case m == nil:
			m = &member{name: name, list: sub.Repeats()}
			byElem[sub.Name()] = m
			members = append(members, m)
		case !m.list:
			return nil, op.fail(q.where, "%s.%s has at most one value, and is given twice", what, sub.Name())
		}
		m.items = append(m.items, it)
	}
	b := []byte{'{'}
	field := func(name string, value []byte) {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, quoteJSON(name)...)
		b = append(b, ':')
		b = append(b, value...)
	}
	for _, m := range members {
		if !m.list {
			if m.items[0].raw != nil {
				field(m.name, m.items[0].raw)
			}
			if m.items[0].ext != nil {
				field("_"+m.name, m.items[0].ext)
			}
			continue
		}
		var vals, exts []byte
		anyVal, anyExt := false, false
		for i, it := range m.items {
			if i > 0 {
				vals, exts = append(vals, ','), append(exts, ',')
			}
			vals, exts = append(vals, orNull(it.raw)...), append(exts, orNull(it.ext)...)
			anyVal, anyExt = anyVal || it.raw != nil, anyExt || it.ext != nil
		}
		if anyVal {
			field(m.name, append(append([]byte{'['}, vals...), ']'))
		}
		if anyExt {
			field("_"+m.name, append(append([]byte{'['}, exts...), ']'))
		}
	}
	return append(b, '}'), nil
}

// quoteJSON quotes an element name (letters and digits only) as a JSON
// string.
func quoteJSON(name string) []byte {
	return []byte(`"` + name + `"`)
}

// article puts "a" or "an" before a type name.
func article(name string) string {
	if name != "" && strings.ContainsRune("aeiouAEIOU", rune(name[0])) {
		return "an " + name
	}
	return "a " + name
}
