package synth

import (
	"bytes"
	"encoding/json"
)

// The R4 shapes the generator fills. Field order is the order of the
// members in the JSON, so the output is byte-for-byte deterministic.

type coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

type concept struct {
	Coding []coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

type reference struct {
	Reference string `json:"reference,omitempty"`
	Display   string `json:"display,omitempty"`
}

type identifier struct {
	Use    string   `json:"use,omitempty"`
	Type   *concept `json:"type,omitempty"`
	System string   `json:"system,omitempty"`
	Value  string   `json:"value,omitempty"`
}

type quantity struct {
	Value  float64 `json:"value"`
	Unit   string  `json:"unit,omitempty"`
	System string  `json:"system,omitempty"`
	Code   string  `json:"code,omitempty"`
}

type period struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

type humanName struct {
	Use    string   `json:"use,omitempty"`
	Family string   `json:"family,omitempty"`
	Given  []string `json:"given,omitempty"`
	Prefix []string `json:"prefix,omitempty"`
	Suffix []string `json:"suffix,omitempty"`
}

type contactPoint struct {
	System string `json:"system"`
	Value  string `json:"value"`
	Use    string `json:"use,omitempty"`
}

type address struct {
	Use        string   `json:"use,omitempty"`
	Line       []string `json:"line,omitempty"`
	City       string   `json:"city,omitempty"`
	State      string   `json:"state,omitempty"`
	PostalCode string   `json:"postalCode,omitempty"`
	Country    string   `json:"country,omitempty"`
}

type meta struct {
	Profile []string `json:"profile,omitempty"`
}

type organization struct {
	ResourceType string         `json:"resourceType"`
	ID           string         `json:"id"`
	Identifier   []identifier   `json:"identifier"`
	Active       bool           `json:"active"`
	Type         []concept      `json:"type"`
	Name         string         `json:"name"`
	Telecom      []contactPoint `json:"telecom"`
	Address      []address      `json:"address"`
}

type qualification struct {
	Code concept `json:"code"`
}

type practitioner struct {
	ResourceType  string          `json:"resourceType"`
	ID            string          `json:"id"`
	Identifier    []identifier    `json:"identifier"`
	Active        bool            `json:"active"`
	Name          []humanName     `json:"name"`
	Telecom       []contactPoint  `json:"telecom"`
	Gender        string          `json:"gender"`
	Qualification []qualification `json:"qualification"`
}

type patient struct {
	ResourceType         string         `json:"resourceType"`
	ID                   string         `json:"id"`
	Meta                 *meta          `json:"meta,omitempty"`
	Identifier           []identifier   `json:"identifier"`
	Active               bool           `json:"active"`
	Name                 []humanName    `json:"name"`
	Telecom              []contactPoint `json:"telecom"`
	Gender               string         `json:"gender"`
	BirthDate            string         `json:"birthDate"`
	Address              []address      `json:"address"`
	MaritalStatus        *concept       `json:"maritalStatus,omitempty"`
	GeneralPractitioner  []reference    `json:"generalPractitioner"`
	ManagingOrganization reference      `json:"managingOrganization"`
}

type deviceName struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type device struct {
	ResourceType string       `json:"resourceType"`
	ID           string       `json:"id"`
	Identifier   []identifier `json:"identifier"`
	Status       string       `json:"status"`
	Manufacturer string       `json:"manufacturer"`
	DeviceName   []deviceName `json:"deviceName"`
	ModelNumber  string       `json:"modelNumber"`
	SerialNumber string       `json:"serialNumber"`
	Type         concept      `json:"type"`
	Patient      reference    `json:"patient"`
	Owner        reference    `json:"owner"`
}

type participant struct {
	Type       []concept `json:"type"`
	Individual reference `json:"individual"`
}

type encounter struct {
	ResourceType    string        `json:"resourceType"`
	ID              string        `json:"id"`
	Status          string        `json:"status"`
	Class           coding        `json:"class"`
	Type            []concept     `json:"type"`
	Subject         reference     `json:"subject"`
	Participant     []participant `json:"participant"`
	Period          period        `json:"period"`
	ReasonCode      []concept     `json:"reasonCode,omitempty"`
	ServiceProvider reference     `json:"serviceProvider"`
}

type component struct {
	Code           concept   `json:"code"`
	ValueQuantity  quantity  `json:"valueQuantity"`
	Interpretation []concept `json:"interpretation,omitempty"`
}

type observation struct {
	ResourceType      string       `json:"resourceType"`
	ID                string       `json:"id"`
	Meta              meta         `json:"meta"`
	Identifier        []identifier `json:"identifier"`
	Status            string       `json:"status"`
	Category          []concept    `json:"category"`
	Code              concept      `json:"code"`
	Subject           reference    `json:"subject"`
	Encounter         reference    `json:"encounter"`
	EffectiveDateTime string       `json:"effectiveDateTime"`
	Issued            string       `json:"issued"`
	Performer         []reference  `json:"performer"`
	ValueQuantity     *quantity    `json:"valueQuantity,omitempty"`
	Interpretation    []concept    `json:"interpretation,omitempty"`
	Device            *reference   `json:"device,omitempty"`
	Component         []component  `json:"component,omitempty"`
}

// encode returns v as compact JSON, without HTML escaping (names such as
// "Bayview Heart & Vascular" stay readable) and without a trailing newline.
func encode(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only unsupported values (channels, NaN) fail, and the generator
		// builds none.
		panic("synth: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
