package resource

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
)

func TestTypes(t *testing.T) {
	types := Types()
	// R4 (4.0.1) defines 148 resource types, two of them abstract
	// (Resource, DomainResource): the resource-types CodeSystem.
	if len(types) != 146 {
		t.Errorf("len(Types()) = %d, want 146", len(types))
	}
	if !slices.IsSorted(types) {
		t.Error("Types() is not sorted")
	}
	for _, name := range []string{"Patient", "Observation", "Bundle", "Parameters", "Binary", "Encounter", "Device",
		"Subscription", "OperationOutcome", "MedicinalProductAuthorization", "EffectEvidenceSynthesis", "VisionPrescription"} {
		if !IsType(name) || !slices.Contains(types, name) {
			t.Errorf("%s is not a type", name)
		}
	}
	// Not R4 core: abstract, later versions, wrong case.
	for _, name := range []string{"Resource", "DomainResource", "SubscriptionStatus", "SubscriptionTopic", "ClinicalUseDefinition",
		"Citation", "patient", "PATIENT", "", "ContainedResource", "Any"} {
		if IsType(name) {
			t.Errorf("%q is a type", name)
		}
	}
	types[0] = "Changed"
	if Types()[0] == "Changed" {
		t.Error("Types() returns the package's own slice")
	}
}

// Parse cuts inline resources out wherever a field holds one. This lists
// those fields, so a new kind of place (or a library change) is noticed.
func TestResourceHolders(t *testing.T) {
	var got []string
	seen := map[protoreflect.FullName]bool{}
	var walk func(md protoreflect.MessageDescriptor)
	walk = func(md protoreflect.MessageDescriptor) {
		if seen[md.FullName()] {
			return
		}
		seen[md.FullName()] = true
		for name, fi := range fieldTable(md) {
			switch {
			case fi.resource && name != "contained":
				got = append(got, string(md.FullName())+"."+name)
			case fi.msg != nil:
				walk(fi.msg)
			}
		}
	}
	for _, name := range typeNames {
		walk(typeDescs[name])
		if _, ok := fieldTable(typeDescs[name])["contained"]; !ok && name != "Bundle" && name != "Binary" && name != "Parameters" {
			t.Errorf("%s has no contained", name)
		}
	}
	slices.Sort(got)
	want := []string{
		"google.fhir.r4.core.Bundle.Entry.Response.outcome",
		"google.fhir.r4.core.Bundle.Entry.resource",
		"google.fhir.r4.core.Parameters.Parameter.resource",
	}
	if !slices.Equal(got, want) {
		t.Errorf("fields holding resources = %v, want %v", got, want)
	}
}

func TestFieldTable(t *testing.T) {
	obs := fieldTable(typeDescs["Observation"])
	for name, want := range map[string]fieldInfo{
		"status":        {primitive: true},
		"_status":       {underscore: true},
		"valueQuantity": {},
		"valueString":   {primitive: true},
		"_valueString":  {underscore: true},
		"category":      {repeated: true},
		"contained":     {resource: true, repeated: true},
	} {
		got, ok := obs[name]
		if !ok {
			t.Errorf("Observation.%s missing", name)
			continue
		}
		got.msg = nil
		if got != want {
			t.Errorf("Observation.%s = %+v, want %+v", name, got, want)
		}
	}
	for _, name := range []string{"value", "_valueQuantity", "Status", "_code"} {
		if _, ok := obs[name]; ok {
			t.Errorf("Observation.%s present", name)
		}
	}
}
