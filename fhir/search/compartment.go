package search

import (
	"slices"

	"github.com/telefhir/telefhir/fhir/fhirpath"
	"github.com/telefhir/telefhir/fhir/outcome"
)

// ExtractCompartment is ExtractJSON restricted to the reference parameters
// that put a resource of type typ into a compartment of compartmentType
// (Compartment): what CompartmentIDs needs, at a fraction of the cost of
// the whole index.
func (r *Registry) ExtractCompartment(compartmentType, typ string, body []byte) (*Index, error) {
	res, err := fhirpath.Decode(body)
	if err != nil {
		return nil, outcome.Wrap(outcome.KindStructure, err, "the resource is not valid JSON")
	}
	e := extractor{r: r, x: &Index{}}
	for _, code := range r.Compartment(compartmentType, typ) {
		p, ok := r.Lookup(typ, code)
		if !ok || p.Type != TypeReference || !p.Supported() {
			continue
		}
		if err := e.extractParam(p, res); err != nil {
			return nil, err
		}
	}
	return e.x, nil
}

// CompartmentIDs returns the ids of the compartmentType resources in whose
// compartments the resource typ/id with index rows x is (the Patients an
// Observation is about), sorted and without duplicates: the targets of its
// compartment parameters of that type, and the resource itself when it is
// of the compartment's type. x may come from ExtractJSON or
// ExtractCompartment.
func (r *Registry) CompartmentIDs(compartmentType, typ, id string, x *Index) []string {
	var out []string
	if typ == compartmentType && id != "" {
		out = append(out, id)
	}
	if x != nil {
		params := r.Compartment(compartmentType, typ)
		for _, row := range x.References {
			if row.Type == compartmentType && row.ID != "" && slices.Contains(params, row.Param) {
				out = append(out, row.ID)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
