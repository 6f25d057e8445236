package fhirpath

import (
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	apb "github.com/google/fhir/go/proto/google/fhir/proto/annotations_go_proto"
	rpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
)

// The R4 element model, read once from google/fhir's R4 protos: every
// resource is a field of the ContainedResource oneof, and every message
// reachable from one is a datatype or a backbone element.

// typeInfo is one FHIR type (or one backbone element) of the model.
type typeInfo struct {
	name      string // FHIR type name as FHIRPath reports it: "Quantity", "code", "Patient", "BackboneElement"
	primitive bool
	resource  bool
	// fields maps an element name ("value", "valueQuantity", "code") to the
	// element. A choice element is there under its base name and under
	// each of its typed JSON names.
	fields map[string]*field
}

// field is one element of a typeInfo.
type field struct {
	name    string // JSON property name
	extName string // "_" + name: where a primitive's id and extensions sit
	// typ is the element's type; nil for a choice (see choices) and for an
	// inline resource (see resource).
	typ *typeInfo
	// resource marks an element holding a whole resource
	// (DomainResource.contained, Bundle.entry.resource, …): the type comes
	// from its resourceType.
	resource bool
	// choices are the JSON properties of a choice element value[x], with
	// their types, in the order the model lists them.
	choices []choice
	// list marks a repeating element (max cardinality above 1): its JSON
	// property holds an array.
	list bool
	// choiceOf, for a choice element's typed property (valueQuantity), is
	// the choice element itself (value).
	choiceOf *field
}

type choice struct {
	name    string // "valueQuantity"
	extName string // "_valueQuantity"
	typ     *typeInfo
}

type model struct {
	types map[string]*typeInfo // FHIR type and resource names → typeInfo (not backbones)
	// parent maps a FHIR type name to the type it specialises, for is/as/ofType.
	parent map[string]string
}

var (
	modelOnce sync.Once
	theModel  *model
)

// r4 returns the R4 model, building it on first use.
func r4() *model {
	modelOnce.Do(func() { theModel = buildModel() })
	return theModel
}

// Specialisations the protos do not record. Age and friends are their own
// types in R4 but derive from Quantity; the primitive specialisations follow
// the R4 StructureDefinitions' baseDefinition.
var extraParents = map[string]string{
	"Age":         "Quantity",
	"Count":       "Quantity",
	"Distance":    "Quantity",
	"Duration":    "Quantity",
	"code":        "string",
	"id":          "string",
	"markdown":    "string",
	"canonical":   "uri",
	"oid":         "uri",
	"url":         "uri",
	"uuid":        "uri",
	"positiveInt": "integer",
	"unsignedInt": "integer",
}

const (
	referenceFullName = "google.fhir.r4.core.Reference"
	anyFullName       = "google.protobuf.Any"
)

type builder struct {
	m         *model
	byMessage map[protoreflect.FullName]*typeInfo
	contained protoreflect.FullName
}

func buildModel() *model {
	m := &model{types: map[string]*typeInfo{}, parent: map[string]string{}}
	cd := (&rpb.ContainedResource{}).ProtoReflect().Descriptor()
	b := &builder{m: m, byMessage: map[protoreflect.FullName]*typeInfo{}, contained: cd.FullName()}
	rs := cd.Oneofs().ByName("oneof_resource").Fields()
	for i := range rs.Len() {
		b.typeOf(rs.Get(i).Message())
	}
	// The abstract resource types, for paths like Resource.id: their
	// elements are those every (domain) resource has.
	res := &typeInfo{name: "Resource", resource: true, fields: map[string]*field{}}
	dom := &typeInfo{name: "DomainResource", resource: true, fields: map[string]*field{}}
	if p := m.types["Patient"]; p != nil {
		for _, name := range []string{"id", "meta", "implicitRules", "language"} {
			res.fields[name] = p.fields[name]
			dom.fields[name] = p.fields[name]
		}
		for _, name := range []string{"text", "contained", "extension", "modifierExtension"} {
			dom.fields[name] = p.fields[name]
		}
	}
	m.types["Resource"], m.types["DomainResource"] = res, dom
	// A primitive's id and extensions live in its "_name" JSON property.
	if str, ext := m.types["string"], m.types["Extension"]; str != nil && ext != nil {
		for _, t := range b.byMessage {
			if t.primitive {
				t.fields["id"] = &field{name: "id", extName: "_id", typ: str}
				t.fields["extension"] = &field{name: "extension", extName: "_extension", typ: ext, list: true}
			}
		}
	}
	for _, abstract := range []string{"Element", "BackboneElement"} {
		if _, ok := m.types[abstract]; !ok {
			m.types[abstract] = &typeInfo{name: abstract, fields: map[string]*field{}}
		}
	}
	for name, p := range extraParents {
		m.parent[name] = p
	}
	for name, t := range m.types {
		if _, ok := m.parent[name]; ok || name == "Resource" || name == "Element" {
			continue
		}
		switch {
		case t.resource && name == "DomainResource":
			m.parent[name] = "Resource"
		case t.resource:
			// A domain resource has narrative and contained resources;
			// Bundle, Binary and Parameters have neither.
			if t.fields["text"] != nil && t.fields["contained"] != nil {
				m.parent[name] = "DomainResource"
			} else {
				m.parent[name] = "Resource"
			}
		case t.fields["modifierExtension"] != nil && name != "BackboneElement":
			m.parent[name] = "BackboneElement"
		default:
			m.parent[name] = "Element"
		}
	}
	return m
}

