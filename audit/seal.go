package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/telefhir/telefhir/fhir/store"
)

// The hash chain. Sealing turns a queued record into an AuditEvent
// resource carrying the chain extension:
//
//	"extension":[{"url":"urn:telefhir:audit-chain","extension":[
//	  {"url":"position","valueDecimal":42},
//	  {"url":"previous","valueString":"sha256:<hex of link 41's hash>"}]}]
//
// and the link's hash is SHA-256 of the AuditEvent's stored bytes (which
// include meta, the position and the previous hash). Changing a record's
// bytes breaks its own link; rewriting its link breaks the next record's
// "previous"; deleting a record or link leaves a gap.

// zeroHash is the "previous" of position 1.
var zeroHash = make([]byte, sha256.Size)

// sealPace is how long the sealer pauses after a batch, as a multiple of
// the batch's duration, while requests are being served: sealing (index
// rows for every record) costs more than most requests, so under load it
// takes about a twentieth of the time, one queue entry at a time, and the
// queue, which is durable, grows instead of the latency. Once no request
// has come for a second it runs flat out.
const sealPace = 19

// RunSealer seals queued records until ctx ends: whenever it is woken
// (Wake, after every group commit and audited write) and at least every
// SealInterval. Errors are logged and retried; records stay queued.
func (t *Trail) RunSealer(ctx context.Context) error {
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	for {
		busy := t.busy()
		limit := t.batch
		if busy {
			limit = 1
		}
		start := time.Now()
		n, err := t.log.SealAudit(ctx, limit, t.seal)
		took := time.Since(start)
		if err != nil && ctx.Err() == nil {
			t.l.ErrorContext(ctx, "audit: sealing failed; records stay queued and are retried", "error", err)
		}
		switch {
		case err != nil || n < limit:
			// Nothing left (or a failure): wait to be woken.
			select {
			case <-ctx.Done():
				return nil
			case <-t.wake:
			case <-tick.C:
			}
		case busy:
			pause := time.NewTimer(took * sealPace)
			select {
			case <-ctx.Done():
				pause.Stop()
				return nil
			case <-pause.C:
			}
		}
	}
}

// SealAll seals until the queue is empty and returns how many queue
// entries it sealed.
func (t *Trail) SealAll(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := t.log.SealAudit(ctx, t.batch, t.seal)
		total += n
		if err != nil {
			return total, fmt.Errorf("audit: seal: %w", err)
		}
		if n < t.batch {
			return total, nil
		}
	}
}

// Sync returns once everything queued before it was called is sealed, so
// that AuditEvent reads and searches see it.
func (t *Trail) Sync(ctx context.Context) error {
	b, err := t.log.AuditBacklog(ctx)
	if err != nil {
		return err
	}
	target := b.Last
	for b.Count > 0 && b.First <= target {
		if _, err := t.log.SealAudit(ctx, t.batch, t.seal); err != nil {
			return fmt.Errorf("audit: seal: %w", err)
		}
		if b, err = t.log.AuditBacklog(ctx); err != nil {
			return err
		}
	}
	return nil
}

// seal is the store.SealFunc: each queued record becomes version 1 of its
// AuditEvent, chained to the one before.
func (t *Trail) seal(ctx context.Context, tx store.Tx, head store.AuditLink, queued []store.AuditQueued) ([]store.AuditLink, error) {
	prev := head.Hash
	if prev == nil {
		prev = zeroHash
	}
	lastUpdated := t.now().UTC().Truncate(time.Millisecond)
	var links []store.AuditLink
	for _, q := range queued {
		for _, line := range lines(q.Body) {
			rec, err := decodeLine(line)
			if err != nil {
				// Not what the trail queues: keep the evidence, not the bytes.
				rec = t.malformed(lastUpdated, q.Seq, line)
				t.l.ErrorContext(ctx, "audit: a queued record is malformed; sealing a record of it instead",
					"queue_position", q.Seq, "audit_event", rec.id, "error", err)
			}
			pre, err := t.srv.render(rec)
			if err != nil {
				return nil, fmt.Errorf("render AuditEvent/%s: %w", rec.id, err)
			}
			pos := head.Pos + int64(len(links)) + 1
			body := sealBody(pre, rec.id, pos, prev, lastUpdated)
			idx, err := t.reg.ExtractJSON("AuditEvent", body)
			if err != nil {
				return nil, fmt.Errorf("index AuditEvent/%s: %w", rec.id, err)
			}
			err = tx.Put(ctx, store.Resource{Type: "AuditEvent", ID: rec.id, VersionID: 1, LastUpdated: lastUpdated, Method: "POST", Body: body, Index: idx})
			if err != nil {
				return nil, err
			}
			h := sha256.Sum256(body)
			links = append(links, store.AuditLink{Pos: pos, ID: rec.id, Recorded: rec.recorded, Hash: h[:]})
			prev = h[:]
		}
	}
	return links, nil
}

