package subscriptions

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/telefhir/telefhir/fhir/search"
)

// index holds every known subscription and, for matching, buckets the
// matchable ones by resource type and by the token codes or reference
// targets their criteria require, so that a change is evaluated only
// against the subscriptions that could match it: with 10,000 per-patient
// subscriptions an Observation meets the one or two of its patient, not
// 10,000.
type index struct {
	mu   sync.RWMutex
	subs map[string]*Subscription
	// byType holds, per resource type, the matchable subscriptions.
	byType map[string]*bucket
}

type bucket struct {
	// any holds subscriptions that cannot be narrowed by a value.
	any map[string]*Subscription
	// keyed holds subscriptions under each value key one of which a
	// matching resource must have (see keysOf).
	keyed map[string]map[string]*Subscription
}

func newIndex() *index {
	return &index{subs: map[string]*Subscription{}, byType: map[string]*bucket{}}
}

// get returns the subscription with id, if known.
func (x *index) get(id string) (*Subscription, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	s, ok := x.subs[id]
	return s, ok
}

// all returns every known subscription.
func (x *index) all() []*Subscription {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return slices.Collect(maps.Values(x.subs))
}

// put stores s unless a newer version of it is known, and reports whether
// it did. A nil s with Version v deletes the subscription id at v.
func (x *index) put(id string, version int64, s *Subscription) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if old, ok := x.subs[id]; ok {
		if old.Version > version {
			return false
		}
		x.unbucket(old)
	}
	if s == nil {
		delete(x.subs, id)
		return true
	}
	x.subs[id] = s
	if s.Status != StatusOff {
		x.bucket(s)
	}
	return true
}

func (x *index) types(s *Subscription) []string {
	if s.Topic != nil {
		return s.Topic.Types
	}
	return s.Queries[0].Types
}

func (x *index) bucket(s *Subscription) {
	s.keys = map[string][]string{}
	for _, typ := range x.types(s) {
		b := x.byType[typ]
		if b == nil {
			b = &bucket{any: map[string]*Subscription{}, keyed: map[string]map[string]*Subscription{}}
			x.byType[typ] = b
		}
		keys := keysOf(s.Queries, typ)
		s.keys[typ] = keys
		if len(keys) == 0 {
			b.any[s.ID] = s
			continue
		}
		for _, k := range keys {
			m := b.keyed[k]
			if m == nil {
				m = map[string]*Subscription{}
				b.keyed[k] = m
			}
			m[s.ID] = s
		}
	}
}

func (x *index) unbucket(s *Subscription) {
	for typ, keys := range s.keys {
		b := x.byType[typ]
		if b == nil {
			continue
		}
		delete(b.any, s.ID)
		for _, k := range keys {
			delete(b.keyed[k], s.ID)
			if len(b.keyed[k]) == 0 {
				delete(b.keyed, k)
			}
		}
	}
	s.keys = nil
}

// watched reports whether any subscription is bucketed under typ.
func (x *index) watched(typ string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	b := x.byType[typ]
	return b != nil && (len(b.any) > 0 || len(b.keyed) > 0)
}

// candidates returns the matchable subscriptions that could match a
// resource of typ with index rows x (each at most once).
func (x *index) candidates(typ string, rows *search.Index, now time.Time) []*Subscription {
	x.mu.RLock()
	defer x.mu.RUnlock()
	b := x.byType[typ]
	if b == nil {
		return nil
	}
	var out []*Subscription
	seen := map[string]bool{}
	add := func(s *Subscription) {
		if !seen[s.ID] && s.Matchable(now) {
			seen[s.ID] = true
			out = append(out, s)
		}
	}
	for _, s := range b.any {
		add(s)
	}
	if len(b.keyed) > 0 && rows != nil {
		for _, r := range rows.Tokens {
			for _, s := range b.keyed[key(r.Param, r.Code)] {
				add(s)
			}
		}
		for _, r := range rows.References {
			if r.ID != "" {
				for _, s := range b.keyed[key(r.Param, r.ID)] {
					add(s)
				}
			}
			if r.URL != "" {
				for _, s := range b.keyed[key(r.Param, r.URL)] {
					add(s)
				}
			}
		}
	}
	return out
}

func key(param, value string) string { return param + "\x00" + value }

// keysOf returns value keys one of which every resource of typ matching
// all queries must carry in its index rows, or nil when no clause narrows
// the match that way. A clause qualifies when each of its predicates is a
// positive token test with a code, or a reference test to a given target,
// all on one parameter: a matching resource then has a row of that
// parameter with one of those codes or targets. Reference clauses are
// preferred: a patient is more selective than a code.
func keysOf(qs []search.Query, typ string) []string {
	var tokens []string
	for _, q := range qs {
		if len(q.Types) > 0 && !slices.Contains(q.Types, typ) {
			continue
		}
		for _, c := range q.Where {
			ks := clauseKeys(c)
			switch {
			case ks == nil:
			case c.Or[0].Type == search.TypeReference:
				return ks
			case tokens == nil:
				tokens = ks
			}
		}
	}
	return tokens
}

func clauseKeys(c search.Clause) []string {
	var keys []string
	for _, p := range c.Or {
		if p.Not || p.Missing != nil || p.Has != nil || len(p.Composite) > 0 || p.Param != c.Or[0].Param ||
			p.Param == search.ParamID || p.Param == search.ParamLastUpdated {
			return nil
		}
		switch {
		case p.Type == search.TypeToken && p.Token != nil && p.Token.Text == "" && len(p.Token.Codes) > 0:
			for _, code := range p.Token.Codes {
				keys = append(keys, key(p.Param, code))
			}
		case p.Type == search.TypeToken && p.Token != nil && p.Token.Text == "" && p.Token.Code != "":
			keys = append(keys, key(p.Param, p.Token.Code))
		case p.Type == search.TypeReference && p.Reference != nil && p.Reference.Chain == nil && p.Reference.Identifier == nil && p.Reference.ID != "":
			keys = append(keys, key(p.Param, p.Reference.ID))
		case p.Type == search.TypeReference && p.Reference != nil && p.Reference.Chain == nil && p.Reference.Identifier == nil && p.Reference.URL != "":
			keys = append(keys, key(p.Param, p.Reference.URL))
		default:
			return nil
		}
	}
	return keys
}
