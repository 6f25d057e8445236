package conformance

import (
	"cmp"
	"encoding/json"
	"fmt"
	"time"

	"github.com/telefhir/telefhir/fhir/resource"
)

// Level is where an interaction applies.
type Level int

// Interaction levels.
const (
	LevelSystem Level = iota
	LevelType
	LevelInstance
)

// Interaction is one registered FHIR interaction, with its code from the
// R4 value sets restful-interaction / system-restful-interaction
// (read, vread, update, patch, delete, history-instance, history-type,
// create, search-type, capabilities, history-system, ...).
type Interaction struct {
	Code  string
	Level Level
}

// Software names the server.
type Software struct {
	Name    string
	Version string
}

// SearchParam is one supported search parameter of a resource type.
type SearchParam struct {
	Name       string `json:"name"`
	Definition string `json:"definition,omitempty"`
	Type       string `json:"type"`
}

// Operation is one operation a resource type supports.
type Operation struct {
	Name       string `json:"name"`
	Definition string `json:"definition"`
}

// Conditional says which conditional interactions the server supports.
type Conditional struct {
	Create, Update bool
	Delete         string // not-supported | single | multiple
}

// Options are the facts the CapabilityStatement is built from.
type Options struct {
	BaseURL      string
	Software     Software
	Date         time.Time
	Interactions []Interaction
	PatchFormats []string
	// SearchParams lists, per resource type, the search parameters the
	// server supports.
	SearchParams map[string][]SearchParam
	// Compartments are the canonical URLs of the compartments searchable
	// as [base]/[Compartment]/[id]/[type].
	Compartments []string
	Conditional  Conditional
	// Operations lists, per resource type, the operations registered.
	Operations map[string][]Operation
	// Security is rest.security; nil leaves it out.
	Security *Security
	// SubscriptionTopics are the canonical URLs of the subscription topics
	// the server supports, advertised on the Subscription resource as the
	// Subscriptions Backport IG asks of R4 servers.
	SubscriptionTopics []string
}

// Security describes how the server secures its REST API
// (CapabilityStatement.rest.security).
type Security struct {
	CORS bool
	// Description is shown as security.description (e.g. that
	// authorization is off).
	Description string
	// SMART, when set, declares the SMART-on-FHIR service and its OAuth
	// endpoints (the oauth-uris extension).
	SMART *OAuthURIs
}

// OAuthURIs are the endpoints of the oauth-uris extension.
type OAuthURIs struct {
	Authorize, Token, Introspect, Revoke, Manage string
}

// TopicCanonicalExtension is the Backport IG extension on
// CapabilityStatement.rest.resource (Subscription) naming one supported
// topic.
const TopicCanonicalExtension = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/capabilitystatement-subscriptiontopic-canonical"

// typeInteractions are the codes valid at type/instance level
// (CapabilityStatement.rest.resource.interaction.code).
var typeInteractions = map[string]bool{
	"read": true, "vread": true, "update": true, "patch": true, "delete": true,
	"history-instance": true, "history-type": true, "create": true, "search-type": true,
}

// systemInteractions are the codes valid at system level
// (CapabilityStatement.rest.interaction.code); "capabilities" is implied by
// the statement itself and not listed.
var systemInteractions = map[string]bool{
	"transaction": true, "batch": true, "search-system": true, "history-system": true,
}

type code struct {
	Code string `json:"code"`
}

type restResource struct {
	Extension         []extension   `json:"extension,omitempty"`
	Type              string        `json:"type"`
	Profile           string        `json:"profile"`
	Interaction       []code        `json:"interaction"`
	Versioning        string        `json:"versioning"`
	ReadHistory       bool          `json:"readHistory"`
	UpdateCreate      bool          `json:"updateCreate"`
	ConditionalCreate bool          `json:"conditionalCreate"`
	ConditionalRead   string        `json:"conditionalRead"`
	ConditionalUpdate bool          `json:"conditionalUpdate"`
	ConditionalDelete string        `json:"conditionalDelete"`
	SearchParam       []SearchParam `json:"searchParam,omitempty"`
	Operation         []Operation   `json:"operation,omitempty"`
}

type rest struct {
	Mode          string         `json:"mode"`
	Documentation string         `json:"documentation,omitempty"`
	Security      *security      `json:"security,omitempty"`
	Resource      []restResource `json:"resource"`
	Interaction   []code         `json:"interaction,omitempty"`
	Compartment   []string       `json:"compartment,omitempty"`
}

type capabilityStatement struct {
	ResourceType string `json:"resourceType"`
	Status       string `json:"status"`
	Date         string `json:"date"`
	Publisher    string `json:"publisher"`
	Kind         string `json:"kind"`
	Software     struct {
		Name    string `json:"name"`
		Version string `json:"version,omitempty"`
	} `json:"software"`
	Implementation struct {
		Description string `json:"description"`
		URL         string `json:"url,omitempty"`
	} `json:"implementation"`
	FHIRVersion string   `json:"fhirVersion"`
	Format      []string `json:"format"`
	PatchFormat []string `json:"patchFormat,omitempty"`
	Rest        []rest   `json:"rest"`
}

