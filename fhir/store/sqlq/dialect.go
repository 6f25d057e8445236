package sqlq

import (
	"strconv"
	"time"
)

// Dialect is everything that differs between the SQL the two stores speak.
// The search semantics are written once, in terms of these.
type Dialect struct {
	// Placeholder is the n-th (1-based) bind parameter. Numbered
	// placeholders let the builder use one argument twice.
	Placeholder func(n int) string
	// IsFalse is the SQL test that a boolean column is false.
	IsFalse func(col string) string
	// True and False are the boolean literals.
	True, False string
	// Time is the bind value compared with resource.last_updated for a
	// time of ms Unix milliseconds.
	Time func(ms int64) any
	// Millis is the SQL expression that turns resource.last_updated into
	// Unix milliseconds (a bigint), for values handed back to Go.
	Millis func(col string) string
	// EscapeLike is the ESCAPE clause (with its leading space) that makes
	// backslash the escape character of LIKE patterns.
	EscapeLike string
}

// Postgres is the dialect of fhir/store/postgres: $n placeholders,
// boolean and timestamptz columns.
var Postgres = &Dialect{
	Placeholder: func(n int) string { return "$" + strconv.Itoa(n) },
	IsFalse:     func(col string) string { return "NOT " + col },
	True:        "true",
	False:       "false",
	Time:        pgTime,
	Millis: func(col string) string {
		// extract returns numeric (exact) since PostgreSQL 14.
		return "(extract(epoch FROM " + col + ") * 1000)::bigint"
	},
	EscapeLike: ` ESCAPE '\'`,
}

// SQLite is the dialect of fhir/store/sqlite: ?n placeholders, 0/1
// integers for booleans, last_updated in Unix milliseconds.
var SQLite = &Dialect{
	Placeholder: func(n int) string { return "?" + strconv.Itoa(n) },
	IsFalse:     func(col string) string { return col + " = 0" },
	True:        "1",
	False:       "0",
	Time:        func(ms int64) any { return ms },
	Millis:      func(col string) string { return col },
	EscapeLike:  ` ESCAPE '\'`,
}

// Bounds of the timestamps the Postgres dialect binds: timestamptz holds
// 4713 BC to 294276 AD, and time.UnixMilli overflows long before the
// extremes of int64 that open-ended search ranges use. No stored
// last_updated lies outside years 1..9999, so clamping keeps every
// comparison's result.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC).UnixMilli()
)

func pgTime(ms int64) any {
	return time.UnixMilli(min(max(ms, minTime), maxTime)).UTC()
}
