package oauthtest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/telefhir/telefhir/smart/oauthstore"
)

// Run runs every test against stores returned by open, which must return
// a fresh, empty, migrated store closed when t ends.
func Run(t *testing.T, open func(t *testing.T) oauthstore.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s oauthstore.Store)
	}{
		{"Clients", testClients},
		{"Tickets", testTickets},
		{"TakeTicketOnce", testTakeTicketOnce},
		{"Tokens", testTokens},
		{"Rotate", testRotate},
		{"RotateConcurrent", testRotateConcurrent},
		{"RotateExpired", testRotateExpired},
		{"DeleteClientRevokes", testDeleteClientRevokes},
		{"JTI", testJTI},
		{"EnsureKey", testEnsureKey},
		{"Purge", testPurge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t))
		})
	}
}

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

func testClients(t *testing.T, s oauthstore.Store) {
	ctx := t.Context()
	c := oauthstore.Client{
		ID: "app-1", Name: "App", Kind: oauthstore.Asymmetric, RedirectURIs: []string{"https://app/cb", "http://localhost/cb"},
		Scope: "launch patient/*.rs", JWKS: []byte(`{"keys":[]}`), JWKSURL: "https://app/jwks", CreatedAt: t0,
	}
	must(t, s.CreateClient(ctx, c))
	wantErr(t, "second create", s.CreateClient(ctx, c), oauthstore.ErrExists)
	got, err := s.Client(ctx, "app-1")
	must(t, err)
	if got.Name != "App" || got.Kind != c.Kind || len(got.RedirectURIs) != 2 || got.RedirectURIs[1] != "http://localhost/cb" ||
		!bytes.Equal(got.JWKS, c.JWKS) || got.JWKSURL != c.JWKSURL || !got.CreatedAt.Equal(t0) {
		t.Fatalf("client round trip: %+v", got)
	}
	c.Name = "Renamed"
	must(t, s.SaveClient(ctx, c))
	must(t, s.SaveClient(ctx, oauthstore.Client{ID: "app-0", Kind: oauthstore.Public, CreatedAt: t0}))
	all, err := s.Clients(ctx)
	must(t, err)
	if len(all) != 2 || all[0].ID != "app-0" || all[1].Name != "Renamed" {
		t.Fatalf("clients: %+v", all)
	}
	_, err = s.Client(ctx, "nope")
	wantErr(t, "unknown client", err, oauthstore.ErrNotFound)
	must(t, s.DeleteClient(ctx, "app-0"))
	wantErr(t, "second delete", s.DeleteClient(ctx, "app-0"), oauthstore.ErrNotFound)
}

func testTickets(t *testing.T, s oauthstore.Store) {
	ctx := t.Context()
	tk := oauthstore.Ticket{Kind: oauthstore.TicketRequest, Key: "k1", Data: []byte(`{"a":1}`), ExpiresAt: t0.Add(time.Minute)}
	must(t, s.PutTicket(ctx, tk))
	// Same key, other kind: independent.
	must(t, s.PutTicket(ctx, oauthstore.Ticket{Kind: oauthstore.TicketCode, Key: "k1", Data: []byte(`code`), ExpiresAt: t0.Add(time.Minute)}))
	got, err := s.Ticket(ctx, oauthstore.TicketRequest, "k1", t0)
	must(t, err)
	if string(got.Data) != `{"a":1}` || !got.ExpiresAt.Equal(tk.ExpiresAt) {
		t.Fatalf("ticket: %+v", got)
	}
	_, err = s.Ticket(ctx, oauthstore.TicketRequest, "k1", t0.Add(time.Minute))
	wantErr(t, "expired ticket", err, oauthstore.ErrNotFound)
	tk.Data = []byte(`{"a":2}`)
	must(t, s.PutTicket(ctx, tk))
	got, err = s.Ticket(ctx, oauthstore.TicketRequest, "k1", t0)
	must(t, err)
	if string(got.Data) != `{"a":2}` {
		t.Fatalf("replaced ticket: %s", got.Data)
	}
	must(t, s.DeleteTicket(ctx, oauthstore.TicketRequest, "k1"))
	_, err = s.Ticket(ctx, oauthstore.TicketRequest, "k1", t0)
	wantErr(t, "deleted ticket", err, oauthstore.ErrNotFound)
	got, err = s.Ticket(ctx, oauthstore.TicketCode, "k1", t0)
	must(t, err)
	if string(got.Data) != "code" {
		t.Fatalf("other kind: %s", got.Data)
	}
	// An expired ticket cannot be taken either, and is gone afterwards.
	must(t, s.PutTicket(ctx, oauthstore.Ticket{Kind: oauthstore.TicketCode, Key: "old", Data: []byte("x"), ExpiresAt: t0}))
	_, err = s.TakeTicket(ctx, oauthstore.TicketCode, "old", t0)
	wantErr(t, "take expired", err, oauthstore.ErrNotFound)
}

