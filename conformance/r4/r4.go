package r4

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"slices"
)

//go:embed Bundle-searchParams.json.gz CompartmentDefinition-*.json
var files embed.FS

// SearchParameter is the part of an R4 SearchParameter resource that a
// server needs to index and search.
type SearchParameter struct {
	ID          string      `json:"id"`
	URL         string      `json:"url"`
	Name        string      `json:"name"`
	Code        string      `json:"code"`
	Description string      `json:"description"`
	Base        []string    `json:"base"`
	Type        string      `json:"type"` // number | date | string | token | reference | composite | quantity | uri | special
	Expression  string      `json:"expression"`
	Target      []string    `json:"target"`
	MultipleOr  *bool       `json:"multipleOr"`
	MultipleAnd *bool       `json:"multipleAnd"`
	Comparator  []string    `json:"comparator"`
	Modifier    []string    `json:"modifier"`
	Chain       []string    `json:"chain"`
	Component   []Component `json:"component"`
}

// Component is one component of a composite SearchParameter: the
// definition URL of the parameter it reuses, and an expression relative to
// the element the composite's expression selects.
type Component struct {
	Definition string `json:"definition"`
	Expression string `json:"expression"`
}

// CompartmentDefinition is an R4 CompartmentDefinition: for each resource
// type, the search parameters that put a resource of that type into the
// compartment of the resource they refer to.
type CompartmentDefinition struct {
	ID       string                `json:"id"`
	URL      string                `json:"url"`
	Code     string                `json:"code"` // the compartment type: Patient, Encounter, ...
	Search   bool                  `json:"search"`
	Resource []CompartmentResource `json:"resource"`
}

// CompartmentResource is one resource type of a compartment definition.
// Param is empty for a type that is never in the compartment; "{def}"
// means the compartment's own resource.
type CompartmentResource struct {
	Code  string   `json:"code"`
	Param []string `json:"param"`
}

// SearchParametersJSON returns the official Bundle-searchParams.json
// (a Bundle of 1375 SearchParameter resources), decompressed.
func SearchParametersJSON() ([]byte, error) {
	f, err := files.Open("Bundle-searchParams.json.gz")
	if err != nil {
		return nil, fmt.Errorf("r4: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("r4: search parameters: %w", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("r4: search parameters: %w", err)
	}
	return b, nil
}

// SearchParameters decodes the official search parameters, in the order of
// the Bundle. Each call decodes afresh: callers read them once at start.
func SearchParameters() ([]SearchParameter, error) {
	b, err := SearchParametersJSON()
	if err != nil {
		return nil, err
	}
	var bundle struct {
		ResourceType string `json:"resourceType"`
		Entry        []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				SearchParameter
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&bundle); err != nil {
		return nil, fmt.Errorf("r4: search parameters: %w", err)
	}
	if bundle.ResourceType != "Bundle" {
		return nil, fmt.Errorf("r4: search parameters: resourceType %q, want Bundle", bundle.ResourceType)
	}
	out := make([]SearchParameter, 0, len(bundle.Entry))
	for i, e := range bundle.Entry {
		if e.Resource.ResourceType != "SearchParameter" {
			return nil, fmt.Errorf("r4: search parameters: entry %d is a %q", i, e.Resource.ResourceType)
		}
		out = append(out, e.Resource.SearchParameter)
	}
	return out, nil
}

// compartmentFiles are the embedded compartment definitions by code.
var compartmentFiles = map[string]string{
	"Patient":       "CompartmentDefinition-patient.json",
	"Encounter":     "CompartmentDefinition-encounter.json",
	"RelatedPerson": "CompartmentDefinition-relatedPerson.json",
	"Practitioner":  "CompartmentDefinition-practitioner.json",
	"Device":        "CompartmentDefinition-device.json",
}

// CompartmentTypes are the compartment types with an embedded definition,
// sorted.
func CompartmentTypes() []string {
	out := make([]string, 0, len(compartmentFiles))
	for code := range compartmentFiles {
		out = append(out, code)
	}
	slices.Sort(out)
	return out
}

// Compartment decodes the definition of the compartment of type code
// ("Patient", "Encounter", "RelatedPerson", "Practitioner", "Device").
func Compartment(code string) (*CompartmentDefinition, error) {
	name, ok := compartmentFiles[code]
	if !ok {
		return nil, fmt.Errorf("r4: no compartment definition for %q", code)
	}
	b, err := files.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("r4: %w", err)
	}
	var cd CompartmentDefinition
	if err := json.Unmarshal(b, &cd); err != nil {
		return nil, fmt.Errorf("r4: %s: %w", name, err)
	}
	if cd.Code != code {
		return nil, fmt.Errorf("r4: %s defines compartment %q, want %q", name, cd.Code, code)
	}
	return &cd, nil
}
