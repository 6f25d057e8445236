package smart

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/telefhir/telefhir/fhir/resource"
	"github.com/telefhir/telefhir/smart/access"
	"github.com/telefhir/telefhir/smart/identity"
	"github.com/telefhir/telefhir/smart/oauthstore"
	"github.com/telefhir/telefhir/smart/scope"
)

const (
	requestTTL  = 15 * time.Minute
	sessionTTL  = 8 * time.Hour
	sessionName = "telefhir_session"
)

// challengePattern is a base64url SHA-256 (RFC 7636 S256).
var challengePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// authorizeParams reads the request: the query for GET, the form body for
// POST (authorize-post).
func authorizeParams(c echo.Context) (url.Values, error) {
	if c.Request().Method == http.MethodPost {
		if err := c.Request().ParseForm(); err != nil {
			return nil, pageErr(http.StatusBadRequest, "Invalid request", "The authorization request body could not be read.")
		}
		return c.Request().PostForm, nil
	}
	return c.QueryParams(), nil
}

// authorize is the authorization endpoint (GET and POST).
func (s *Server) authorize(c echo.Context) error {
	ctx := c.Request().Context()
	p, err := authorizeParams(c)
	if err != nil {
		return err
	}
	cl, err := s.cfg.Store.Client(ctx, p.Get("client_id"))
	if notFound(err) || (err == nil && !s.allowClient(cl)) {
		return pageErr(http.StatusBadRequest, "Unknown application", "The client_id %q is not registered with this server.", p.Get("client_id"))
	}
	if err != nil {
		return err
	}
	redirect := p.Get("redirect_uri")
	if redirect == "" || !slices.Contains(cl.RedirectURIs, redirect) {
		return pageErr(http.StatusBadRequest, "Invalid redirect_uri",
			"The redirect_uri is missing or is not one registered for %s; this server never redirects to an unregistered address.", cl.ID)
	}
	state := p.Get("state")
	fail := func(e *oauthError) error { return s.redirectError(c, redirect, state, e) }
	switch {
	case p.Get("response_type") != "code":
		return fail(oauthErr(0, "unsupported_response_type", "response_type must be code"))
	case state == "":
		return fail(invalidRequest("state is required"))
	case strings.TrimRight(p.Get("aud"), "/") != s.cfg.BaseURL:
		return fail(invalidRequest("aud must be this FHIR server's base URL, %s", s.cfg.BaseURL))
	case p.Get("code_challenge_method") != "S256":
		return fail(invalidRequest("PKCE is required: code_challenge_method must be S256"))
	case !challengePattern.MatchString(p.Get("code_challenge")):
		return fail(invalidRequest("code_challenge must be the base64url SHA-256 of the code_verifier (43 characters)"))
	}
	requested, err := scope.ParseSet(p.Get("scope"))
	if err != nil {
		return fail(invalidScope("%v", err))
	}
	for _, r := range requested.Resources {
		if r.Type != "*" && !resource.IsType(r.Type) {
			return fail(invalidScope("%s: %s is not an R4 resource type", r.String(), r.Type))
		}
	}
	allowed, err := scope.ParseSet(cl.Scope)
	if err != nil {
		return err
	}
	granted, _ := requested.Narrow(allowed)
	granted.Resources = slices.DeleteFunc(granted.Resources, func(r scope.Resource) bool { return r.Level == scope.System })
	if len(granted.Resources) == 0 && !granted.OpenID {
		return fail(invalidScope("none of the requested scopes may be granted to this application"))
	}
	req := pendingRequest{
		ClientID: cl.ID, RedirectURI: redirect, State: state, Scope: granted.String(),
		Challenge: p.Get("code_challenge"), Nonce: p.Get("nonce"),
	}
	if launch := p.Get("launch"); launch != "" {
		var lc launchContext
		if err := s.getJSON(ctx, oauthstore.TicketLaunch, launch, false, &lc); err != nil {
			if notFound(err) {
				return fail(invalidRequest("the launch id is unknown or has expired"))
			}
			return err
		}
		req.Launch = &lc
	}
	if u, ok := s.sessionUser(c); ok {
		req.User = &u
	}
	if s.cfg.AutoApprove != "" {
		u, _ := s.cfg.Dev.User(s.cfg.AutoApprove)
		req.User = &u
	}
	id, _ := newID()
	if err := s.putJSON(ctx, oauthstore.TicketRequest, id, requestTTL, req); err != nil {
		return err
	}
	return s.proceed(c, id, req)
}