// Build returns the CapabilityStatement JSON.
func Build(o Options) ([]byte, error) {
	var cs capabilityStatement
	cs.ResourceType = "CapabilityStatement"
	cs.Status = "active"
	cs.Date = o.Date.UTC().Format(time.RFC3339)
	cs.Publisher = "telefhir"
	cs.Kind = "instance"
	cs.Software.Name = o.Software.Name
	if cs.Software.Name == "" {
		cs.Software.Name = "telefhir"
	}
	cs.Software.Version = o.Software.Version
	cs.Implementation.Description = "telefhir FHIR R4 server"
	cs.Implementation.URL = o.BaseURL
	cs.FHIRVersion = "4.0.1"
	cs.Format = []string{"application/fhir+json", "json"}
	cs.PatchFormat = o.PatchFormats

	var typeCodes []code
	seen := map[string]bool{}
	has := map[string]bool{}
	r := rest{Mode: "server"}
	for _, in := range o.Interactions {
		switch {
		case in.Level == LevelSystem && in.Code == "capabilities":
		case in.Level == LevelSystem:
			if !systemInteractions[in.Code] {
				return nil, fmt.Errorf("conformance: %q is not a system-level restful interaction", in.Code)
			}
			if !seen["system:"+in.Code] {
				seen["system:"+in.Code] = true
				r.Interaction = append(r.Interaction, code{in.Code})
			}
		default:
			if !typeInteractions[in.Code] {
				return nil, fmt.Errorf("conformance: %q is not a type-level restful interaction", in.Code)
			}
			if !seen[in.Code] {
				seen[in.Code] = true
				typeCodes = append(typeCodes, code{in.Code})
			}
			has[in.Code] = true
		}
	}
	versioning := "no-version"
	if has["vread"] {
		versioning = "versioned"
		if has["update"] {
			versioning = "versioned-update"
		}
	}
	for _, t := range resource.Types() {
		var exts []extension
		if t == "Subscription" {
			for _, u := range o.SubscriptionTopics {
				exts = append(exts, extension{URL: TopicCanonicalExtension, ValueCanonical: u})
			}
		}
		r.Resource = append(r.Resource, restResource{
			Extension:         exts,
			Type:              t,
			Profile:           "http://hl7.org/fhir/StructureDefinition/" + t,
			Interaction:       typeCodes,
			Versioning:        versioning,
			ReadHistory:       has["vread"],
			UpdateCreate:      has["update"],
			ConditionalCreate: o.Conditional.Create,
			ConditionalUpdate: o.Conditional.Update,
			ConditionalRead:   "not-supported",
			ConditionalDelete: cmp.Or(o.Conditional.Delete, "not-supported"),
			SearchParam:       o.SearchParams[t],
			Operation:         o.Operations[t],
		})
	}
	r.Compartment = o.Compartments
	r.Security = buildSecurity(o.Security)
	cs.Rest = []rest{r}
	return json.Marshal(cs)
}

type extension struct {
	URL            string      `json:"url"`
	ValueURI       string      `json:"valueUri,omitempty"`
	ValueCanonical string      `json:"valueCanonical,omitempty"`
	Extension      []extension `json:"extension,omitempty"`
}

type coding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

type concept struct {
	Coding []coding `json:"coding"`
	Text   string   `json:"text,omitempty"`
}

type security struct {
	Extension   []extension `json:"extension,omitempty"`
	CORS        bool        `json:"cors"`
	Service     []concept   `json:"service,omitempty"`
	Description string      `json:"description,omitempty"`
}

// oauthURIsExtension is the SMART extension carrying the OAuth endpoints.
const oauthURIsExtension = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"

func buildSecurity(s *Security) *security {
	if s == nil {
		return nil
	}
	out := &security{CORS: s.CORS, Description: s.Description}
	if u := s.SMART; u != nil {
		ext := extension{URL: oauthURIsExtension}
		for _, e := range []struct{ name, uri string }{
			{"authorize", u.Authorize}, {"token", u.Token}, {"introspect", u.Introspect}, {"revoke", u.Revoke}, {"manage", u.Manage},
		} {
			if e.uri != "" {
				ext.Extension = append(ext.Extension, extension{URL: e.name, ValueURI: e.uri})
			}
		}
		out.Extension = []extension{ext}
		out.Service = []concept{{
			Coding: []coding{{System: "http://terminology.hl7.org/CodeSystem/restful-security-service", Code: "SMART-on-FHIR"}},
			Text:   "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
		}}
	}
	return out
}
