package sqlq

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/telefhir/telefhir/fhir/store"
)

// History returns the statement for one page of q in dialect d: the
// columns seq, res_type, res_id, version, last_updated, deleted, method,
// body of resource_version, newest first. It fetches Count+1 rows so that
// HistoryPage knows whether another page follows. Each combination of
// filters is its own statement text, so each gets its own cached plan.
func History(d *Dialect, q store.HistoryQuery) (string, []any, error) {
	switch {
	case q.Count <= 0:
		return "", nil, fmt.Errorf("count %d must be positive", q.Count)
	case q.ID != "" && q.Type == "":
		return "", nil, errors.New("an id needs a type")
	case q.Before < 0:
		return "", nil, fmt.Errorf("cursor %d is negative", q.Before)
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return d.Placeholder(len(args))
	}
	if q.Type != "" {
		where = append(where, "v.res_type = "+arg(q.Type))
	}
	if q.ID != "" {
		where = append(where, "v.res_id = "+arg(q.ID))
	}
	if q.Before > 0 {
		where = append(where, "v.seq < "+arg(q.Before))
	}
	if !q.Since.IsZero() {
		// Stored times have millisecond precision: round Since up.
		ms := q.Since.UnixMilli()
		if q.Since.Nanosecond()%int(time.Millisecond) != 0 {
			ms++
		}
		where = append(where, "v.last_updated >= "+arg(d.Time(ms)))
	}
	if !q.At.IsZero() {
		// Per resource, the highest version with last_updated <= At.
		p := arg(d.Time(q.At.UnixMilli()))
		where = append(where, "v.last_updated <= "+p+` AND NOT EXISTS (
	SELECT 1 FROM resource_version n
	WHERE n.res_type = v.res_type AND n.res_id = v.res_id AND n.version > v.version AND n.last_updated <= `+p+`)`)
	}
	var b strings.Builder
	b.WriteString(`SELECT v.seq, v.res_type, v.res_id, v.version, v.last_updated, v.deleted, v.method, v.body
FROM resource_version v`)
	if len(where) > 0 {
		b.WriteString("\nWHERE ")
		b.WriteString(strings.Join(where, "\n\tAND "))
	}
	b.WriteString("\nORDER BY v.seq DESC LIMIT ")
	b.WriteString(arg(q.Count + 1))
	return b.String(), args, nil
}

// HistoryPage turns the up to count+1 rows a History statement returned
// into a page with its Next cursor.
func HistoryPage(entries []store.HistoryEntry, count int) store.HistoryPage {
	page := store.HistoryPage{Entries: entries}
	if len(entries) > count {
		entries[count] = store.HistoryEntry{}
		page.Entries = entries[:count]
		page.Next = page.Entries[count-1].Seq
	}
	return page
}
