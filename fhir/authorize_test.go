package fhir

import (
	"fmt"
	"testing"

	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/search"
)

// TestConjunction checks, by truth table, that conjunction keeps the
// meaning of the alternatives it is given.
func TestConjunction(t *testing.T) {
	atom := func(n int) search.Predicate {
		return search.Predicate{Param: fmt.Sprintf("p%d", n), Type: search.TypeToken, Token: &search.TokenMatch{Code: "x"}}
	}
	clause := func(ns ...int) search.Clause {
		var c search.Clause
		for _, n := range ns {
			c.Or = append(c.Or, atom(n))
		}
		return c
	}
	for _, tc := range []struct {
		what    string
		any     [][]search.Clause
		clauses int // how many clauses the conjunction may have at most
	}{
		{"one alternative", [][]search.Clause{{clause(0), clause(1, 2)}}, 2},
		{"a shared compartment and two filters", [][]search.Clause{{clause(0), clause(1)}, {clause(0), clause(2)}}, 2},
		{"one alternative needs only the shared part", [][]search.Clause{{clause(0), clause(1)}, {clause(0)}}, 1},
		{"nothing shared", [][]search.Clause{{clause(0), clause(1)}, {clause(2), clause(3)}}, 4},
		{"three alternatives", [][]search.Clause{{clause(0), clause(1)}, {clause(2)}, {clause(3, 4), clause(5)}}, 4},
		{"duplicates within an alternative", [][]search.Clause{{clause(0), clause(0), clause(1)}, {clause(0), clause(2)}}, 3},
	} {
		cnf, err := conjunction(tc.any)
		if err != nil {
			t.Fatalf("%s: %v", tc.what, err)
		}
		if len(cnf) > tc.clauses {
			t.Errorf("%s: %d clauses, want at most %d", tc.what, len(cnf), tc.clauses)
		}
		for bits := 0; bits < 1<<6; bits++ {
			truth := func(c search.Clause) bool {
				for _, p := range c.Or {
					var n int
					fmt.Sscanf(p.Param, "p%d", &n)
					if bits&(1<<n) != 0 {
						return true
					}
				}
				return false
			}
			all := func(cs []search.Clause) bool {
				for _, c := range cs {
					if !truth(c) {
						return false
					}
				}
				return true
			}
			want := false
			for _, alt := range tc.any {
				want = want || all(alt)
			}
			if got := all(cnf); got != want {
				t.Fatalf("%s: atoms %06b: conjunction says %v, alternatives %v", tc.what, bits, got, want)
			}
		}
	}
	var many [][]search.Clause
	for i := 0; i < 7; i++ {
		many = append(many, []search.Clause{clause(2 * i), clause(2*i + 1)})
	}
	if _, err := conjunction(many); !outcome.Is(err, outcome.KindForbidden) {
		t.Errorf("2^7 clauses: %v, want a 403", err)
	}
}
