package smart

import (
	"net/url"
	"testing"

	"github.com/telefhir/telefhir/smart/scope"
)

// FuzzNarrowByForm: whatever a consent form carries, what it grants is
// within what was offered.
func FuzzNarrowByForm(f *testing.F) {
	f.Add("patient/Observation.rs patient/Patient.read offline_access", "s0=on&p0=r&cat0=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs&s1=on&p1=s&offline=on")
	f.Add("user/*.cruds launch openid", "s0=on&p0=c&p0=d&p0=x")
	f.Add("patient/Condition.rs?category=a|b", "s0=on&p0=r&p0=s&cat0=http://terminology.hl7.org/CodeSystem/condition-category|problem-list-item")
	f.Fuzz(func(t *testing.T, offered, form string) {
		set, err := scope.ParseSet(offered)
		if err != nil {
			return
		}
		set.Other = nil
		v, err := url.ParseQuery(form)
		if err != nil {
			return
		}
		got := narrowByForm(set, v)
		// Granular filters added by the form narrow further: compare
		// without them, against the offered scopes.
		unfiltered := got
		unfiltered.Resources = nil
		for _, r := range got.Resources {
			r.Filter = nil
			unfiltered.Resources = append(unfiltered.Resources, r)
		}
		plain := set
		plain.Resources = nil
		for _, r := range set.Resources {
			r.Filter = nil
			plain.Resources = append(plain.Resources, r)
		}
		if _, dropped := unfiltered.Narrow(plain); len(dropped) > 0 {
			t.Fatalf("consent granted more than offered: %q from %q (beyond: %v)", got.String(), set.String(), dropped)
		}
		if got.OfflineAccess && !set.OfflineAccess {
			t.Fatal("offline_access granted without being offered")
		}
	})
}
