package subscriptions

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
)

// TopicBase is the canonical base of the topics this server defines.
const TopicBase = "http://telefhir.dev/SubscriptionTopic/"

// Topic is a subscription topic defined by the server. R4 has no
// SubscriptionTopic resource: topics are advertised in the
// CapabilityStatement and served as Basic resources (the Backport IG's
// cross-version representation).
type Topic struct {
	// ID is the id of the Basic resource that describes the topic.
	ID          string
	URL         string
	Title       string
	Description string
	// Types are the resource types whose changes can trigger the topic;
	// the notification's focus is one of them.
	Types []string
	// Interactions are the interactions that can trigger it (create,
	// update).
	Interactions []string
	// FilterBy are the search parameters documented as filters (any
	// search parameter of Types works).
	FilterBy []string
	// trigger decides whether a change of one of Types triggers the topic.
	trigger func(ctx context.Context, c *change) (bool, error)
	// context lists the additional-context references of a notification.
	context func(c *change) []string
}

// created: the version brought the resource into existence.
func created(_ context.Context, c *change) (bool, error) {
	return !c.Deleted && (c.VersionID == 1 || c.Method == "POST"), nil
}

// statusChanged: an Encounter was created or its status differs from the
// previous version's.
func statusChanged(ctx context.Context, c *change) (bool, error) {
	if c.Deleted {
		return false, nil
	}
	if c.VersionID == 1 || c.Method == "POST" {
		return true, nil
	}
	prev, ok, err := c.previous(ctx)
	if err != nil || !ok {
		return !ok, err // no previous live version: a (re)creation
	}
	return status(prev) != status(c.body), nil
}

func status(body []byte) string {
	var v struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(body, &v)
	return v.Status
}

// implicatedObservations are the Observations an alert refers to:
// DetectedIssue.implicated, RiskAssessment.basis, Flag's extensions and
// any evidence detail.
func implicatedObservations(c *change) []string {
	var v struct {
		Implicated []struct{ Reference string } `json:"implicated"`
		Basis      []struct{ Reference string } `json:"basis"`
		Evidence   []struct {
			Detail []struct{ Reference string } `json:"detail"`
		} `json:"evidence"`
		Extension []struct {
			ValueReference *struct{ Reference string } `json:"valueReference"`
		} `json:"extension"`
	}
	if json.Unmarshal(c.body, &v) != nil {
		return nil
	}
	var refs []string
	add := func(r string) {
		if strings.HasPrefix(r, "Observation/") && !slices.Contains(refs, r) {
			refs = append(refs, r)
		}
	}
	for _, r := range v.Implicated {
		add(r.Reference)
	}
	for _, r := range v.Basis {
		add(r.Reference)
	}
	for _, e := range v.Evidence {
		for _, r := range e.Detail {
			add(r.Reference)
		}
	}
	for _, e := range v.Extension {
		if e.ValueReference != nil {
			add(e.ValueReference.Reference)
		}
	}
	return refs
}

// Topics are the topics this server defines.
func Topics() []*Topic {
	return []*Topic{
		{
			ID: "observation-created", URL: TopicBase + "observation-created",
			Title:        "Observation created",
			Description:  "Any Observation created, device readings included. Filter by patient, code, category or device.",
			Types:        []string{"Observation"},
			Interactions: []string{"create"},
			FilterBy:     []string{"patient", "subject", "code", "category", "device"},
			trigger:      created,
		},
		{
			ID: "vital-sign-alert", URL: TopicBase + "vital-sign-alert",
			Title:        "Vital-sign alert",
			Description:  "An anomaly detected on a device reading: an alert (DetectedIssue, Flag or RiskAssessment) created. The focus is the alert; additional-context the Observations it implicates.",
			Types:        []string{"DetectedIssue", "Flag", "RiskAssessment"},
			Interactions: []string{"create"},
			FilterBy:     []string{"patient", "code"},
			trigger:      created,
			context:      implicatedObservations,
		},
		{
			ID: "encounter-status", URL: TopicBase + "encounter-status",
			Title:        "Encounter status",
			Description:  "An Encounter created or its status changed (waiting room, in progress, finished). Filter by patient, status, class or participant.",
			Types:        []string{"Encounter"},
			Interactions: []string{"create", "update"},
			FilterBy:     []string{"patient", "subject", "status", "class", "participant"},
			trigger:      statusChanged,
		},
	}
}

func topicURLs(m map[string]*Topic) []string {
	out := make([]string, 0, len(m))
	for u := range m {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// xver is the base of the cross-version extensions that carry R5
// SubscriptionTopic elements on an R4 Basic resource.
const xver = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic."

type basicExt struct {
	URL           string     `json:"url"`
	ValueURI      string     `json:"valueUri,omitempty"`
	ValueString   string     `json:"valueString,omitempty"`
	ValueCode     string     `json:"valueCode,omitempty"`
	ValueMarkdown string     `json:"valueMarkdown,omitempty"`
	Extension     []basicExt `json:"extension,omitempty"`
}

// Basic is the topic as an R4 Basic resource (code SubscriptionTopic),
// with the R5 elements as cross-version extensions.
func (t *Topic) Basic() []byte {
	exts := []basicExt{
		{URL: xver + "url", ValueURI: t.URL},
		{URL: xver + "version", ValueString: "1"},
		{URL: xver + "title", ValueString: t.Title},
		{URL: xver + "status", ValueCode: "active"},
		{URL: xver + "description", ValueMarkdown: t.Description},
	}
	for _, typ := range t.Types {
		trig := basicExt{URL: xver + "resourceTrigger", Extension: []basicExt{
			{URL: "resource", ValueURI: "http://hl7.org/fhir/StructureDefinition/" + typ},
		}}
		for _, in := range t.Interactions {
			trig.Extension = append(trig.Extension, basicExt{URL: "supportedInteraction", ValueCode: in})
		}
		exts = append(exts, trig)
		for _, f := range t.FilterBy {
			exts = append(exts, basicExt{URL: xver + "canFilterBy", Extension: []basicExt{
				{URL: "resource", ValueURI: "http://hl7.org/fhir/StructureDefinition/" + typ},
				{URL: "filterParameter", ValueString: f},
			}})
		}
		exts = append(exts, basicExt{URL: xver + "notificationShape", Extension: []basicExt{
			{URL: "resource", ValueURI: "http://hl7.org/fhir/StructureDefinition/" + typ},
		}})
	}
	b, _ := json.Marshal(map[string]any{
		"resourceType": "Basic",
		"id":           t.ID,
		"extension":    exts,
		"code": map[string]any{"coding": []map[string]string{{
			"system": "http://hl7.org/fhir/fhir-types", "code": "SubscriptionTopic",
		}}},
	})
	return b
}
