package storetest

import (
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/telefhir/telefhir/fhir/search"
	"github.com/telefhir/telefhir/fhir/store"
)

func typeP(types ...string) search.Predicate {
	m := &search.TokenMatch{Code: types[0]}
	if len(types) > 1 {
		m = &search.TokenMatch{Codes: types}
	}
	return search.Predicate{Param: search.ParamType, Type: search.TypeToken, Token: m}
}

// testSearchTypePredicate checks _type predicates, which restrict some
// types of a multi-type search and not others (the shape access control
// gives a patient's system-level search): "every Observation must be
// Alice's" is the clause (_type is not Observation OR subject=Patient/alice).
func testSearchTypePredicate(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	f.put("Patient", "alice", str("name", "Alice"))
	f.put("Patient", "bob", str("name", "Bob"))
	f.put("Observation", "o1", ref("subject", "Patient", "alice"), token("code", loinc, "8867-4"))
	f.put("Observation", "o2", ref("subject", "Patient", "bob"), token("code", loinc, "8867-4"))
	f.put("Condition", "c1", ref("subject", "Patient", "bob"), token("code", loinc, "8867-4"))
	f.put("Encounter", "e1", ref("subject", "Patient", "alice"))

	alice := refP("subject", search.ReferenceMatch{Type: "Patient", ID: "alice"})
	f.check("one type", q("", c(typeP("Condition"))), "Condition/c1")
	f.check("several types", q("", c(typeP("Condition", "Encounter"))), "Condition/c1", "Encounter/e1")
	f.check("not", q("", c(notP(typeP("Observation", "Patient")))), "Condition/c1", "Encounter/e1")
	f.check("restrict one type of all", q("", c(notP(typeP("Observation")), alice)),
		"Patient/alice", "Patient/bob", "Observation/o1", "Condition/c1", "Encounter/e1")
	f.check("restrict two types differently", search.Query{Types: []string{"Observation", "Condition"}, Count: 100, Where: []search.Clause{
		c(notP(typeP("Observation")), alice),
		c(notP(typeP("Condition")), tokenP("code", "", "nothing")),
	}}, "Observation/o1")
	f.check("with other clauses", q("", c(tokenP("code", loinc, "8867-4")), c(notP(typeP("Observation")), alice)),
		"Observation/o1", "Condition/c1")

	// Inside a chain and a _has the predicate tests the resource the chain
	// or _has reaches.
	chain := refP("subject", search.ReferenceMatch{Chain: &search.Query{Where: []search.Clause{c(typeP("Patient")), c(stringP("name", search.StringStartsWith, "ali"))}}})
	f.check("in a chain", q("Observation", c(chain)), "Observation/o1")
	has := hasP("Observation", "subject", c(notP(typeP("Observation")), alice))
	f.check("in a _has", q("Patient", c(has)), "Patient/alice")
}

// checkEval checks that search.Eval, the in-memory evaluation of a query's
// clauses on one resource's index, agrees with the store: a current
// resource of the types searched satisfies q.Where exactly when the store
// found it. Queries that Eval cannot decide (chains, _has) and pages after
// a cursor are not compared.
func (f *fixture) checkEval(what string, q search.Query, found []string) {
	f.t.Helper()
	if q.After != nil || search.Evaluable(q.Where) != nil {
		return
	}
	matched := make(map[string]bool, len(found))
	for _, r := range found {
		if !strings.HasPrefix(r, "+") {
			matched[r] = true
		}
	}
	refs := make([]string, 0, len(f.last))
	for r := range f.last {
		refs = append(refs, r)
	}
	sort.Strings(refs)
	for _, r := range refs {
		cur := f.last[r]
		if cur.Deleted || (len(q.Types) > 0 && !slices.Contains(q.Types, cur.Type)) {
			continue
		}
		got, err := search.Eval(q.Where, search.Target{Type: cur.Type, ID: cur.ID, LastUpdated: cur.LastUpdated, Index: cur.Index})
		if err != nil {
			if errors.Is(err, search.ErrNotEvaluable) {
				continue
			}
			f.t.Errorf("%s: Eval(%s) on %s: %v", what, describe(q), r, err)
			continue
		}
		if got != matched[r] {
			f.t.Errorf("%s: Eval(%s) on %s = %v, but the store found it: %v", what, describe(q), r, got, matched[r])
		}
	}
}
