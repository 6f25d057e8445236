package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The FHIR bodies loadgen sends. They are filled from templates with
// fmt.Appendf so that building one costs a few microseconds of the load
// generator's CPU, which shares the machine with the server under test.

// patient returns a small, realistic Patient for seeding.
func patient(rng *rand.Rand, n int) []byte {
	given := givenNames[rng.IntN(len(givenNames))]
	family := familyNames[rng.IntN(len(familyNames))]
	gender := "female"
	if rng.IntN(2) == 0 {
		gender = "male"
	}
	birth := time.Date(1930+rng.IntN(80), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
	return fmt.Appendf(nil, patientTemplate,
		n, family, given, gender, birth.Format(time.DateOnly), rng.IntN(9000)+1000, rng.IntN(90000)+10000)
}

const patientTemplate = `{"resourceType":"Patient",` +
	`"meta":{"profile":["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]},` +
	`"identifier":[{"use":"usual","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR","display":"Medical record number"}]},` +
	`"system":"urn:oid:1.2.36.146.595.217.0.1","value":"BENCH-%08d"}],` +
	`"active":true,` +
	`"name":[{"use":"official","family":%q,"given":[%q]}],` +
	`"gender":%q,"birthDate":%q,` +
	`"telecom":[{"system":"phone","value":"+1 555 010 %04d","use":"mobile"}],` +
	`"address":[{"use":"home","line":["1 Bench Street"],"city":"Springfield","postalCode":"%05d","country":"US"}]}`

var (
	givenNames  = []string{"Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tony"}
	familyNames = []string{"Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman", "Hoare"}
)

// observation returns a vital-signs Observation of about 2 KB about
// Patient/patientID: half heart rate (LOINC 8867-4), half blood pressure
// (85354-9 with systolic and diastolic components), UCUM units.
func observation(rng *rand.Rand, patientID string, now time.Time) []byte {
	id := uuid(rng)
	effective := now.Add(-time.Duration(rng.IntN(3600)) * time.Second).UTC().Format(time.RFC3339)
	issued := now.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	device := rng.IntN(100000)
	if rng.IntN(2) == 0 {
		hr := 50 + rng.IntN(70)
		text := narrative(fmt.Sprintf("Heart rate %d /min at %s, wearable ECG patch HR-%06d", hr, effective, device))
		return fmt.Appendf(nil, heartRateTemplate,
			text, id, patientID, effective, issued, device, device, hr, interpretation(hr, 60, 100), note(rng))
	}
	sys, dia := 100+rng.IntN(60), 60+rng.IntN(35)
	text := narrative(fmt.Sprintf("Blood pressure %d/%d mmHg at %s, upper-arm cuff BP-%06d", sys, dia, effective, device))
	return fmt.Appendf(nil, bloodPressureTemplate,
		text, id, patientID, effective, issued, device, device,
		sys, interpretation(sys, 90, 140), dia, interpretation(dia, 60, 90), note(rng))
}

// narrative is a generated Observation.text div saying s.
func narrative(s string) string {
	return `<div xmlns="http://www.w3.org/1999/xhtml"><p><b>Generated narrative</b>: ` + s + `</p></div>`
}

// interpretation is the v3 ObservationInterpretation of v against [low, high].
func interpretation(v, low, high int) string {
	const f = `{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation","code":%q,"display":%q}]}`
	switch {
	case v < low:
		return fmt.Sprintf(f, "L", "Low")
	case v > high:
		return fmt.Sprintf(f, "H", "High")
	default:
		return fmt.Sprintf(f, "N", "Normal")
	}
}

var notes = []string{
	"Measured at rest after five minutes seated, patient calm and cooperative.",
	"Reading taken by the home monitoring kit during the scheduled morning check.",
	"Patient reports mild dizziness earlier in the day; no symptoms at time of reading.",
	"Repeat measurement after an irregular first reading; this value confirmed.",
}

func note(rng *rand.Rand) string { return notes[rng.IntN(len(notes))] }

// uuid returns a random (version 4 layout) UUID from rng. It need not be
// cryptographically random, only unique enough for identifiers.
func uuid(rng *rand.Rand) string {
	hi, lo := rng.Uint64(), rng.Uint64()
	hi = hi&^0xf000 | 0x4000     // version 4
	lo = lo&^(0xc<<60) | 0x8<<60 // RFC 4122 variant
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, hi>>16&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
}

const obsCommon = `"status":"final",` +
	`"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs","display":"Vital Signs"}],"text":"Vital Signs"}],`

// Placeholders, in order: narrative div, identifier uuid, patient id, effectiveDateTime,
// issued, device serial (twice), value(s) with interpretation(s), note.
const heartRateTemplate = `{"resourceType":"Observation",` +
	`"meta":{"profile":["http://hl7.org/fhir/StructureDefinition/vitalsigns","http://hl7.org/fhir/StructureDefinition/heartrate"]},` +
	`"text":{"status":"generated","div":%q},` +
	`"identifier":[{"system":"urn:ietf:rfc:3986","value":"urn:uuid:%s"}],` +
	obsCommon +
	`"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}],"text":"Heart rate"},` +
	`"subject":{"reference":"Patient/%s"},` +
	`"effectiveDateTime":%q,"issued":%q,` +
	`"performer":[{"identifier":{"system":"urn:oid:2.16.840.1.113883.4.6","value":"1234567893"},"display":"Remote monitoring nurse"}],` +
	`"device":{"identifier":{"system":"urn:telefhir:device-serial","value":"HR-%06d"},"display":"Wearable ECG patch HR-%06d"},` +
	`"bodySite":{"coding":[{"system":"http://snomed.info/sct","code":"80891009","display":"Heart structure"}]},` +
	`"method":{"coding":[{"system":"http://snomed.info/sct","code":"258104002","display":"Measured (qualifier value)"}]},` +
	`"valueQuantity":{"value":%d,"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"},` +
	`"interpretation":[%s],` +
	`"referenceRange":[{"low":{"value":60,"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"},` +
	`"high":{"value":100,"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"},"text":"Normal resting adult heart rate"}],` +
	`"note":[{"text":%q}]}`

const bloodPressureTemplate = `{"resourceType":"Observation",` +
	`"meta":{"profile":["http://hl7.org/fhir/StructureDefinition/vitalsigns","http://hl7.org/fhir/StructureDefinition/bp"]},` +
	`"text":{"status":"generated","div":%q},` +
	`"identifier":[{"system":"urn:ietf:rfc:3986","value":"urn:uuid:%s"}],` +
	obsCommon +
	`"code":{"coding":[{"system":"http://loinc.org","code":"85354-9","display":"Blood pressure panel with all children optional"}],"text":"Blood pressure"},` +
	`"subject":{"reference":"Patient/%s"},` +
	`"effectiveDateTime":%q,"issued":%q,` +
	`"performer":[{"identifier":{"system":"urn:oid:2.16.840.1.113883.4.6","value":"1234567893"},"display":"Remote monitoring nurse"}],` +
	`"device":{"identifier":{"system":"urn:telefhir:device-serial","value":"BP-%06d"},"display":"Upper-arm cuff BP-%06d"},` +
	`"bodySite":{"coding":[{"system":"http://snomed.info/sct","code":"368209003","display":"Right upper arm structure"}]},` +
	`"component":[` +
	`{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6","display":"Systolic blood pressure"}],"text":"Systolic"},` +
	`"valueQuantity":{"value":%d,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"},"interpretation":[%s]},` +
	`{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4","display":"Diastolic blood pressure"}],"text":"Diastolic"},` +
	`"valueQuantity":{"value":%d,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"},"interpretation":[%s]}],` +
	`"note":[{"text":%q}]}`

// createdID returns the id of the resource a create answered with: the
// "id" of the body when there is one, else the id in the Location header
// ([base]/Type/id/_history/vid).
func createdID(resp *http.Response, body []byte) (string, error) {
	var r struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(body, &r) == nil && r.ID != "" {
		return r.ID, nil
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		loc = resp.Header.Get("Content-Location")
	}
	if i := strings.Index(loc, "/_history/"); i >= 0 {
		loc = loc[:i]
	}
	if id := path.Base(loc); loc != "" && id != "." && id != "/" {
		return id, nil
	}
	return "", fmt.Errorf("create answered %s with neither a body id nor a Location header", resp.Status)
}

// smallTransaction returns a transaction Bundle that creates a Patient and
// a vital-signs Observation about it, linked by the Patient's urn:uuid
// fullUrl: the smallest useful transaction, as a device gateway enrolling
// a patient with a first reading sends.
func smallTransaction(rng *rand.Rand, now time.Time) []byte {
	pid := "urn:uuid:" + uuid(rng)
	obs := bytes.Replace(observation(rng, "SUBJECT", now), []byte(`"Patient/SUBJECT"`), []byte(strconv.Quote(pid)), 1)
	b := make([]byte, 0, 4096)
	b = append(b, `{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"`...)
	b = append(b, pid...)
	b = append(b, `","resource":`...)
	b = append(b, patient(rng, rng.IntN(1_000_000))...)
	b = append(b, `,"request":{"method":"POST","url":"Patient"}},{"fullUrl":"urn:uuid:`...)
	b = append(b, uuid(rng)...)
	b = append(b, `","resource":`...)
	b = append(b, obs...)
	b = append(b, `,"request":{"method":"POST","url":"Observation"}}]}`...)
	return b
}

// readBundles reads the transaction Bundles (.json, .json.gz) in dir, in
// name order, and counts their entries.
func readBundles(dir string) (bundles [][]byte, entries []int, err error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.json*"))
	if err != nil {
		return nil, nil, err
	}
	slices.Sort(names)
	for _, name := range names {
		if !strings.HasSuffix(name, ".json") && !strings.HasSuffix(name, ".json.gz") {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, nil, err
		}
		if strings.HasSuffix(name, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", name, err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", name, err)
			}
		}
		var bun struct {
			ResourceType, Type string
			Entry              []json.RawMessage
		}
		if err := json.Unmarshal(b, &bun); err != nil || bun.ResourceType != "Bundle" || bun.Type != "transaction" {
			return nil, nil, fmt.Errorf("%s is not a transaction Bundle", name)
		}
		bundles = append(bundles, b)
		entries = append(entries, len(bun.Entry))
	}
	if len(bundles) == 0 {
		return nil, nil, fmt.Errorf("no .json or .json.gz transaction Bundles in %s", dir)
	}
	return bundles, entries, nil
}
