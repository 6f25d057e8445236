package smart

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/smart/identity"
	"github.com/telefhir/telefhir/smart/oauthstore"
)

// devTag marks the seeded resources as demo data.
const devTag = `"meta":{"tag":[{"system":"https://telefhir.dev/tags","code":"dev-identity","display":"demo data of the dev identity"}]}`

// devResources are the FHIR resources the dev users stand for, and an
// encounter to launch apps into.
var devResources = []struct{ typ, id, body string }{
	{"Practitioner", identity.DevPractitionerID, `{"resourceType":"Practitioner","id":"` + identity.DevPractitionerID + `",` + devTag +
		`,"active":true,"name":[{"family":"Practitioner","given":["Dev"],"prefix":["Dr."]}]}`},
	{"Patient", identity.DevPatientID, `{"resourceType":"Patient","id":"` + identity.DevPatientID + `",` + devTag +
		`,"active":true,"name":[{"family":"Patient","given":["Dev"]}],"gender":"unknown","birthDate":"1980-01-01"}`},
	{"Encounter", identity.DevEncounterID, `{"resourceType":"Encounter","id":"` + identity.DevEncounterID + `",` + devTag +
		`,"status":"in-progress","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"VR","display":"virtual"},` +
		`"subject":{"reference":"Patient/` + identity.DevPatientID + `"},` +
		`"participant":[{"individual":{"reference":"Practitioner/` + identity.DevPractitionerID + `"}}]}`},
}

// DevClient ids.
const (
	DevPublicClient       = "demo-public"
	DevConfidentialClient = "demo-confidential"
)

// DevClients are the dev identity's demo clients, for an app served at
// http://localhost:8000 (launch.html and index.html, as in the fhirclient
// examples). The confidential one's secret is the dev password.
func DevClients(password string, now time.Time) []oauthstore.Client {
	redirects := []string{"http://localhost:8000/", "http://localhost:8000/index.html", "http://127.0.0.1:8000/", "http://127.0.0.1:8000/index.html"}
	sc := "launch launch/patient launch/encounter openid fhirUser offline_access online_access patient/*.cruds user/*.cruds"
	return []oauthstore.Client{
		{ID: DevPublicClient, Name: "Demo app (public, dev)", Kind: oauthstore.Public, RedirectURIs: redirects,
			LaunchURL: "http://localhost:8000/launch.html", Scope: sc, Dev: true, CreatedAt: now},
		{ID: DevConfidentialClient, Name: "Demo app (confidential, dev)", Kind: oauthstore.Symmetric, SecretHash: oauthstore.Hash(password),
			RedirectURIs: redirects, LaunchURL: "http://localhost:8000/launch.html", Scope: sc, Dev: true, CreatedAt: now},
	}
}

// SeedDev makes the dev identity usable with no setup: it creates the dev
// users' Practitioner and Patient (and a demo Encounter) when they are
// missing, and (re)registers the demo clients with the current dev
// password.
func SeedDev(ctx context.Context, svc *fhir.Service, st oauthstore.Store, password string, now time.Time) error {
	ctx = asServer(ctx, true)
	for _, r := range devResources {
		_, err := svc.Read(ctx, r.typ, r.id)
		if err == nil {
			continue
		}
		var oe *outcome.Error
		if !errors.As(err, &oe) || (oe.Kind != outcome.KindNotFound && oe.Kind != outcome.KindGone) {
			return fmt.Errorf("smart: seed %s: %w", r.typ, err)
		}
		if _, err := svc.Update(ctx, r.typ, r.id, []byte(r.body), fhir.Preconditions{}); err != nil {
			return fmt.Errorf("smart: seed %s: %w", r.typ, err)
		}
	}
	for _, c := range DevClients(password, now) {
		if err := st.SaveClient(ctx, c); err != nil {
			return fmt.Errorf("smart: seed client %s: %w", c.ID, err)
		}
	}
	return nil
}

// Janitor deletes expired codes, tickets, tokens and jti records every
// interval until ctx ends.
func (s *Server) Janitor(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.cfg.Store.Purge(ctx, s.now()); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "purging expired OAuth state failed", "error", err)
			}
		}
	}
}
