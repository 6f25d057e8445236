package fhirpath

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Value is one item of an evaluation result.
type Value struct {
	// Node is the item as generic JSON: map[string]any for a complex
	// value or a resource; string, json.Number or bool for a primitive.
	// It is nil for a FHIR primitive that has extensions but no value.
	// Node shares memory with the evaluated resource: do not modify it.
	Node any
	// Type is the item's type: a FHIR type name for an element of the
	// resource ("CodeableConcept", "dateTime", "code", "Period",
	// "Patient", "BackboneElement"), or a FHIRPath System type for a
	// value the expression computed ("System.Boolean", "System.String",
	// "System.Integer", "System.Decimal"). It is "" when the model does
	// not know the element.
	Type string

	ti  *typeInfo      // the model's view of Type, for navigation; nil for System values
	ext map[string]any // for a FHIR primitive: its "_name" element (id, extension)
	res map[string]any // the resource this item belongs to, for resolve("#id")

	// loc is where the item sits in the evaluated resource, and resLoc
	// where res does; both nil unless EvaluateLocated asked for them, and
	// loc nil for values the expression computed.
	loc, resLoc *location
}

// System type names.
const (
	sysBoolean = "System.Boolean"
	sysString  = "System.String"
	sysInteger = "System.Integer"
	sysDecimal = "System.Decimal"
)

// Decode decodes one JSON resource for Evaluate: objects become
// map[string]any, arrays []any and numbers json.Number, so that decimals
// keep their exact text.
func Decode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("fhirpath: decode resource: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("fhirpath: decode resource: data after the JSON value")
	}
	return v, nil
}

func boolValue(b bool) Value { return Value{Node: b, Type: sysBoolean} }

// primitiveOf returns v's primitive value, if it has one.
func (v Value) primitiveOf() (any, bool) {
	switch n := v.Node.(type) {
	case string, bool, json.Number:
		return n, true
	}
	return nil, false
}
