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
	return t.AppendArrays(nil, x)
}

// AppendArrays appends the rows of x that go into t to the column arrays
// cols (as Arrays returns them; nil to start) and returns them, so that
// the rows of many resources go in one bulk insert.
func (t *Table) AppendArrays(cols []any, x *search.Index) []any {
	rows := t.Rows(x)
	if cols == nil {
		cols = make([]any, len(t.Columns))
		for j, c := range t.Columns {
			switch c.Type {
			case Text:
				cols[j] = make([]string, 0, len(rows))
			case Int:
				cols[j] = make([]int64, 0, len(rows))
			case Float:
				cols[j] = make([]float64, 0, len(rows))
			}
		}
	}
	for j, c := range t.Columns {
		switch c.Type {
		case Text:
			a := cols[j].([]string)
			for _, r := range rows {
				a = append(a, r[j].(string))
			}
			cols[j] = a
		case Int:
			a := cols[j].([]int64)
			for _, r := range rows {
				a = append(a, r[j].(int64))
			}
			cols[j] = a
		case Float:
			a := cols[j].([]float64)
			for _, r := range rows {
				a = append(a, r[j].(float64))
			}
			cols[j] = a
		}
	}
	return cols
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
