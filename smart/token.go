package smart

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/telefhir/telefhir/smart/access"
	"github.com/telefhir/telefhir/smart/client"
	"github.com/telefhir/telefhir/smart/identity"
	"github.com/telefhir/telefhir/smart/oauthstore"
	"github.com/telefhir/telefhir/smart/scope"
)

// verifierPattern is an RFC 7636 code_verifier: 43 to 128 unreserved
// characters.
var verifierPattern = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// tokenResponse is the token endpoint's answer, launch context included.
type tokenResponse struct {
	AccessToken       string           `json:"access_token"`
	TokenType         string           `json:"token_type"`
	ExpiresIn         int64            `json:"expires_in"`
	Scope             string           `json:"scope"`
	RefreshToken      string           `json:"refresh_token,omitempty"`
	IDToken           string           `json:"id_token,omitempty"`
	Patient           string           `json:"patient,omitempty"`
	Encounter         string           `json:"encounter,omitempty"`
	FHIRContext       []map[string]any `json:"fhirContext,omitempty"`
	NeedPatientBanner *bool            `json:"need_patient_banner,omitempty"`
	SMARTStyleURL     string           `json:"smart_style_url,omitempty"`
}

// authenticateClient runs client authentication and maps its failures to
// invalid_client.
func (s *Server) authenticateClient(c echo.Context) (oauthstore.Client, client.Method, error) {
	if err := c.Request().ParseForm(); err != nil {
		return oauthstore.Client{}, "", invalidRequest("the request body must be application/x-www-form-urlencoded")
	}
	cl, m, err := s.clients.Authenticate(c.Request().Context(), c.Request().Header.Get(echo.HeaderAuthorization), c.Request().PostForm)
	if errors.Is(err, client.ErrInvalid) {
		s.log.InfoContext(c.Request().Context(), "client authentication failed", "route", c.Path(), "reason", err.Error())
		return oauthstore.Client{}, "", invalidClient("%s", err.Error())
	}
	return cl, m, err
}

// token is the token endpoint.
func (s *Server) token(c echo.Context) error {
	cl, _, err := s.authenticateClient(c)
	if err != nil {
		return err
	}
	form := c.Request().PostForm
	switch gt := form.Get("grant_type"); gt {
	case "authorization_code":
		return s.codeGrant(c, cl)
	case "refresh_token":
		return s.refreshGrant(c, cl)
	case "client_credentials":
		return s.clientCredentials(c, cl)
	case "":
		return invalidRequest("grant_type is required")
	default:
		return oauthErr(http.StatusBadRequest, "unsupported_grant_type", "grant_type %q is not supported", gt)
	}
}

func (s *Server) codeGrant(c echo.Context, cl oauthstore.Client) error {
	ctx := c.Request().Context()
	form := c.Request().PostForm
	var rec codeRecord
	if err := s.getJSON(ctx, oauthstore.TicketCode, form.Get("code"), true, &rec); err != nil {
		if notFound(err) {
			return invalidGrant("the code is invalid, expired or already used")
		}
		return err
	}
	switch {
	case rec.Grant.ClientID != cl.ID:
		return invalidGrant("the code was issued to another client")
	case form.Get("redirect_uri") != rec.RedirectURI:
		return invalidGrant("redirect_uri does not match the authorization request")
	}
	v := form.Get("code_verifier")
	if !verifierPattern.MatchString(v) {
		return invalidGrant("code_verifier is missing or malformed (43-128 unreserved characters)")
	}
	sum := sha256.Sum256([]byte(v))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(rec.Challenge)) != 1 {
		return invalidGrant("code_verifier does not match the code_challenge")
	}
	family, _ := newID()
	return s.issue(c, rec.Grant, family, "")
}

func (s *Server) refreshGrant(c echo.Context, cl oauthstore.Client) error {
	ctx := c.Request().Context()
	form := c.Request().PostForm
	raw := form.Get("refresh_token")
	if raw == "" {
		return invalidRequest("refresh_token is required")
	}
	hash := oauthstore.Hash(raw)
	tok, err := s.cfg.Store.Token(ctx, hash)
	if notFound(err) || (err == nil && tok.Kind != oauthstore.Refresh) {
		return invalidGrant("the refresh token is invalid")
	}
	if err != nil {
		return err
	}
	if tok.ClientID != cl.ID {
		return invalidGrant("the refresh token was issued to another client")
	}
	var g grantRecord
	if err := json.Unmarshal(tok.Data, &g); err != nil {
		return err
	}
	if want := form.Get("scope"); want != "" {
		asked, err := scope.ParseSet(want)
		if err != nil {
			return invalidScope("%v", err)
		}
		orig, err := scope.ParseSet(g.Scope)
		if err != nil {
			return err
		}
		narrowed, dropped := asked.Narrow(orig)
		if len(dropped) > 0 {
			return invalidScope("scope may only narrow the original grant; not granted before: %v", dropped)
		}
		// Offline or online access stays as granted: the rotation must go on.
		narrowed.OfflineAccess, narrowed.OnlineAccess = orig.OfflineAccess, orig.OnlineAccess
		g.Scope = narrowed.String()
	}
	return s.issue(c, g, tok.Family, hash)
}