// typeOf returns the typeInfo of message md, building it (and everything it
// reaches) on first sight.
func (b *builder) typeOf(md protoreflect.MessageDescriptor) *typeInfo {
	if t, ok := b.byMessage[md.FullName()]; ok {
		return t
	}
	opts := md.Options()
	kind := proto.GetExtension(opts, apb.E_StructureDefinitionKind).(apb.StructureDefinitionKindValue)
	t := &typeInfo{
		primitive: kind == apb.StructureDefinitionKindValue_KIND_PRIMITIVE_TYPE,
		resource:  kind == apb.StructureDefinitionKindValue_KIND_RESOURCE,
		fields:    map[string]*field{},
	}
	if bases := proto.GetExtension(opts, apb.E_FhirProfileBase).([]string); len(bases) > 0 {
		// A profile (SimpleQuantity, a bound code): FHIRPath sees the
		// type it constrains.
		t.name = lastSegment(bases[0])
		if url := proto.GetExtension(opts, apb.E_FhirStructureDefinitionUrl).(string); url != "" {
			// Named profiles are valid in type specifiers (is SimpleQuantity).
			b.m.parent[lastSegment(url)] = t.name
		}
	} else if url := proto.GetExtension(opts, apb.E_FhirStructureDefinitionUrl).(string); url != "" {
		t.name = lastSegment(url)
		if _, ok := b.m.types[t.name]; !ok {
			b.m.types[t.name] = t
		}
	} else {
		// A backbone element; R4 types the ones that may carry modifier
		// extensions as BackboneElement and the others (Timing.repeat,
		// ElementDefinition.slicing, …) as Element.
		t.name = "Element"
		if md.Fields().ByName("modifier_extension") != nil {
			t.name = "BackboneElement"
		}
	}
	b.byMessage[md.FullName()] = t
	if t.primitive {
		return t
	}
	fds := md.Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		sub := fd.Message()
		if sub == nil {
			continue
		}
		if md.FullName() == referenceFullName && fd.ContainingOneof() != nil && fd.JSONName() != "reference" {
			// The protos split Reference.reference into typed ids; JSON
			// has only the string.
			continue
		}
		f := &field{name: fd.JSONName(), extName: "_" + fd.JSONName(), list: fd.IsList()}
		switch {
		case sub.FullName() == b.contained || sub.FullName() == anyFullName:
			f.resource = true
		case proto.GetExtension(sub.Options(), apb.E_IsChoiceType).(bool):
			cs := sub.Fields()
			for j := range cs.Len() {
				c := cs.Get(j)
				ct := b.typeOf(c.Message())
				cname := f.name + upperFirst(c.JSONName())
				f.choices = append(f.choices, choice{name: cname, extName: "_" + cname, typ: ct})
				t.fields[cname] = &field{name: cname, extName: "_" + cname, typ: ct, choiceOf: f}
			}
		default:
			f.typ = b.typeOf(sub)
		}
		t.fields[f.name] = f
	}
	return t
}

// validType reports whether name is a FHIR type name of the model.
func (m *model) validType(name string) bool {
	if _, ok := m.types[name]; ok {
		return true
	}
	_, ok := m.parent[name]
	return ok
}

func (t *typeInfo) abstract() bool {
	switch t.name {
	case "Resource", "DomainResource", "Element", "BackboneElement":
		return true
	}
	return false
}

func lastSegment(url string) string {
	return url[strings.LastIndexByte(url, '/')+1:]
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// resourceType returns the typeInfo of the resource type name, or nil.
func (m *model) resourceType(name string) *typeInfo {
	t := m.types[name]
	if t == nil || !t.resource || name == "Resource" || name == "DomainResource" {
		return nil
	}
	return t
}

// isA reports whether FHIR type name is, or specialises, super.
func (m *model) isA(name, super string) bool {
	for name != "" {
		if name == super {
			return true
		}
		name = m.parent[name]
	}
	return false
}
