package oauthstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"
)

// Errors every implementation returns (wrapped with %w).
var (
	// ErrNotFound: no such client, ticket or token, or it has expired.
	ErrNotFound = errors.New("not found")
	// ErrExists: a client with that id is already registered.
	ErrExists = errors.New("already exists")
	// ErrReused: a refresh token that was already rotated was presented
	// again. RotateToken has revoked its whole family before returning it.
	ErrReused = errors.New("refresh token reused")
	// ErrReplay: a client assertion's jti was already used.
	ErrReplay = errors.New("jti already used")
)

// ClientKind is how a client authenticates at the token endpoint.
type ClientKind string

// The client kinds of SMART App Launch.
const (
	// Public clients (browser and native apps) have no secret; PKCE binds
	// their codes.
	Public ClientKind = "public"
	// Symmetric clients authenticate with a secret over HTTP Basic
	// (client_secret_basic).
	Symmetric ClientKind = "confidential-symmetric"
	// Asymmetric clients authenticate with a JWT signed by their private
	// key (private_key_jwt); Backend Services clients are of this kind.
	Asymmetric ClientKind = "confidential-asymmetric"
)

// Valid reports whether k is one of the three kinds.
func (k ClientKind) Valid() bool { return k == Public || k == Symmetric || k == Asymmetric }

// Client is one registered client.
type Client struct {
	ID   string     `json:"id"`
	Name string     `json:"name,omitempty"`
	Kind ClientKind `json:"kind"`
	// SecretHash is the hex SHA-256 of a symmetric client's secret (the
	// secret is 256 random bits, so a fast hash suffices).
	SecretHash string `json:"secret_hash,omitempty"`
	// RedirectURIs must match the authorize request's redirect_uri exactly.
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// LaunchURL is where the EHR launcher opens the app.
	LaunchURL string `json:"launch_url,omitempty"`
	// Scope is what the client may ask for (space separated).
	Scope string `json:"scope"`
	// JWKS (inline) or JWKSURL holds an asymmetric client's public keys.
	JWKS    []byte `json:"jwks,omitempty"`
	JWKSURL string `json:"jwks_url,omitempty"`
	// Dev marks the demo clients of the built-in dev identity; they are
	// refused when the server does not run the dev identity.
	Dev       bool      `json:"dev,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// TicketKind names what a ticket is for.
type TicketKind string

// The ticket kinds the server uses.
const (
	TicketCode     TicketKind = "code"     // an authorization code
	TicketRequest  TicketKind = "request"  // an authorization request in login/consent
	TicketSession  TicketKind = "session"  // a browser login session
	TicketLaunch   TicketKind = "launch"   // an EHR launch context
	TicketUpstream TicketKind = "upstream" // state of a login at the upstream OIDC provider
)

// Ticket is a short-lived record looked up by the hash of a random secret
// (the code, the request id, the cookie value, the launch id).
type Ticket struct {
	Kind      TicketKind
	Key       string // Hash of the secret
	Data      []byte // JSON owned by the caller
	ExpiresAt time.Time
}

// TokenKind is access or refresh.
type TokenKind string

// The token kinds.
const (
	Access  TokenKind = "access"
	Refresh TokenKind = "refresh"
)

// Token is an issued access or refresh token, stored by the hash of its
// value. Family groups every token issued from one authorization, so a
// reused refresh token or a revoked refresh token takes them all down.
type Token struct {
	Hash      string
	Kind      TokenKind
	Family    string
	ClientID  string
	Data      []byte // JSON of the grant, owned by the caller
	IssuedAt  time.Time
	ExpiresAt time.Time
	Revoked   bool
	// Used is set on a refresh token once it has been rotated.
	Used bool
}

// Key is a signing key. Use names the slot ("id_token"); at most one key
// per slot exists.
type Key struct {
	Use       string
	ID        string
	Alg       string
	Private   []byte // PKCS#8 DER
	CreatedAt time.Time
}

// Store is the persistence contract. All methods are safe for concurrent
// use, also from several processes sharing one database.
type Store interface {
	// CreateClient registers c; ErrExists when its id is taken.
	CreateClient(ctx context.Context, c Client) error
	// SaveClient creates or replaces c.
	SaveClient(ctx context.Context, c Client) error
	// Client returns one client; ErrNotFound when unknown.
	Client(ctx context.Context, id string) (Client, error)
	// Clients returns every client, ordered by id.
	Clients(ctx context.Context) ([]Client, error)
	// DeleteClient removes a client and revokes its tokens; ErrNotFound
	// when unknown.
	DeleteClient(ctx context.Context, id string) error

	// PutTicket stores t, replacing a ticket of the same kind and key.
	PutTicket(ctx context.Context, t Ticket) error
	// Ticket returns a ticket that has not expired at now; ErrNotFound
	// otherwise.
	Ticket(ctx context.Context, kind TicketKind, key string, now time.Time) (Ticket, error)
	// TakeTicket deletes and returns a ticket that has not expired at now.
	// Of concurrent callers at most one gets it; the others, and every
	// later caller, get ErrNotFound.
	TakeTicket(ctx context.Context, kind TicketKind, key string, now time.Time) (Ticket, error)
	// DeleteTicket removes a ticket if it exists.
	DeleteTicket(ctx context.Context, kind TicketKind, key string) error

	// PutToken stores a newly issued token.
	PutToken(ctx context.Context, t Token) error
	// Token returns a token in whatever state it is (revoked, used,
	// expired: the caller decides); ErrNotFound when unknown.
	Token(ctx context.Context, hash string) (Token, error)
	// RotateToken marks the refresh token oldHash used and stores next in
	// its family, atomically. Only one of concurrent rotations of the same
	// token succeeds. When oldHash was already used it revokes the whole
	// family and returns ErrReused; when it is unknown, revoked or expired
	// at now, ErrNotFound.
	RotateToken(ctx context.Context, oldHash string, next Token, now time.Time) error
	// RevokeToken revokes one token; RevokeFamily every token of a family.
	// Neither fails when nothing matches.
	RevokeToken(ctx context.Context, hash string) error
	RevokeFamily(ctx context.Context, family string) error

	// UseJTI records that issuer used jti, remembered until exp; ErrReplay
	// when the pair was recorded before.
	UseJTI(ctx context.Context, issuer, jti string, exp time.Time) error

	// Key returns the key in slot use; ErrNotFound when it is empty.
	Key(ctx context.Context, use string) (Key, error)
	// EnsureKey stores k when its slot (k.Use) is empty and returns the key
	// in the slot, so concurrent nodes all end up with the same key.
	EnsureKey(ctx context.Context, k Key) (Key, error)

	// Purge deletes tickets, tokens and jti records that expired before now.
	Purge(ctx context.Context, now time.Time) error
}

// Hash is how secrets (codes, tokens, client secrets, cookie values) are
// stored and looked up: hex SHA-256. Every such secret carries at least 128
// random bits, so a fast unsalted hash cannot be reversed.
func Hash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}
