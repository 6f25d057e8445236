package search

import "time"

// Type is a search parameter type.
type Type string

// The R4 search parameter types.
const (
	TypeNumber    Type = "number"
	TypeDate      Type = "date"
	TypeString    Type = "string"
	TypeToken     Type = "token"
	TypeReference Type = "reference"
	TypeComposite Type = "composite"
	TypeQuantity  Type = "quantity"
	TypeURI       Type = "uri"
	TypeSpecial   Type = "special"
)

// Prefix is a comparison prefix of number, date and quantity searches.
type Prefix string

// The R4 prefixes.
const (
	Eq Prefix = "eq"
	Ne Prefix = "ne"
	Gt Prefix = "gt"
	Lt Prefix = "lt"
	Ge Prefix = "ge"
	Le Prefix = "le"
	Sa Prefix = "sa"
	Eb Prefix = "eb"
	Ap Prefix = "ap"
)

// Query is a parsed search, independent of any store: the stores translate
// it to SQL over the index tables.
type Query struct {
	// Types are the resource types searched: one for a type-level search,
	// several or none (all) for a system-level search.
	Types []string
	// Where is a conjunction: a resource matches when every clause does.
	Where []Clause
	// Sort keys, most significant first. Without keys the order is the
	// store's stable insertion order.
	Sort []SortKey
	// Count is the page size. Zero asks for no entries (only the total).
	Count int
	// After is the keyset position of the previous page's last entry; nil
	// for the first page.
	After *Cursor
	// Total says whether, and how exactly, to count all matches.
	Total TotalMode
	// Include and RevInclude name the resources to add to the page.
	Include    []Include
	RevInclude []Include
}

// Clause is a disjunction: it matches when any predicate does (the comma
// in name=a,b).
type Clause struct {
	Or []Predicate
}

// Predicate is one test on one search parameter of a resource.
type Predicate struct {
	// Param is the parameter code as indexed ("code", "subject"), or one
	// of the special names ParamID, ParamLastUpdated and ParamType.
	Param string
	Type  Type
	// Missing, when set, is the whole test: :missing=true matches
	// resources with no value for Param, false those with one.
	Missing *bool
	// Not negates the test (token :not): the resource matches when none of
	// its values satisfies the rest of the predicate. (The ne prefix is a
	// Prefix of the match, applied per value.)
	Not bool

	// Exactly one of the following is set, per Type.
	String    *StringMatch
	Token     *TokenMatch
	Date      *DateMatch
	Number    *NumberMatch
	Quantity  *QuantityMatch
	Reference *ReferenceMatch
	URI       *URIMatch
	// Composite holds one predicate per component (each with Param set to
	// CompositeComponent(param, i)); all must match within one Group.
	Composite []Predicate
	// Has is a reverse chain (_has): the resource matches when some
	// resource of Has.Type refers to it through Has.Param and matches
	// Has.Where.
	Has *Has
}

// Special parameter names stored on the resource itself, not in the index.
const (
	ParamID          = "_id"
	ParamLastUpdated = "_lastUpdated"
	// ParamType tests the resource's type: a token predicate whose Code or
	// Codes name types (with Not: none of them). Parse never produces it
	// (_type is Query.Types); it lets a clause restrict some types of a
	// multi-type query and not others, as access control needs.
	ParamType = "_type"
)

// MaxNorm is the longest normalised string value indexed, in bytes (cut
// at a rune boundary): default and :contains string searches see only
// that much of a value, and of the value searched for.
const MaxNorm = 1024

// StringMode is how a string search compares.
type StringMode int

// String comparison modes.
const (
	StringStartsWith StringMode = iota // default: normalised prefix
	StringExact                        // :exact, case- and accent-sensitive equality
	StringContains                     // :contains, normalised substring
)

// StringMatch matches string rows. Value is already normalised for
// StartsWith and Contains.
type StringMatch struct {
	Mode  StringMode
	Value string
}

// TokenMatch matches token rows.
type TokenMatch struct {
	// System is matched when SystemSet: "" then means "no system" (|code).
	System    string
	SystemSet bool
	// Code is matched when non-empty (system| leaves it empty).
	Code string
	// Text, when non-empty, is the whole test (:text): a normalised prefix
	// of the row's Text.
	Text string
	// Codes, when non-empty, replaces Code: any of them matches (used by
	// :in/:below expansions the parser could resolve).
	Codes []string
}

// DateMatch compares a date parameter. Low/High are the inclusive range
// (Unix milliseconds) of the searched value at its precision.
type DateMatch struct {
	Prefix    Prefix
	Low, High int64
}

// NumberMatch compares a number parameter. Low/High are the range the
// searched value's precision implies.
type NumberMatch struct {
	Prefix           Prefix
	Value, Low, High float64
}

// QuantityMatch compares a quantity parameter. When Canonical is set the
// comparison runs on the rows' canonical UCUM values.
type QuantityMatch struct {
	Prefix           Prefix
	Value, Low, High float64
	System, Code     string // either may be empty (not constrained)
	Canonical        bool
}

// ReferenceMatch matches reference rows.
type ReferenceMatch struct {
	// Type and ID of a local target; Type may be empty (bare id: any type
	// allowed by the parameter).
	Type string
	ID   string
	// URL matches absolute or canonical references as written.
	URL string
	// Chain, when set, replaces Type/ID: the target must be a resource of
	// one of Chain.Types matching Chain.Where.
	Chain *Query
	// Identifier (:identifier) matches the reference's own identifier
	// through the token rows of the parameter "<param>:identifier".
	Identifier *TokenMatch
}

// URIMatch matches uri rows.
type URIMatch struct {
	Value string
	// Below and Above (:below, :above) match hierarchical prefixes.
	Below, Above bool
}

// Has is a reverse chain.
type Has struct {
	Type  string // resource type that refers (Observation)
	Param string // its reference parameter (patient)
	Where []Clause
}

// SortKey is one _sort key.
type SortKey struct {
	Param string // parameter code, or ParamID / ParamLastUpdated
	Type  Type
	Desc  bool
}

// Cursor is a keyset position: the sort values and store key of the last
// entry of a page, and the snapshot bound fixed by the first page.
type Cursor struct {
	Values []any // one per SortKey: string, int64, float64 or nil (no value)
	Key    int64 // the store's resource key, the final tie-breaker
	// Snapshot is the highest resource key visible when the walk began;
	// resources created later are not part of it.
	Snapshot int64
}

// TotalMode is _total.
type TotalMode int

// _total values.
const (
	TotalNone TotalMode = iota
	TotalEstimate
	TotalAccurate
)

// Include is one _include (Type:param[:target]) or _revinclude.
type Include struct {
	Type    string // source type, or "*" for all
	Param   string // reference parameter, or "*" for all
	Target  string // optional target type
	Iterate bool
}

// Match is one resource found by a search.
type Match struct {
	Type        string
	ID          string
	VersionID   int64
	LastUpdated time.Time
	Body        []byte
	// Key is the store's resource key (for cursors).
	Key int64
	// Included is true for resources added by _include/_revinclude.
	Included bool
}

// Page is one page of results.
type Page struct {
	Matches []Match
	// Next is the cursor of the following page, nil on the last page.
	Next *Cursor
	// Total is the number of matches when asked for (-1 when not counted).
	Total int
}
