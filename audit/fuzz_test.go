package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"testing"
	"time"
)

// FuzzDecodeLine: the queue decoder never panics on any bytes, and what
// it accepts encodes back to a line that decodes to the same record.
func FuzzDecodeLine(f *testing.F) {
	rec := &record{
		id: "ae-1", recorded: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC), kind: kindREST, interaction: "read", action: "R",
		actor:     actor{clientID: "c", fhirUser: "Practitioner/1", subject: "u", role: "practitioner", token: "t", address: "10.0.0.1"},
		resources: []resourceEntity{{ref: "Observation/1/_history/2", details: []detail{{"count", "3"}}}},
		patients:  []string{"p1"}, query: []byte("name=x&y=z"), requestID: "r1",
	}
	line, err := rec.encode(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(line)
	f.Add([]byte(`{"v":1,"id":"x","t":1,"k":"login"}`))
	f.Add([]byte(`{"v":2,"id":"x","t":1,"k":"rest"}`))
	f.Add([]byte(`{"v":1,"id":"x","t":1,"k":"rest"} {}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeLine(b)
		if err != nil {
			return
		}
		again, err := rec.encode(nil)
		if err != nil {
			t.Fatalf("a decoded record does not encode: %v", err)
		}
		rec2, err := decodeLine(bytes.TrimSuffix(again, []byte("\n")))
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v: %s", err, again)
		}
		if third, err := rec2.encode(nil); err != nil || !bytes.Equal(again, third) {
			t.Fatalf("round trip changed the record:\n%s\n%s", again, third)
		}
	})
}

// FuzzChainOf: the chain extension reader never panics, and reads back
// what sealBody wrote.
func FuzzChainOf(f *testing.F) {
	srv := &server{baseURL: "http://x", site: "x", software: "t"}
	pre, err := srv.render(&record{id: "ae-1", recorded: time.Unix(1, 0), kind: "login"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pre, int64(1), []byte("prev"))
	f.Add([]byte(`{"resourceType":"AuditEvent","id":"ae-1","meta":{}}`), int64(7), []byte{})
	f.Fuzz(func(t *testing.T, body []byte, pos int64, seed []byte) {
		_, _, _ = chainOf(body, "ae-1") // any bytes: no panic
		if !hasPrefix(body, "ae-1") || pos < 0 {
			return
		}
		prev := sha256.Sum256(seed)
		sealed := sealBody(body, "ae-1", pos, prev[:], time.Unix(1700000000, 123e6).UTC())
		p, h, err := chainOf(sealed, "ae-1")
		if err != nil || p != pos || !bytes.Equal(h, prev[:]) {
			t.Fatalf("chainOf(sealBody(.., %d, %x)) = %d, %x, %v", pos, prev, p, h, err)
		}
	})
}

// FuzzEncode: the hand-written queue encoder writes exactly what
// encoding/json writes for the same record, for any strings and bytes.
func FuzzEncode(f *testing.F) {
	f.Add("ae-1", "Observation/1", "p\"1\\\n", "10.0.0.1", []byte("q=1&x=<>"), "\xff\u2028é\x01")
	f.Fuzz(func(t *testing.T, id, ref, patient, address string, query []byte, desc string) {
		rec := &record{
			id: id, recorded: time.UnixMilli(1700000000123), kind: kindREST, interaction: "read", action: "R", outcome: MinorFailure, desc: desc,
			actor:     actor{clientID: desc, fhirUser: ref, subject: patient, role: "r", token: id, address: address},
			resources: []resourceEntity{{ref: ref, details: []detail{{desc, patient}}}},
			patients:  []string{patient, id}, query: query, requestID: desc, endpoint: address,
		}
		got, err := rec.encode([]byte("prefix"))
		if err != nil {
			return // too long
		}
		w := wireRecord{
			V: queueVersion, ID: rec.id, Recorded: rec.recorded.UnixMilli(), Kind: rec.kind, Inter: rec.interaction, Action: rec.action,
			Outcome: rec.outcome, Desc: rec.desc, Client: rec.actor.clientID, FHIRUser: rec.actor.fhirUser, Subject: rec.actor.subject,
			Role: rec.actor.role, Token: rec.actor.token, Address: rec.actor.address, Endpoint: rec.endpoint,
			Resources: []wireResource{{rec.resources[0].ref, rec.resources[0].details}}, Patients: rec.patients, Query: rec.query, RequestID: rec.requestID,
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(w); err != nil {
			t.Fatal(err)
		}
		if want := "prefix" + buf.String(); string(got) != want {
			t.Fatalf("encode:\n got %s\nwant %s", got, want)
		}
	})
}