// malformed is the record sealed in place of a malformed queued one: a
// security alert naming the queue position and the hash of its bytes.
func (t *Trail) malformed(now time.Time, seq int64, line []byte) *record {
	sum := sha256.Sum256(line)
	return &record{
		id: t.newID(), recorded: now, kind: kindMalformed, action: kindCodes[kindMalformed].action, outcome: SeriousFailure,
		desc: "queued audit record in queue entry " + strconv.FormatInt(seq, 10) + " was malformed; sha256:" + hex.EncodeToString(sum[:]),
	}
}

// preamble is how every queued record starts (render writes resourceType
// and id first).
const preamble = `{"resourceType":"AuditEvent","id":"`

func hasPrefix(body []byte, id string) bool {
	return len(body) > len(preamble)+len(id)+2 &&
		bytes.HasPrefix(body, []byte(preamble)) &&
		string(body[len(preamble):len(preamble)+len(id)]) == id &&
		string(body[len(preamble)+len(id):len(preamble)+len(id)+2]) == `",`
}

// sealBody inserts meta and the chain extension after the id of a queued
// record (hasPrefix holds).
func sealBody(pre []byte, id string, pos int64, prev []byte, lastUpdated time.Time) []byte {
	head := len(preamble) + len(id) + 2
	out := make([]byte, 0, len(pre)+256)
	out = append(out, pre[:head]...)
	out = append(out, `"meta":{"versionId":"1","lastUpdated":"`...)
	out = lastUpdated.AppendFormat(out, instantLayout)
	out = append(out, `"},"extension":[{"url":"`+ChainExtension+`","extension":[{"url":"position","valueDecimal":`...)
	out = strconv.AppendInt(out, pos, 10)
	out = append(out, `},{"url":"previous","valueString":"sha256:`...)
	out = hex.AppendEncode(out, prev)
	out = append(out, `"}]}],`...)
	return append(out, pre[head:]...)
}

// chainOf reads the chain extension of a sealed body: the position and the
// previous hash. It accepts exactly what sealBody writes.
func chainOf(body []byte, id string) (pos int64, prev []byte, err error) {
	if !hasPrefix(body, id) {
		return 0, nil, errors.New("does not start with its resourceType and id")
	}
	rest := body[len(preamble)+len(id)+2:]
	const metaStart = `"meta":{"versionId":"1","lastUpdated":"`
	if !bytes.HasPrefix(rest, []byte(metaStart)) || len(rest) < len(metaStart)+len(instantLayout)+3 {
		return 0, nil, errors.New("has no sealed meta")
	}
	rest = rest[len(metaStart)+len(instantLayout)+3:]
	const extStart = `"extension":[{"url":"` + ChainExtension + `","extension":[{"url":"position","valueDecimal":`
	if !bytes.HasPrefix(rest, []byte(extStart)) {
		return 0, nil, errors.New("has no chain extension")
	}
	rest = rest[len(extStart):]
	end := bytes.IndexByte(rest, '}')
	if end < 0 {
		return 0, nil, errors.New("has a broken chain extension")
	}
	pos, err = strconv.ParseInt(string(rest[:end]), 10, 64)
	if err != nil {
		return 0, nil, errors.New("has a broken chain position")
	}
	rest = rest[end:]
	const prevStart = `},{"url":"previous","valueString":"sha256:`
	if !bytes.HasPrefix(rest, []byte(prevStart)) || len(rest) < len(prevStart)+2*sha256.Size+1 {
		return 0, nil, errors.New("has no previous hash")
	}
	rest = rest[len(prevStart):]
	prev, err = hex.DecodeString(string(rest[:2*sha256.Size]))
	if err != nil || rest[2*sha256.Size] != '"' {
		return 0, nil, errors.New("has a broken previous hash")
	}
	return pos, prev, nil
}
