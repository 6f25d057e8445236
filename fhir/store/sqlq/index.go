package sqlq

import (
	"github.com/telefhir/telefhir/fhir/search"
)

// Table is one index table: every row has rid (the resource key), res_type,
// param and grp, followed by Columns.
type Table struct {
	Name    string
	Columns []Column
	// rows lists x's rows for this table, one value per column.
	rows func(x *search.Index) [][]any
}

// Column is one column of an index table after the common ones.
type Column struct {
	Name string
	Type ColType
}

// ColType is the Go type of a column's values: string, int64 or float64.
type ColType int

// Column types.
const (
	Text ColType = iota
	Int
	Float
)

// MaxNorm is the longest normalised string value indexed (search.MaxNorm).
const MaxNorm = search.MaxNorm

// The index tables, one per kind of search.Index row.
var (
	StringTable = &Table{
		Name:    "idx_string",
		Columns: []Column{{"param", Text}, {"grp", Int}, {"norm", Text}, {"exact", Text}},
		rows: func(x *search.Index) [][]any {
			out := make([][]any, len(x.Strings))
			for i, r := range x.Strings {
				out[i] = []any{r.Param, int64(r.Group), truncate(r.Norm, MaxNorm), r.Exact}
			}
			return out
		},
	}
	TokenTable = &Table{
		Name:    "idx_token",
		Columns: []Column{{"param", Text}, {"grp", Int}, {"system", Text}, {"code", Text}, {"text", Text}},
		rows: func(x *search.Index) [][]any {
			out := make([][]any, len(x.Tokens))
			for i, r := range x.Tokens {
				out[i] = []any{r.Param, int64(r.Group), r.System, r.Code, r.Text}
			}
			return out
		},
	}
	DateTable = &Table{
		Name:    "idx_date",
		Columns: []Column{{"param", Text}, {"grp", Int}, {"low", Int}, {"high", Int}},
		rows: func(x *search.Index) [][]any {
			out := make([][]any, len(x.Dates))
			for i, r := range x.Dates {
				out[i] = []any{r.Param, int64(r.Group), r.Low, r.High}
			}
			return out
		},
	}
	ReferenceTable = &Table{
		Name:    "idx_reference",
		Columns: []Column{{"param", Text}, {"grp", Int}, {"target_type", Text}, {"target_id", Text}, {"url", Text}},
		rows: func(x *search.Index) [][]any {
			out := make([][]any, len(x.References))
			for i, r := range x.References {
				out[i] = []any{r.Param, int64(r.Group), r.Type, r.ID, r.URL}
			}
			return out
		},
	}
	QuantityTable = &Table{
		Name: "idx_quantity",
		Columns: []Column{
			{"param", Text}, {"grp", Int}, {"value", Float}, {"low", Float}, {"high", Float},
			{"system", Text}, {"code", Text}, {"unit", Text}, {"canon_code", Text}, {"canon_value", Float},
		},
		rows: func(x *search.Index) [][]any {
			out := make([][]any, len(x.Quantities))
			for i, r := range x.Quantities {
				out[i] = []any{r.Param, int64(r.Group), r.Value, r.Low, r.High, r.System, r.Code, r.Unit, r.CanonCode, r.CanonValue}
			}
			return out
		},
	}
	NumberTable = &Table{
		Name:    "idx_number",
		Columns: []Column{{"param", Text}, {"grp", Int}, {"value", Float}, {"low", Float}, {"high", Float}},
		rows: func(x *search.Index) [][]any {
			out := make([][]any, len(x.Numbers))
			for i, r := range x.Numbers {
				out[i] = []any{r.Param, int64(r.Group), r.Value, r.Low, r.High}
			}
			return out
		},
	}
	URITable = &Table{
		Name:    "idx_uri",
		Columns: []Column{{"param", Text}, {"grp", Int}, {"uri", Text}},
		rows: func(x *search.Index) [][]any {
			out := make([][]any, len(x.URIs))
			for i, r := range x.URIs {
				out[i] = []any{r.Param, int64(r.Group), r.URI}
			}
			return out
		},
	}
)

// Tables lists every index table.
var Tables = []*Table{StringTable, TokenTable, DateTable, ReferenceTable, QuantityTable, NumberTable, URITable}

// Rows returns the rows of x that go into t, each with one value (string,
// int64 or float64) per column of t. A nil x has no rows.
func (t *Table) Rows(x *search.Index) [][]any {
	if x == nil {
		return nil
	}
	return t.rows(x)
}

// Arrays returns the rows of x that go into t column by column: one
// []string, []int64 or []float64 per column, never nil, for a bulk insert
// from arrays.
func (t *Table) Arrays(x *search.Index) []any {
	rows := t.Rows(x)
	out := make([]any, len(t.Columns))
	for j, c := range t.Columns {
		switch c.Type {
		case Text:
			a := make([]string, len(rows))
			for i, r := range rows {
				a[i] = r[j].(string)
			}
			out[j] = a
		case Int:
			a := make([]int64, len(rows))
			for i, r := range rows {
				a[i] = r[j].(int64)
			}
			out[j] = a
		case Float:
			a := make([]float64, len(rows))
			for i, r := range rows {
				a[i] = r[j].(float64)
			}
			out[j] = a
		}
	}
	return out
}

// tableFor is the table holding rows of parameters of type t.
func tableFor(t search.Type) *Table {
	switch t {
	case search.TypeString:
		return StringTable
	case search.TypeToken:
		return TokenTable
	case search.TypeDate:
		return DateTable
	case search.TypeReference:
		return ReferenceTable
	case search.TypeQuantity:
		return QuantityTable
	case search.TypeNumber:
		return NumberTable
	case search.TypeURI:
		return URITable
	}
	return nil
}

// truncate cuts s to at most n bytes at a rune boundary.
func truncate(s string, n int) string { return search.Truncate(s, n) }