// testTakeTicketOnce: of many concurrent takers of one code exactly one
// wins.
func testTakeTicketOnce(t *testing.T, s oauthstore.Store) {
	ctx := t.Context()
	for round := range 5 {
		key := fmt.Sprintf("code-%d", round)
		must(t, s.PutTicket(ctx, oauthstore.Ticket{Kind: oauthstore.TicketCode, Key: key, Data: []byte("c"), ExpiresAt: t0.Add(time.Minute)}))
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, misses := 0, 0
		for range 8 {
			wg.Go(func() {
				_, err := s.TakeTicket(ctx, oauthstore.TicketCode, key, t0)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, oauthstore.ErrNotFound):
					misses++
				default:
					t.Errorf("take: %v", err)
				}
			})
		}
		wg.Wait()
		if wins != 1 || misses != 7 {
			t.Fatalf("round %d: %d takers won, %d missed; want 1 and 7", round, wins, misses)
		}
	}
}

func token(hash string, kind oauthstore.TokenKind, family string, exp time.Time) oauthstore.Token {
	return oauthstore.Token{Hash: hash, Kind: kind, Family: family, ClientID: "app", Data: []byte(`{"sub":"u"}`), IssuedAt: t0, ExpiresAt: exp}
}

func testTokens(t *testing.T, s oauthstore.Store) {
	ctx := t.Context()
	must(t, s.PutToken(ctx, token("a1", oauthstore.Access, "f1", t0.Add(time.Hour))))
	wantErr(t, "duplicate token", s.PutToken(ctx, token("a1", oauthstore.Access, "f1", t0.Add(time.Hour))), oauthstore.ErrExists)
	must(t, s.PutToken(ctx, token("a2", oauthstore.Access, "f2", t0.Add(time.Hour))))
	got, err := s.Token(ctx, "a1")
	must(t, err)
	if got.Kind != oauthstore.Access || got.Family != "f1" || got.ClientID != "app" || string(got.Data) != `{"sub":"u"}` ||
		!got.IssuedAt.Equal(t0) || !got.ExpiresAt.Equal(t0.Add(time.Hour)) || got.Revoked || got.Used {
		t.Fatalf("token round trip: %+v", got)
	}
	_, err = s.Token(ctx, "zz")
	wantErr(t, "unknown token", err, oauthstore.ErrNotFound)
	must(t, s.RevokeToken(ctx, "a1"))
	must(t, s.RevokeToken(ctx, "unknown"))
	if got, _ := s.Token(ctx, "a1"); !got.Revoked {
		t.Fatal("revoked token not revoked")
	}
	if got, _ := s.Token(ctx, "a2"); got.Revoked {
		t.Fatal("revoking one token revoked another")
	}
	must(t, s.RevokeFamily(ctx, "f2"))
	if got, _ := s.Token(ctx, "a2"); !got.Revoked {
		t.Fatal("family not revoked")
	}
}

