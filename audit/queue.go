package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/telefhir/telefhir/fhir/resource"
)

// The queue format. A queue entry holds one or more records, one JSON
// object per line, in the compact form below; the sealer renders each as
// an AuditEvent. Queueing the compact form rather than the rendered
// AuditEvent keeps a request's share of the group commit to a few hundred
// bytes and leaves the rendering to the sealer. Entries outlive upgrades
// (a crash leaves them for the next version to seal), so the format is
// versioned: a decoder accepts every version it knows.

// queueVersion is the version of the compact form written.
const queueVersion = 1

// maxQueueLine bounds one record in the queue: a query longer than
// maxQuery is not kept, so this is generous.
const maxQueueLine = 1 << 20

type wireRecord struct {
	V         int            `json:"v"`
	ID        string         `json:"id"`
	Recorded  int64          `json:"t"` // Unix milliseconds
	Kind      string         `json:"k"`
	Inter     string         `json:"i,omitempty"`
	Op        string         `json:"op,omitempty"`
	Action    string         `json:"a,omitempty"`
	Outcome   Outcome        `json:"o,omitempty"`
	Desc      string         `json:"d,omitempty"`
	Client    string         `json:"c,omitempty"`
	FHIRUser  string         `json:"u,omitempty"`
	Subject   string         `json:"s,omitempty"`
	Role      string         `json:"r,omitempty"`
	Token     string         `json:"tk,omitempty"`
	Address   string         `json:"ad,omitempty"`
	Endpoint  string         `json:"ep,omitempty"`
	Resources []wireResource `json:"res,omitempty"`
	Patients  []string       `json:"p,omitempty"`
	Query     []byte         `json:"q,omitempty"` // base64 in JSON
	RequestID string         `json:"rq,omitempty"`
	Others    []jsonEntity   `json:"x,omitempty"`
}

type wireResource struct {
	Ref     string   `json:"r"`
	Details []detail `json:"d,omitempty"`
}

// encode appends rec's queue line (with its newline) to dst.
func (rec *record) encode(dst []byte) ([]byte, error) {
	w := wireRecord{
		V: queueVersion, ID: rec.id, Recorded: rec.recorded.UnixMilli(), Kind: rec.kind,
		Inter: rec.interaction, Op: rec.operation, Action: rec.action, Outcome: rec.outcome, Desc: rec.desc,
		Client: rec.actor.clientID, FHIRUser: rec.actor.fhirUser, Subject: rec.actor.subject, Role: rec.actor.role,
		Token: rec.actor.token, Address: rec.actor.address, Endpoint: rec.endpoint,
		Patients: rec.patients, Query: rec.query, RequestID: rec.requestID, Others: rec.others,
	}
	for _, r := range rec.resources {
		w.Resources = append(w.Resources, wireResource{r.ref, r.details})
	}
	buf := bytes.NewBuffer(dst)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil { // Encode ends the line
		return nil, fmt.Errorf("audit: encode record: %w", err)
	}
	if buf.Len()-len(dst) > maxQueueLine {
		return nil, fmt.Errorf("audit: record %s is %d bytes, more than %d", rec.id, buf.Len()-len(dst), maxQueueLine)
	}
	return buf.Bytes(), nil
}

// decodeLine parses one queue line.
func decodeLine(line []byte) (*record, error) {
	if len(line) > maxQueueLine {
		return nil, errors.New("record too long")
	}
	var w wireRecord
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("not a queued record: %w", err)
	}
	if dec.More() {
		return nil, errors.New("more than one value on the line")
	}
	switch {
	case w.V != queueVersion:
		return nil, fmt.Errorf("unknown queue format version %d", w.V)
	case !resource.ValidID(w.ID):
		return nil, errors.New("invalid id")
	case w.Recorded <= 0 || w.Recorded > maxRecorded:
		return nil, errors.New("recorded time out of range")
	case w.Kind != kindREST && kindCodes[w.Kind].typ.Code == "":
		return nil, fmt.Errorf("unknown kind %q", w.Kind)
	}
	rec := &record{
		id: w.ID, recorded: time.UnixMilli(w.Recorded).UTC(), kind: w.Kind,
		interaction: w.Inter, operation: w.Op, action: w.Action, outcome: w.Outcome, desc: w.Desc,
		actor:    actor{clientID: w.Client, fhirUser: w.FHIRUser, subject: w.Subject, role: w.Role, token: w.Token, address: w.Address},
		endpoint: w.Endpoint, patients: w.Patients, query: w.Query, requestID: w.RequestID, others: w.Others,
	}
	for _, r := range w.Resources {
		rec.resources = append(rec.resources, resourceEntity{r.Ref, r.Details})
	}
	return rec, nil
}

// maxRecorded is the end of year 9999 in Unix milliseconds: FHIR instants
// have four-digit years.
var maxRecorded = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli()

// lines splits a queue entry into its lines (without newlines), skipping
// empty ones.
func lines(entry []byte) [][]byte {
	var out [][]byte
	for len(entry) > 0 {
		line, rest, _ := bytes.Cut(entry, []byte{'\n'})
		if len(line) > 0 {
			out = append(out, line)
		}
		entry = rest
	}
	return out
}
