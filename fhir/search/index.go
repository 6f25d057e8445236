package search

// Index is the search index of one resource version: every value of every
// search parameter of its type, extracted with the parameter's FHIRPath
// expression, in the typed shape the stores keep in one table per kind.
// It is written in the same transaction as the version it describes and
// replaces the resource's previous rows; a delete removes them.
//
// Composite parameters are indexed through their components: the values
// of component i of composite parameter P are stored under the parameter
// name CompositeComponent(P, i) with Group set to the ordinal of the
// element the composite expression selected, so a composite search can
// demand that all its components match within one element.
type Index struct {
	Strings    []StringRow
	Tokens     []TokenRow
	Dates      []DateRow
	References []ReferenceRow
	Quantities []QuantityRow
	Numbers    []NumberRow
	URIs       []URIRow
}

// Len is the number of rows in x.
func (x *Index) Len() int {
	if x == nil {
		return 0
	}
	return len(x.Strings) + len(x.Tokens) + len(x.Dates) + len(x.References) + len(x.Quantities) + len(x.Numbers) + len(x.URIs)
}

// StringRow is one value of a string parameter.
type StringRow struct {
	Param string
	Group int
	// Norm is Normalize(Exact): lower case, accents removed, white space
	// collapsed; default and :contains searches run on it.
	Norm string
	// Exact is the value as written; :exact searches run on it.
	Exact string
}

// TokenRow is one value of a token parameter: a Coding, a code, an
// Identifier, a ContactPoint, a boolean, ...
type TokenRow struct {
	Param  string
	Group  int
	System string // "" when the value has no system
	Code   string // code, identifier value, "true"/"false", ...
	// Text is the normalised display text (Coding.display,
	// CodeableConcept.text, Identifier.type.text) that :text searches run on.
	Text string
}

// DateRow is one value of a date parameter as an inclusive range of Unix
// milliseconds: a date or dateTime is the range its precision implies
// (2026-03 is the whole of March), a Period its bounds (an open end is
// the extreme of int64).
type DateRow struct {
	Param string
	Group int
	Low   int64
	High  int64
}

// ReferenceRow is one value of a reference parameter.
type ReferenceRow struct {
	Param string
	Group int
	// Type and ID identify a local target ("Patient", "123"); both empty
	// for references that cannot be resolved locally.
	Type string
	ID   string
	// URL is the reference as written when it is absolute or canonical
	// (version suffix stripped), "" otherwise.
	URL string
}

// QuantityRow is one value of a quantity parameter.
type QuantityRow struct {
	Param string
	Group int
	// Value is the number as written; Low/High the range its precision
	// implies (1.5 → [1.45, 1.55]).
	Value, Low, High   float64
	System, Code, Unit string
	// CanonCode and CanonValue are the value in the canonical UCUM unit of
	// its dimension (mg → g, min → s, ...); empty when not convertible.
	CanonCode  string
	CanonValue float64
}

// NumberRow is one value of a number parameter.
type NumberRow struct {
	Param            string
	Group            int
	Value, Low, High float64
}

// URIRow is one value of a uri parameter.
type URIRow struct {
	Param string
	Group int
	URI   string
}