func (s *Server) clientCredentials(c echo.Context, cl oauthstore.Client) error {
	if cl.Kind != oauthstore.Asymmetric {
		return unauthorizedClient("client_credentials needs a confidential asymmetric client (private_key_jwt)")
	}
	asked, err := scope.ParseSet(c.Request().PostForm.Get("scope"))
	if err != nil {
		return invalidScope("%v", err)
	}
	allowed, err := scope.ParseSet(cl.Scope)
	if err != nil {
		return err
	}
	system := scope.Set{Resources: asked.Resources}
	granted, _ := system.Narrow(allowed)
	granted.Resources = slices.DeleteFunc(granted.Resources, func(r scope.Resource) bool { return r.Level != scope.System })
	if len(granted.Resources) == 0 {
		return invalidScope("ask for system/ scopes registered for this client")
	}
	g := grantRecord{ClientID: cl.ID, DevClient: cl.Dev, Subject: cl.ID, Role: string(access.RoleSystem), Scope: granted.String()}
	family, _ := newID()
	return s.issue(c, g, family, "")
}

// issue mints an access token for g (and a refresh token when g was
// granted offline or online access and this is not Backend Services),
// rotating the refresh token rotate when set.
func (s *Server) issue(c echo.Context, g grantRecord, family, rotate string) error {
	ctx := c.Request().Context()
	now := s.now()
	set, err := scope.ParseSet(g.Scope)
	if err != nil {
		return err
	}
	data, err := json.Marshal(g)
	if err != nil {
		return err
	}
	ttl := s.cfg.AccessTTL
	if g.Role == string(access.RoleSystem) {
		ttl = s.cfg.SystemTTL
	}
	resp := tokenResponse{TokenType: "Bearer", ExpiresIn: int64(ttl / time.Second), Scope: g.Scope}

	var refresh string
	if g.Role != string(access.RoleSystem) && (set.OfflineAccess || set.OnlineAccess) {
		exp := now.Add(s.cfg.OfflineTTL)
		if !set.OfflineAccess {
			exp = g.RefreshUntil
		}
		if exp.After(now) {
			refresh, _ = newID()
			next := oauthstore.Token{Hash: oauthstore.Hash(refresh), Kind: oauthstore.Refresh, Family: family, ClientID: g.ClientID, Data: data, IssuedAt: now, ExpiresAt: exp}
			if rotate != "" {
				err = s.cfg.Store.RotateToken(ctx, rotate, next, now)
			} else {
				err = s.cfg.Store.PutToken(ctx, next)
			}
		} else if rotate != "" {
			err = oauthstore.ErrNotFound
		}
		switch {
		case errors.Is(err, oauthstore.ErrReused):
			s.log.WarnContext(ctx, "refresh token reused; its authorization is revoked", "client_id", g.ClientID)
			return invalidGrant("the refresh token was already used; every token of this authorization is now revoked")
		case notFound(err):
			return invalidGrant("the refresh token is invalid, expired or revoked")
		case err != nil:
			return err
		}
		resp.RefreshToken = refresh
	} else if rotate != "" {
		return invalidGrant("the refresh token is invalid")
	}

	at, _ := newID()
	if err := s.cfg.Store.PutToken(ctx, oauthstore.Token{
		Hash: oauthstore.Hash(at), Kind: oauthstore.Access, Family: family, ClientID: g.ClientID, Data: data,
		IssuedAt: now, ExpiresAt: now.Add(ttl),
	}); err != nil {
		return err
	}
	resp.AccessToken = at
	if set.OpenID {
		idt, err := s.idToken(g, set, now)
		if err != nil {
			return err
		}
		resp.IDToken = idt
	}
	if g.Role != string(access.RoleSystem) {
		resp.Patient, resp.Encounter = g.Patient, g.Encounter
		if g.Encounter != "" {
			resp.FHIRContext = []map[string]any{{"reference": "Encounter/" + g.Encounter}}
		}
		banner := g.NeedBanner
		resp.NeedPatientBanner = &banner
		resp.SMARTStyleURL = s.url(pathStyle)
	}
	return c.JSON(http.StatusOK, resp)
}

// idToken signs the OpenID Connect id_token (RS256).
func (s *Server) idToken(g grantRecord, set scope.Set, now time.Time) (string, error) {
	claims := map[string]any{
		"iss": s.cfg.BaseURL, "sub": g.Subject, "aud": g.ClientID,
		"iat": now.Unix(), "exp": now.Add(s.cfg.AccessTTL).Unix(),
	}
	if g.Nonce != "" {
		claims["nonce"] = g.Nonce
	}
	if g.Name != "" {
		claims["name"] = g.Name
	}
	if set.FHIRUser && g.FHIRUser != "" {
		claims["fhirUser"] = s.cfg.BaseURL + "/" + g.FHIRUser
	}
	return s.keys.sign(claims)
}

// CLIClient is the client id of tokens minted by Mint.
const CLIClient = "telefhir-cli"

// Mint stores and returns an access token for u with scope, without an
// OAuth flow: `telefhir token` uses it to give curl and scripts a bearer
// token. A patient user's context is always their own patient.
func Mint(ctx context.Context, st oauthstore.Store, u identity.User, scopes, patient, encounter string, ttl time.Duration, now time.Time) (string, error) {
	set, err := scope.ParseSet(scopes)
	if err != nil {
		return "", err
	}
	if own := ownPatient(u); own != "" {
		patient = own
	}
	g := grantRecord{
		ClientID: CLIClient, Subject: u.ID, Name: u.Name, FHIRUser: u.FHIRUser, Role: string(u.Role),
		Scope: set.String(), Patient: patient, Encounter: encounter,
	}
	data, err := json.Marshal(g)
	if err != nil {
		return "", err
	}
	tok, _ := newID()
	family, _ := newID()
	err = st.PutToken(ctx, oauthstore.Token{
		Hash: oauthstore.Hash(tok), Kind: oauthstore.Access, Family: family, ClientID: CLIClient, Data: data,
		IssuedAt: now, ExpiresAt: now.Add(ttl),
	})
	if err != nil {
		return "", err
	}
	return tok, nil
}
