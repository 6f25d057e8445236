package fhirpath

// The R4 element model, exported for callers that build or change
// resources element by element (FHIRPath Patch) and so need each element's
// type, cardinality and JSON names.

// Type is a FHIR type of the R4 model: a resource, a datatype, a primitive,
// or an anonymous backbone element (Patient.contact). The zero Type is not
// valid.
type Type struct{ t *typeInfo }

// LookupType returns the resource type, datatype or primitive type of that
// name ("Patient", "HumanName", "dateTime").
func LookupType(name string) (Type, bool) {
	t := r4().types[name]
	if t == nil {
		return Type{}, false
	}
	return Type{t: t}, true
}

// Name is the type's name as FHIRPath reports it: "HumanName", "date",
// "Patient", or "BackboneElement" (or "Element") for a backbone element.
// A profiled type is named by the type it constrains (SimpleQuantity is
// "Quantity", a bound code "code").
func (t Type) Name() string { return t.t.name }

// Primitive reports whether t is a primitive type (string, date, …), whose
// JSON is a string, number or boolean, with its id and extensions in a
// "_name" sibling.
func (t Type) Primitive() bool { return t.t.primitive }

// Resource reports whether t is a resource type.
func (t Type) Resource() bool { return t.t.resource }

// Anonymous reports whether t is a backbone element, a type with no name
// of its own (Patient.contact, Timing.repeat).
func (t Type) Anonymous() bool {
	return !t.t.resource && (t.t.name == "BackboneElement" || t.t.name == "Element")
}

// IsA reports whether t is the type named super or specialises it (Age is
// a Quantity, code is a string).
func (t Type) IsA(super string) bool { return r4().isA(t.t.name, super) }

// Element returns t's element with the JSON property name: a plain
// element, the base name of a choice ("value"), or one of a choice's typed
// names ("valueQuantity"), which returns the choice element.
func (t Type) Element(name string) (Element, bool) {
	f := t.t.fields[name]
	if f == nil {
		return Element{}, false
	}
	if f.choiceOf != nil {
		f = f.choiceOf
	}
	return Element{f: f}, true
}

// Element is one element of a type: Patient.name, Observation.value[x].
// The zero Element is not valid.
type Element struct{ f *field }

// Name is the element's JSON property name; for a choice element, its base
// name ("value" for value[x]).
func (e Element) Name() string { return e.f.name }

// Repeats reports whether the element may repeat: its JSON is an array.
func (e Element) Repeats() bool { return e.f.list }

// HoldsResource reports whether the element holds whole resources
// (DomainResource.contained, Bundle.entry.resource).
func (e Element) HoldsResource() bool { return e.f.resource }

// Choice reports whether e is a choice element (value[x]).
func (e Element) Choice() bool { return e.f.choices != nil }

// Type returns the type of an element that is neither a choice nor holds
// a resource; ok is false for those.
func (e Element) Type() (Type, bool) {
	if e.f.typ == nil {
		return Type{}, false
	}
	return Type{t: e.f.typ}, true
}

// Choices returns the types a choice element allows, each with its JSON
// property name (valueQuantity), in the order of the R4 definition.
func (e Element) Choices() []Choice {
	out := make([]Choice, len(e.f.choices))
	for i, c := range e.f.choices {
		out[i] = Choice{Name: c.name, Type: Type{t: c.typ}}
	}
	return out
}

// Choice is one type a choice element allows.
type Choice struct {
	Name string // JSON property name: "valueQuantity"
	Type Type
}