// proceed moves a pending request on: to login, to consent, or (dev
// auto-approve) straight back to the app with a code.
func (s *Server) proceed(c echo.Context, id string, req pendingRequest) error {
	if req.User == nil {
		return c.Redirect(http.StatusSeeOther, s.url(pathLogin)+"?req="+url.QueryEscape(id))
	}
	if req.Return != "" {
		if err := s.cfg.Store.DeleteTicket(c.Request().Context(), oauthstore.TicketRequest, hashOf(id)); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, req.Return)
	}
	if req.Launch != nil && req.Launch.User != "" && req.Launch.User != req.User.ID {
		return s.redirectError(c, req.RedirectURI, req.State, oauthErr(0, "access_denied", "the EHR launch was started by another user"))
	}
	if s.cfg.AutoApprove != "" {
		granted, _ := scope.ParseSet(req.Scope)
		patient := ""
		if needsPatientChoice(req, granted) {
			patient = ownPatient(*req.User)
			if patient == "" {
				patient = identity.DevPatientID
			}
		}
		return s.issueCode(c, id, req, granted, patient)
	}
	return c.Redirect(http.StatusSeeOther, s.url(pathConsent)+"?req="+url.QueryEscape(id))
}

// redirectError sends the browser back to the app with an OAuth error.
func (s *Server) redirectError(c echo.Context, redirect, state string, e *oauthError) error {
	u, err := url.Parse(redirect)
	if err != nil {
		return pageErr(http.StatusBadRequest, "Invalid redirect_uri", "The registered redirect_uri cannot be used.")
	}
	q := u.Query()
	q.Set("error", e.Code)
	if e.Description != "" {
		q.Set("error_description", e.Description)
	}
	if state != "" {
		q.Set("state", state)
	}
	u.RawQuery = q.Encode()
	return c.Redirect(http.StatusFound, u.String())
}

// pending loads the pending request named by the req parameter.
func (s *Server) pending(c echo.Context) (string, pendingRequest, error) {
	id := c.FormValue("req")
	var req pendingRequest
	err := s.getJSON(c.Request().Context(), oauthstore.TicketRequest, id, false, &req)
	if notFound(err) {
		return "", req, pageErr(http.StatusBadRequest, "Authorization expired",
			"This authorization request is unknown or has expired. Go back to the application and start again.")
	}
	return id, req, err
}

// sessionUser is the user of the browser's login session, if any.
func (s *Server) sessionUser(c echo.Context) (identity.User, bool) {
	ck, err := c.Cookie(sessionName)
	if err != nil || ck.Value == "" {
		return identity.User{}, false
	}
	var sess sessionRecord
	if err := s.getJSON(c.Request().Context(), oauthstore.TicketSession, ck.Value, false, &sess); err != nil {
		return identity.User{}, false
	}
	return sess.User, true
}

// startSession signs the browser in as u.
func (s *Server) startSession(c echo.Context, u identity.User) error {
	secret, _ := newID()
	if err := s.putJSON(c.Request().Context(), oauthstore.TicketSession, secret, sessionTTL, sessionRecord{User: u}); err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{
		Name: sessionName, Value: secret, Path: s.cookiePath, HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(sessionTTL.Seconds()),
	})
	return nil
}

// signedIn records the user on the pending request, starts a session and
// moves on.
func (s *Server) signedIn(c echo.Context, id string, req pendingRequest, u identity.User) error {
	if err := s.startSession(c, u); err != nil {
		return err
	}
	req.User = &u
	if err := s.putJSON(c.Request().Context(), oauthstore.TicketRequest, id, requestTTL, req); err != nil {
		return err
	}
	return s.proceed(c, id, req)
}

type loginView struct {
	Req    string
	Client string
	Users  []identity.User
	User   string
	Error  string
	Action string
}

// loginPage shows the dev login form, or sends the browser to the
// upstream provider.
func (s *Server) loginPage(c echo.Context) error {
	id, req, err := s.pending(c)
	if err != nil {
		return err
	}
	if s.cfg.Upstream != nil {
		st := upstreamState{Request: id}
		st.Nonce, _ = newID()
		st.Verifier, _ = newID()
		state, _ := newID()
		if err := s.putJSON(c.Request().Context(), oauthstore.TicketUpstream, state, requestTTL, st); err != nil {
			return err
		}
		return c.Redirect(http.StatusFound, s.cfg.Upstream.AuthCodeURL(state, st.Nonce, st.Verifier))
	}
	v := loginView{Req: id, Client: s.loginTarget(c.Request().Context(), req), Users: s.cfg.Dev.Users(), Action: s.url(pathLogin)}
	if req.Launch != nil {
		v.User = req.Launch.User
	}
	return s.render(c, http.StatusOK, "login", v)
}

// login checks the dev login form.
func (s *Server) login(c echo.Context) error {
	id, req, err := s.pending(c)
	if err != nil {
		return err
	}
	if s.cfg.Dev == nil {
		return pageErr(http.StatusBadRequest, "Login", "This server signs users in at its identity provider.")
	}
	u, ok := s.cfg.Dev.Check(c.FormValue("username"), c.FormValue("password"))
	if !ok {
		return s.render(c, http.StatusUnauthorized, "login", loginView{
			Req: id, Client: s.loginTarget(c.Request().Context(), req), Users: s.cfg.Dev.Users(),
			User: c.FormValue("username"), Error: "Wrong user name or password.", Action: s.url(pathLogin),
		})
	}
	return s.signedIn(c, id, req, u)
}

