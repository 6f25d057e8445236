package resource

import (
	"slices"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	apb "github.com/google/fhir/go/proto/google/fhir/proto/annotations_go_proto"
	rpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
)

// The R4 resource model as google/fhir's protos define it. Everything here is
// computed once from the ContainedResource proto, whose oneof has one field
// per concrete R4 resource type.
var (
	containedDesc = (&rpb.ContainedResource{}).ProtoReflect().Descriptor()

	// typeNames is every concrete R4 resource type, sorted.
	typeNames []string
	// typeDescs maps a resource type name to its message descriptor.
	typeDescs map[string]protoreflect.MessageDescriptor
)

const anyFullName = "google.protobuf.Any"

func init() {
	oneof := containedDesc.Oneofs().ByName("oneof_resource")
	fields := oneof.Fields()
	typeDescs = make(map[string]protoreflect.MessageDescriptor, fields.Len())
	for i := range fields.Len() {
		md := fields.Get(i).Message()
		name := string(md.Name())
		typeNames = append(typeNames, name)
		typeDescs[name] = md
	}
	slices.Sort(typeNames)
}

// Types returns every concrete FHIR R4 resource type name (the abstract
// Resource and DomainResource are not included), sorted. The caller may
// modify the returned slice.
func Types() []string { return slices.Clone(typeNames) }

// IsType reports whether name is a concrete FHIR R4 resource type.
// Names are case-sensitive: "Patient" is a type, "patient" is not.
func IsType(name string) bool {
	_, ok := typeDescs[name]
	return ok
}

// isChoice reports whether md is a choice-type container (value[x]).
func isChoice(md protoreflect.MessageDescriptor) bool {
	return md != nil && proto.HasExtension(md.Options(), apb.E_IsChoiceType)
}

// holdsResource reports whether a field of type md holds an inline resource
// (Bundle.entry.resource, DomainResource.contained,
// Parameters.parameter.resource, …).
func holdsResource(md protoreflect.MessageDescriptor) bool {
	return md != nil && (md.FullName() == containedDesc.FullName() || md.FullName() == anyFullName)
}

// isPrimitive reports whether md is a FHIR primitive type (string, date,
// code, …), whose JSON value is a JSON string, number or boolean.
func isPrimitive(md protoreflect.MessageDescriptor) bool {
	return md != nil && proto.GetExtension(md.Options(), apb.E_StructureDefinitionKind).(apb.StructureDefinitionKindValue) == apb.StructureDefinitionKindValue_KIND_PRIMITIVE_TYPE
}

// fieldInfo is what the scanner needs to know about a JSON property.
type fieldInfo struct {
	msg        protoreflect.MessageDescriptor // the value's type (a choice resolved to its branch)
	primitive  bool                           // a FHIR primitive's value: must be a JSON primitive
	underscore bool                           // the "_x" extension holder of primitive x
	resource   bool                           // holds an inline resource
	repeated   bool                           // a JSON array
}

// fieldTables caches fieldTable per message descriptor.
var fieldTables sync.Map // protoreflect.FullName → map[string]fieldInfo

// fieldTable maps the JSON property names of md's FHIR type to their
// fieldInfo: "valueQuantity" for a choice, "_birthDate" for a primitive's
// extensions. Names the protos spell differently from FHIR JSON (the
// Reference.reference string) are missing, and the scanner leaves them to
// the library.
func fieldTable(md protoreflect.MessageDescriptor) map[string]fieldInfo {
	if t, ok := fieldTables.Load(md.FullName()); ok {
		return t.(map[string]fieldInfo)
	}
	t := map[string]fieldInfo{}
	add := func(name string, fd protoreflect.FieldDescriptor) {
		m := fd.Message()
		if m == nil {
			return
		}
		if holdsResource(m) {
			t[name] = fieldInfo{resource: true, repeated: fd.IsList()}
			return
		}
		prim := isPrimitive(m)
		t[name] = fieldInfo{msg: m, primitive: prim, repeated: fd.IsList()}
		if prim {
			t["_"+name] = fieldInfo{msg: m, underscore: true, repeated: fd.IsList()}
		}
	}
	fds := md.Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		if isChoice(fd.Message()) {
			subs := fd.Message().Fields()
			for j := range subs.Len() {
				add(fd.JSONName()+upperFirst(subs.Get(j).JSONName()), subs.Get(j))
			}
			continue
		}
		add(fd.JSONName(), fd)
	}
	v, _ := fieldTables.LoadOrStore(md.FullName(), t)
	return v.(map[string]fieldInfo)
}
