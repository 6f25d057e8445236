package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

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

// encode appends rec's queue line (with its newline) to dst. It writes
// what encoding/json would write for the wireRecord of rec (the decoder
// reads it with encoding/json), by hand: it runs for every request.
func (rec *record) encode(dst []byte) ([]byte, error) {
	start := len(dst)
	b := append(dst, `{"v":`...)
	b = strconv.AppendInt(b, queueVersion, 10)
	b = appendField(b, "id", rec.id, true)
	b = append(b, `,"t":`...)
	b = strconv.AppendInt(b, rec.recorded.UnixMilli(), 10)
	b = appendField(b, "k", rec.kind, true)
	b = appendField(b, "i", rec.interaction, false)
	b = appendField(b, "op", rec.operation, false)
	b = appendField(b, "a", rec.action, false)
	if rec.outcome != 0 {
		b = append(b, `,"o":`...)
		b = strconv.AppendInt(b, int64(rec.outcome), 10)
	}
	b = appendField(b, "d", rec.desc, false)
	b = appendField(b, "c", rec.actor.clientID, false)
	b = appendField(b, "u", rec.actor.fhirUser, false)
	b = appendField(b, "s", rec.actor.subject, false)
	b = appendField(b, "r", rec.actor.role, false)
	b = appendField(b, "tk", rec.actor.token, false)
	b = appendField(b, "ad", rec.actor.address, false)
	b = appendField(b, "ep", rec.endpoint, false)
	if len(rec.resources) > 0 {
		b = append(b, `,"res":[`...)
		for i, r := range rec.resources {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"r":`...)
			b = appendString(b, r.ref)
			if len(r.details) > 0 {
				b = append(b, `,"d":[`...)
				for j, d := range r.details {
					if j > 0 {
						b = append(b, ',')
					}
					b = append(b, `{"type":`...)
					b = appendString(b, d.Type)
					b = append(b, `,"valueString":`...)
					b = appendString(b, d.ValueString)
					b = append(b, '}')
				}
				b = append(b, ']')
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(rec.patients) > 0 {
		b = append(b, `,"p":[`...)
		for i, p := range rec.patients {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, p)
		}
		b = append(b, ']')
	}
	if len(rec.query) > 0 {
		b = append(b, `,"q":"`...)
		b = base64.StdEncoding.AppendEncode(b, rec.query)
		b = append(b, '"')
	}
	b = appendField(b, "rq", rec.requestID, false)
	if len(rec.others) > 0 {
		x, err := json.Marshal(rec.others)
		if err != nil {
			return nil, fmt.Errorf("audit: encode record: %w", err)
		}
		b = append(b, `,"x":`...)
		b = append(b, x...)
	}
	b = append(b, "}\n"...)
	if n := len(b) - start; n > maxQueueLine {
		return nil, fmt.Errorf("audit: record %s is %d bytes, more than %d", rec.id, n, maxQueueLine)
	}
	return b, nil
}

// appendField appends ,"key":"value", or nothing when value is empty and
// not always.
func appendField(b []byte, key, value string, always bool) []byte {
	if value == "" && !always {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

// appendString appends s as a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD, as encoding/json
// does (HTML characters are not escaped).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				switch c {
				case '\n':
					b = append(b, '\\', 'n')
				case '\r':
					b = append(b, '\\', 'r')
				case '\t':
					b = append(b, '\\', 't')
				case '\b':
					b = append(b, '\\', 'b')
				case '\f':
					b = append(b, '\\', 'f')
				default:
					b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
				}
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
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