func testRotate(t *testing.T, s oauthstore.Store) {
	ctx := t.Context()
	exp := t0.Add(time.Hour)
	must(t, s.PutToken(ctx, token("r1", oauthstore.Refresh, "fam", exp)))
	must(t, s.PutToken(ctx, token("a1", oauthstore.Access, "fam", exp)))
	must(t, s.PutToken(ctx, token("other", oauthstore.Refresh, "fam2", exp)))
	// The next token takes the family of the old one, whatever it says.
	must(t, s.RotateToken(ctx, "r1", token("r2", oauthstore.Refresh, "ignored", exp), t0))
	r2, err := s.Token(ctx, "r2")
	must(t, err)
	if r2.Family != "fam" || r2.Used || r2.Revoked {
		t.Fatalf("rotated token: %+v", r2)
	}
	if r1, _ := s.Token(ctx, "r1"); !r1.Used {
		t.Fatal("old refresh token not marked used")
	}
	// Presenting r1 again: reuse, the whole family goes.
	wantErr(t, "reuse", s.RotateToken(ctx, "r1", token("r3", oauthstore.Refresh, "", exp), t0), oauthstore.ErrReused)
	for _, h := range []string{"r1", "r2", "a1"} {
		if tok, _ := s.Token(ctx, h); !tok.Revoked {
			t.Errorf("%s not revoked after reuse", h)
		}
	}
	if _, err := s.Token(ctx, "r3"); !errors.Is(err, oauthstore.ErrNotFound) {
		t.Errorf("r3 stored on reuse: %v", err)
	}
	if tok, _ := s.Token(ctx, "other"); tok.Revoked {
		t.Error("another family revoked")
	}
	// The revoked r2 cannot be rotated; unknown tokens and access tokens neither.
	wantErr(t, "rotate revoked", s.RotateToken(ctx, "r2", token("r4", oauthstore.Refresh, "", exp), t0), oauthstore.ErrNotFound)
	wantErr(t, "rotate unknown", s.RotateToken(ctx, "nope", token("r5", oauthstore.Refresh, "", exp), t0), oauthstore.ErrNotFound)
	must(t, s.PutToken(ctx, token("a9", oauthstore.Access, "fam9", exp)))
	wantErr(t, "rotate access token", s.RotateToken(ctx, "a9", token("r6", oauthstore.Refresh, "", exp), t0), oauthstore.ErrNotFound)
}

// testRotateConcurrent: of concurrent rotations of one refresh token one
// succeeds; the others see a reuse (and revoke the family).
func testRotateConcurrent(t *testing.T, s oauthstore.Store) {
	ctx := t.Context()
	exp := t0.Add(time.Hour)
	must(t, s.PutToken(ctx, token("r", oauthstore.Refresh, "fam", exp)))
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, reused := 0, 0
	for i := range 6 {
		wg.Go(func() {
			err := s.RotateToken(ctx, "r", token(fmt.Sprintf("n%d", i), oauthstore.Refresh, "", exp), t0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, oauthstore.ErrReused), errors.Is(err, oauthstore.ErrNotFound):
				reused++
			default:
				t.Errorf("rotate: %v", err)
			}
		})
	}
	wg.Wait()
	if ok != 1 || reused != 5 {
		t.Fatalf("%d rotations succeeded, %d refused; want 1 and 5", ok, reused)
	}
}

func testRotateExpired(t *testing.T, s oauthstore.Store) {
	ctx := t.Context()
	must(t, s.PutToken(ctx, token("r", oauthstore.Refresh, "fam", t0.Add(time.Minute))))
	wantErr(t, "rotate expired", s.RotateToken(ctx, "r", token("n", oauthstore.Refresh, "", t0.Add(time.Hour)), t0.Add(time.Minute)), oauthstore.ErrNotFound)
	if tok, _ := s.Token(ctx, "r"); tok.Used {
		t.Fatal("expired token marked used")
	}
}

func testDeleteClientRevokes(t *testing.T, s oauthstore.Store) {
	ctx := t.Context()
	must(t, s.CreateClient(ctx, oauthstore.Client{ID: "app", Kind: oauthstore.Public, CreatedAt: t0}))
	must(t, s.PutToken(ctx, token("a", oauthstore.Access, "f", t0.Add(time.Hour))))
	must(t, s.DeleteClient(ctx, "app"))
	if tok, _ := s.Token(ctx, "a"); !tok.Revoked {
		t.Fatal("token of a deleted client still valid")
	}
}

