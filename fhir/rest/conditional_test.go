package rest_test

import (
	"sync"
	"testing"

	"github.com/telefhir/telefhir/fhir/rest"
)

func TestConditionalCreate(t *testing.T) {
	e := newEnv(t, rest.Config{})
	body := []byte(`{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"77"}]}`)
	first := e.must(201, "POST", "/Patient", body, "If-None-Exist", "identifier=urn:mrn|77")
	again := e.must(200, "POST", "/Patient", body, "If-None-Exist", "identifier=urn:mrn|77")
	if first.json(t)["id"] != again.json(t)["id"] {
		t.Errorf("conditional create made a second resource")
	}
	e.must(201, "POST", "/Patient", []byte(`{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"77"}]}`))
	outcomeOf(t, e.do("POST", "/Patient", body, "If-None-Exist", "identifier=urn:mrn|77"), 412, "conflict")
	outcomeOf(t, e.do("POST", "/Patient", body, "If-None-Exist", "bogus=1"), 400, "")

	// Concurrent conditional creates with the same criteria make one resource.
	var wg sync.WaitGroup
	codes := make(chan int, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- e.do("POST", "/Patient", []byte(`{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"race"}]}`), "If-None-Exist", "identifier=urn:mrn|race").StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	created := 0
	for c := range codes {
		switch c {
		case 201:
			created++
		case 200:
		default:
			t.Errorf("concurrent conditional create answered %d", c)
		}
	}
	if created != 1 {
		t.Errorf("%d concurrent conditional creates created, want 1", created)
	}
	if s := e.search(t, "/Patient?identifier=urn:mrn|race"); len(s.ids) != 1 {
		t.Errorf("%d resources with the raced identifier", len(s.ids))
	}
}

func TestConditionalUpdateDelete(t *testing.T) {
	e := newEnv(t, rest.Config{})
	r := e.must(201, "PUT", "/Patient?identifier=urn:mrn|1", []byte(`{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"1"}],"active":true}`))
	id := r.json(t)["id"].(string)
	r = e.must(200, "PUT", "/Patient?identifier=urn:mrn|1", []byte(`{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"1"}],"active":false}`))
	if r.json(t)["id"] != id || r.Header.Get("ETag") != `W/"2"` {
		t.Errorf("conditional update did not update the match: %s", r.body)
	}
	outcomeOf(t, e.do("PUT", "/Patient?identifier=urn:mrn|1", []byte(`{"resourceType":"Patient","id":"other","identifier":[{"system":"urn:mrn","value":"1"}]}`)), 400, "invalid")
	e.must(201, "PUT", "/Patient/x2", []byte(`{"resourceType":"Patient","id":"x2","active":false}`))
	outcomeOf(t, e.do("PUT", "/Patient?active=false", []byte(`{"resourceType":"Patient"}`)), 412, "conflict")
	outcomeOf(t, e.do("DELETE", "/Patient?active=false", nil), 412, "conflict")
	outcomeOf(t, e.do("PUT", "/Patient", []byte(`{"resourceType":"Patient"}`)), 400, "invalid")

	e.must(204, "DELETE", "/Patient?identifier=urn:mrn|1", nil)
	outcomeOf(t, e.do("GET", "/Patient/"+id, nil), 410, "deleted")
	e.must(204, "DELETE", "/Patient?identifier=urn:mrn|nobody", nil)
}

func TestUpdateIfNoneMatch(t *testing.T) {
	e := newEnv(t, rest.Config{})
	body := []byte(`{"resourceType":"Patient","id":"inm","active":true}`)
	e.must(201, "PUT", "/Patient/inm", body, "If-None-Match", "*")
	outcomeOf(t, e.do("PUT", "/Patient/inm", body, "If-None-Match", "*"), 412, "conflict")
	outcomeOf(t, e.do("PUT", "/Patient/inm", body, "If-None-Match", `W/"1"`), 412, "conflict")
	e.must(200, "PUT", "/Patient/inm", body, "If-None-Match", `W/"7"`)
	outcomeOf(t, e.do("PUT", "/Patient/inm", body, "If-None-Match", "soon"), 400, "invalid")
	if r := e.must(200, "GET", "/Patient/inm", nil); r.Header.Get("ETag") != `W/"2"` {
		t.Errorf("after refused If-None-Match writes ETag is %s, want W/\"2\"", r.Header.Get("ETag"))
	}
}