// callback completes a login at the upstream provider.
func (s *Server) callback(c echo.Context) error {
	if s.cfg.Upstream == nil {
		return pageErr(http.StatusNotFound, "Not found", "This server has no upstream identity provider.")
	}
	ctx := c.Request().Context()
	var st upstreamState
	if err := s.getJSON(ctx, oauthstore.TicketUpstream, c.QueryParam("state"), true, &st); err != nil {
		if notFound(err) {
			return pageErr(http.StatusBadRequest, "Login expired", "The login is unknown, was already completed or has expired. Go back to the application and start again.")
		}
		return err
	}
	if e := c.QueryParam("error"); e != "" {
		return pageErr(http.StatusUnauthorized, "Login failed", "The identity provider refused the login (%s).", e)
	}
	u, err := s.cfg.Upstream.Exchange(ctx, c.QueryParam("code"), st.Verifier, st.Nonce)
	if err != nil {
		if errors.Is(err, identity.ErrLogin) {
			s.log.WarnContext(ctx, "upstream login failed", "error", err)
			return pageErr(http.StatusUnauthorized, "Login failed", "The identity provider's answer could not be verified or the account cannot use this server.")
		}
		return err
	}
	var req pendingRequest
	if err := s.getJSON(ctx, oauthstore.TicketRequest, st.Request, false, &req); err != nil {
		if notFound(err) {
			return pageErr(http.StatusBadRequest, "Authorization expired", "The authorization request has expired. Go back to the application and start again.")
		}
		return err
	}
	return s.signedIn(c, st.Request, req, u)
}

// loginTarget names what the user signs in to.
func (s *Server) loginTarget(ctx context.Context, req pendingRequest) string {
	if req.Return != "" {
		return "the EHR launcher"
	}
	return s.clientName(ctx, req.ClientID)
}

func (s *Server) clientName(ctx context.Context, id string) string {
	if cl, err := s.cfg.Store.Client(ctx, id); err == nil && cl.Name != "" {
		return cl.Name
	}
	return id
}

// needsPatientChoice: a standalone launch asking for launch/patient gets a
// patient picked at consent.
func needsPatientChoice(req pendingRequest, granted scope.Set) bool {
	return granted.LaunchPatient && (req.Launch == nil || req.Launch.Patient == "")
}

// ownPatient is the patient a patient user is.
func ownPatient(u identity.User) string {
	if u.Role != access.RolePatient {
		return ""
	}
	if p, ok := strings.CutPrefix(u.FHIRUser, "Patient/"); ok {
		return p
	}
	if len(u.Patients) == 1 {
		return u.Patients[0]
	}
	return ""
}

// issueCode takes the pending request (single use) and redirects to the
// app with a code for what was granted.
func (s *Server) issueCode(c echo.Context, id string, req pendingRequest, granted scope.Set, patient string) error {
	ctx := c.Request().Context()
	var taken pendingRequest
	if err := s.getJSON(ctx, oauthstore.TicketRequest, id, true, &taken); err != nil {
		if notFound(err) {
			return pageErr(http.StatusBadRequest, "Authorization expired", "This authorization was already completed or has expired.")
		}
		return err
	}
	cl, err := s.cfg.Store.Client(ctx, req.ClientID)
	if err != nil {
		if notFound(err) {
			return pageErr(http.StatusBadRequest, "Unknown application", "The application was removed.")
		}
		return err
	}
	u := req.User
	g := grantRecord{
		ClientID: req.ClientID, DevClient: cl.Dev, Subject: u.ID, Name: u.Name, FHIRUser: u.FHIRUser, Role: string(u.Role),
		Scope: granted.String(), Nonce: req.Nonce,
	}
	if req.Launch != nil && granted.Launch {
		g.Patient, g.Encounter = req.Launch.Patient, req.Launch.Encounter
	}
	if patient != "" {
		g.Patient = patient
	}
	if own := ownPatient(*u); own != "" {
		g.Patient = own // a patient's context is always themselves
	}
	g.NeedBanner = g.Patient != ""
	if granted.OnlineAccess && !granted.OfflineAccess {
		g.RefreshUntil = s.now().Add(s.cfg.OnlineTTL)
	}
	code, _ := newID()
	if err := s.putJSON(ctx, oauthstore.TicketCode, code, s.cfg.CodeTTL, codeRecord{RedirectURI: req.RedirectURI, Challenge: req.Challenge, Grant: g}); err != nil {
		return err
	}
	u2, err := url.Parse(req.RedirectURI)
	if err != nil {
		return fmt.Errorf("registered redirect_uri: %w", err)
	}
	q := u2.Query()
	q.Set("code", code)
	q.Set("state", req.State)
	u2.RawQuery = q.Encode()
	return c.Redirect(http.StatusFound, u2.String())
}