func testJTI(t *testing.T, s oauthstore.Store) {
	ctx := t.Context()
	must(t, s.UseJTI(ctx, "app", "j1", t0.Add(time.Minute)))
	wantErr(t, "replay", s.UseJTI(ctx, "app", "j1", t0.Add(time.Minute)), oauthstore.ErrReplay)
	must(t, s.UseJTI(ctx, "other-app", "j1", t0.Add(time.Minute)))
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 6 {
		wg.Go(func() {
			if err := s.UseJTI(ctx, "app", "race", t0.Add(time.Minute)); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			} else if !errors.Is(err, oauthstore.ErrReplay) {
				t.Errorf("jti: %v", err)
			}
		})
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d concurrent uses of one jti accepted", ok)
	}
}

func testEnsureKey(t *testing.T, s oauthstore.Store) {
	ctx := t.Context()
	if _, err := s.Key(ctx, "id_token"); !errors.Is(err, oauthstore.ErrNotFound) {
		t.Fatalf("key of an empty slot: %v", err)
	}
	k1 := oauthstore.Key{Use: "id_token", ID: "kid-1", Alg: "RS256", Private: []byte{1, 2, 3}, CreatedAt: t0}
	got, err := s.EnsureKey(ctx, k1)
	must(t, err)
	if got.ID != "kid-1" || !bytes.Equal(got.Private, k1.Private) || !got.CreatedAt.Equal(t0) || got.Alg != "RS256" {
		t.Fatalf("first key: %+v", got)
	}
	got, err = s.EnsureKey(ctx, oauthstore.Key{Use: "id_token", ID: "kid-2", Alg: "RS256", Private: []byte{9}, CreatedAt: t0.Add(time.Hour)})
	must(t, err)
	if got.ID != "kid-1" {
		t.Fatalf("second EnsureKey replaced the key: %+v", got)
	}
	if k, err := s.Key(ctx, "id_token"); err != nil || k.ID != "kid-1" || !bytes.Equal(k.Private, k1.Private) || !k.CreatedAt.Equal(t0) {
		t.Fatalf("Key: %+v %v", k, err)
	}
	// Concurrent nodes agree on one key.
	var wg sync.WaitGroup
	ids := make([]string, 6)
	for i := range ids {
		wg.Go(func() {
			k, err := s.EnsureKey(ctx, oauthstore.Key{Use: "other", ID: fmt.Sprintf("k%d", i), Alg: "RS256", Private: []byte{byte(i)}, CreatedAt: t0})
			if err != nil {
				t.Errorf("ensure: %v", err)
				return
			}
			ids[i] = k.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("nodes disagree on the key: %v", ids)
		}
	}
}

func testPurge(t *testing.T, s oauthstore.Store) {
	ctx := t.Context()
	must(t, s.PutTicket(ctx, oauthstore.Ticket{Kind: oauthstore.TicketCode, Key: "old", Data: []byte("x"), ExpiresAt: t0}))
	must(t, s.PutTicket(ctx, oauthstore.Ticket{Kind: oauthstore.TicketCode, Key: "new", Data: []byte("x"), ExpiresAt: t0.Add(time.Hour)}))
	must(t, s.PutToken(ctx, token("old", oauthstore.Access, "f", t0)))
	must(t, s.PutToken(ctx, token("new", oauthstore.Access, "f", t0.Add(time.Hour))))
	must(t, s.UseJTI(ctx, "app", "old", t0))
	must(t, s.UseJTI(ctx, "app", "new", t0.Add(time.Hour)))
	must(t, s.Purge(ctx, t0.Add(time.Second)))
	if _, err := s.Token(ctx, "old"); !errors.Is(err, oauthstore.ErrNotFound) {
		t.Error("expired token not purged")
	}
	if _, err := s.Token(ctx, "new"); err != nil {
		t.Errorf("live token purged: %v", err)
	}
	if _, err := s.Ticket(ctx, oauthstore.TicketCode, "new", t0); err != nil {
		t.Errorf("live ticket purged: %v", err)
	}
	// The old ticket is gone even for a clock that thinks it is live.
	if _, err := s.Ticket(ctx, oauthstore.TicketCode, "old", t0.Add(-time.Hour)); !errors.Is(err, oauthstore.ErrNotFound) {
		t.Error("expired ticket not purged")
	}
	must(t, s.UseJTI(ctx, "app", "old", t0.Add(time.Hour)))
	wantErr(t, "live jti after purge", s.UseJTI(ctx, "app", "new", t0.Add(time.Hour)), oauthstore.ErrReplay)
}
