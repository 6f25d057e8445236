package smart

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/telefhir/telefhir/smart/client"
	"github.com/telefhir/telefhir/smart/identity"
	"github.com/telefhir/telefhir/smart/oauthstore"
)

// launchContext is what an EHR launch id carries.
type launchContext struct {
	Patient   string `json:"patient,omitempty"`
	Encounter string `json:"encounter,omitempty"`
	// User is the id of the user who launched; the authorization must be
	// by the same user.
	User string `json:"user,omitempty"`
}

// pendingRequest is an authorization request between authorize and the
// code: during login and consent.
type pendingRequest struct {
	ClientID    string         `json:"client_id"`
	RedirectURI string         `json:"redirect_uri"`
	State       string         `json:"state"`
	Scope       string         `json:"scope"` // requested ∩ the client's
	Challenge   string         `json:"code_challenge"`
	Nonce       string         `json:"nonce,omitempty"`
	Launch      *launchContext `json:"launch,omitempty"`
	User        *identity.User `json:"user,omitempty"`
	// Return, for a sign-in that is not an authorization (the launcher),
	// is where to go once signed in.
	Return string `json:"return,omitempty"`
}

// grantRecord is what an access or refresh token stands for, stored with
// the token (and in the authorization code before that).
type grantRecord struct {
	ClientID   string `json:"client_id"`
	DevClient  bool   `json:"dev_client,omitempty"`
	Subject    string `json:"sub"`
	Name       string `json:"name,omitempty"`
	FHIRUser   string `json:"fhir_user,omitempty"`
	Role       string `json:"role"`
	Scope      string `json:"scope"`
	Patient    string `json:"patient,omitempty"`
	Encounter  string `json:"encounter,omitempty"`
	NeedBanner bool   `json:"need_patient_banner,omitempty"`
	Nonce      string `json:"nonce,omitempty"`
	// RefreshUntil ends the refresh tokens of an online_access grant.
	RefreshUntil time.Time `json:"refresh_until,omitzero"`
}

// codeRecord is an authorization code's ticket.
type codeRecord struct {
	RedirectURI string      `json:"redirect_uri"`
	Challenge   string      `json:"code_challenge"`
	Grant       grantRecord `json:"grant"`
}

// sessionRecord is a browser login session.
type sessionRecord struct {
	User identity.User `json:"user"`
}

// upstreamState is a login in progress at the upstream provider.
type upstreamState struct {
	Request  string `json:"request"` // the pending request id
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
}

// newID returns a fresh random secret and the key it is stored under.
func newID() (secret, key string) {
	secret = client.NewSecret()
	return secret, oauthstore.Hash(secret)
}

// putJSON stores v as a ticket of kind under the hash of secret.
func (s *Server) putJSON(ctx context.Context, kind oauthstore.TicketKind, secret string, ttl time.Duration, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.cfg.Store.PutTicket(ctx, oauthstore.Ticket{Kind: kind, Key: oauthstore.Hash(secret), Data: b, ExpiresAt: s.now().Add(ttl)})
}

// getJSON reads the ticket of kind stored under secret into v; with take
// it is deleted (single use). ErrNotFound (wrapped) when missing or
// expired.
func (s *Server) getJSON(ctx context.Context, kind oauthstore.TicketKind, secret string, take bool, v any) error {
	if secret == "" {
		return fmt.Errorf("empty %s: %w", kind, oauthstore.ErrNotFound)
	}
	get := s.cfg.Store.Ticket
	if take {
		get = s.cfg.Store.TakeTicket
	}
	t, err := get(ctx, kind, oauthstore.Hash(secret), s.now())
	if err != nil {
		return err
	}
	if err := json.Unmarshal(t.Data, v); err != nil {
		return fmt.Errorf("%s ticket: %w", kind, err)
	}
	return nil
}

func notFound(err error) bool { return errors.Is(err, oauthstore.ErrNotFound) }
