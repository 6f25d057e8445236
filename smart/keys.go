package smart

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/telefhir/telefhir/smart/oauthstore"
)

// signer signs id_tokens with the server's RSA key (RS256), which lives in
// the OAuth store so every node signs with the same key and publishes it
// at the JWKS endpoint.
type signer struct {
	kid    string
	key    *rsa.PrivateKey
	signer jose.Signer
}

const keyUseIDToken = "id_token"

// loadSigner reads the id_token key, creating it on first start. Of nodes
// starting together, the first to store its key wins and all use that.
func loadSigner(ctx context.Context, st oauthstore.Store, now time.Time) (*signer, error) {
	k, err := st.Key(ctx, keyUseIDToken)
	if errors.Is(err, oauthstore.ErrNotFound) {
		k, err = createKey(ctx, st, now)
	}
	if err != nil {
		return nil, fmt.Errorf("smart: signing key: %w", err)
	}
	return newSigner(k)
}

// createKey generates an RSA key and stores it unless another node was
// first.
func createKey(ctx context.Context, st oauthstore.Store, now time.Time) (oauthstore.Key, error) {
	fresh, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return oauthstore.Key{}, fmt.Errorf("generate: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(fresh)
	if err != nil {
		return oauthstore.Key{}, fmt.Errorf("encode: %w", err)
	}
	kid, err := thumbprint(&fresh.PublicKey)
	if err != nil {
		return oauthstore.Key{}, err
	}
	return st.EnsureKey(ctx, oauthstore.Key{Use: keyUseIDToken, ID: kid, Alg: string(jose.RS256), Private: der, CreatedAt: now})
}

func newSigner(k oauthstore.Key) (*signer, error) {
	parsed, err := x509.ParsePKCS8PrivateKey(k.Private)
	if err != nil {
		return nil, fmt.Errorf("smart: stored signing key: %w", err)
	}
	key, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("smart: stored signing key is not RSA")
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: k.ID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("smart: signer: %w", err)
	}
	return &signer{kid: k.ID, key: key, signer: sig}, nil
}

func thumbprint(pub *rsa.PublicKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("smart: key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// sign returns the compact JWS of claims.
func (s *signer) sign(claims any) (string, error) {
	b, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := s.signer.Sign(b)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// jwks is the public key set.
func (s *signer) jwks() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &s.key.PublicKey, KeyID: s.kid, Algorithm: string(jose.RS256), Use: "sig"}}}
}
