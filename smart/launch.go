package smart

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/smart/access"
	"github.com/telefhir/telefhir/smart/identity"
	"github.com/telefhir/telefhir/smart/oauthstore"
)

// launchTTL is how long a launch id stays usable: long enough for the app
// to load, discover and authorize, with a login on the way.
const launchTTL = 10 * time.Minute

// apiError is a JSON error of the launch and client-admin APIs.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"error"`
	Message string `json:"error_description"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func apiErr(status int, code, msg string) *apiError { return &apiError{status, code, msg} }

// api adapts a JSON API handler that needs a bearer token of one of roles.
func (s *Server) api(h func(echo.Context, *access.Grant) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		noStore(c)
		err := s.withGrant(c, h)
		if err == nil {
			return nil
		}
		var ae *apiError
		if !errors.As(err, &ae) {
			s.log.ErrorContext(c.Request().Context(), "auth API failed", "route", c.Path(), "error", err)
			ae = apiErr(http.StatusInternalServerError, "server_error", "the server could not complete the request")
		}
		if ae.Status == http.StatusUnauthorized {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="`+s.cfg.BaseURL+`", error="invalid_token"`)
		}
		return c.JSON(ae.Status, ae)
	}
}

func (s *Server) withGrant(c echo.Context, h func(echo.Context, *access.Grant) error) error {
	raw, ok := bearer(c.Request().Header.Get(echo.HeaderAuthorization))
	if !ok {
		return apiErr(http.StatusUnauthorized, "invalid_token", "a bearer token is required")
	}
	g, err := s.Authenticate(c.Request().Context(), raw)
	if errors.Is(err, ErrInvalidToken) {
		return apiErr(http.StatusUnauthorized, "invalid_token", "the bearer token is invalid, expired or revoked")
	}
	if err != nil {
		return err
	}
	return h(c, g)
}

// mintLaunch stores an EHR launch context and returns its id, after
// checking that the patient (and encounter) exist.
func (s *Server) mintLaunch(ctx context.Context, lc launchContext) (string, error) {
	if lc.Patient == "" {
		return "", apiErr(http.StatusBadRequest, "invalid_request", "patient is required")
	}
	if err := s.exists(ctx, "Patient", lc.Patient); err != nil {
		return "", err
	}
	if lc.Encounter != "" {
		if err := s.exists(ctx, "Encounter", lc.Encounter); err != nil {
			return "", err
		}
	}
	id, _ := newID()
	if err := s.putJSON(ctx, oauthstore.TicketLaunch, id, launchTTL, lc); err != nil {
		return "", err
	}
	return id, nil
}

func (s *Server) exists(ctx context.Context, typ, id string) error {
	if fhir.CheckID(id) != nil {
		return apiErr(http.StatusBadRequest, "invalid_request", typ+" id is not a valid FHIR id")
	}
	r, err := s.cfg.FHIR.Read(asServer(ctx, false), typ, id)
	if err != nil || r.Deleted {
		return apiErr(http.StatusBadRequest, "invalid_request", "there is no "+typ+" with that id")
	}
	return nil
}

// launchURL is the app's launch URL with iss and launch.
func (s *Server) launchURL(cl oauthstore.Client, launch string) (string, error) {
	u, err := url.Parse(cl.LaunchURL)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("iss", s.cfg.BaseURL)
	q.Set("launch", launch)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

type launchRequest struct {
	Patient   string `json:"patient"`
	Encounter string `json:"encounter,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
}

type launchResponse struct {
	Launch    string `json:"launch"`
	ISS       string `json:"iss"`
	LaunchURL string `json:"launch_url,omitempty"`
}

// launchAPI (POST /auth/launch) mints a launch id for the calling
// practitioner or admin, for an EHR (or a test) to open an app with.
func (s *Server) launchAPI(c echo.Context, g *access.Grant) error {
	if g.Role != access.RolePractitioner && g.Role != access.RoleAdmin {
		return apiErr(http.StatusForbidden, "insufficient_scope", "only practitioners and admins launch apps")
	}
	var req launchRequest
	if err := c.Bind(&req); err != nil {
		return apiErr(http.StatusBadRequest, "invalid_request", "the body must be JSON {patient, encounter, client_id}")
	}
	ctx := c.Request().Context()
	var cl oauthstore.Client
	if req.ClientID != "" {
		var err error
		cl, err = s.cfg.Store.Client(ctx, req.ClientID)
		if notFound(err) || (err == nil && (!s.allowClient(cl) || cl.LaunchURL == "")) {
			return apiErr(http.StatusBadRequest, "invalid_request", "client_id names no registered client with a launch URL")
		}
		if err != nil {
			return err
		}
	}
	id, err := s.mintLaunch(ctx, launchContext{Patient: req.Patient, Encounter: req.Encounter, User: g.Subject})
	if err != nil {
		return err
	}
	resp := launchResponse{Launch: id, ISS: s.cfg.BaseURL}
	if req.ClientID != "" {
		if resp.LaunchURL, err = s.launchURL(cl, id); err != nil {
			return err
		}
	}
	return c.JSON(http.StatusCreated, resp)
}

type launcherView struct {
	Action             string
	User               identity.User
	Clients            []oauthstore.Client
	Patient, Encounter string
	Error              string
	DevMode            bool
}

// launcherUser is the signed-in launcher user, or a redirect to sign in.
func (s *Server) launcherUser(c echo.Context) (identity.User, bool, error) {
	u, ok := s.sessionUser(c)
	if ok {
		return u, true, nil
	}
	id, _ := newID()
	if err := s.putJSON(c.Request().Context(), oauthstore.TicketRequest, id, requestTTL, pendingRequest{Return: s.url(pathLauncher)}); err != nil {
		return u, false, err
	}
	return u, false, c.Redirect(http.StatusSeeOther, s.url(pathLogin)+"?req="+url.QueryEscape(id))
}

func (s *Server) launcherView(ctx context.Context, u identity.User) (launcherView, error) {
	all, err := s.cfg.Store.Clients(ctx)
	if err != nil {
		return launcherView{}, err
	}
	v := launcherView{Action: s.url(pathLauncher), User: u, DevMode: s.DevMode()}
	for _, cl := range all {
		if cl.LaunchURL != "" && s.allowClient(cl) {
			v.Clients = append(v.Clients, cl)
		}
	}
	if s.DevMode() {
		v.Patient, v.Encounter = identity.DevPatientID, identity.DevEncounterID
	}
	return v, nil
}

// launcherPage is the EHR launcher: pick an app, a patient and an
// encounter, and open the app.
func (s *Server) launcherPage(c echo.Context) error {
	u, ok, err := s.launcherUser(c)
	if !ok || err != nil {
		return err
	}
	if u.Role != access.RolePractitioner && u.Role != access.RoleAdmin {
		return pageErr(http.StatusForbidden, "Not allowed", "Only practitioners and admins launch apps.")
	}
	v, err := s.launcherView(c.Request().Context(), u)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "launcher", v)
}

func (s *Server) launcher(c echo.Context) error {
	ctx := c.Request().Context()
	u, ok, err := s.launcherUser(c)
	if !ok || err != nil {
		return err
	}
	if u.Role != access.RolePractitioner && u.Role != access.RoleAdmin {
		return pageErr(http.StatusForbidden, "Not allowed", "Only practitioners and admins launch apps.")
	}
	fail := func(msg string) error {
		v, err := s.launcherView(ctx, u)
		if err != nil {
			return err
		}
		v.Patient, v.Encounter, v.Error = c.FormValue("patient"), c.FormValue("encounter"), msg
		return s.render(c, http.StatusBadRequest, "launcher", v)
	}
	cl, err := s.cfg.Store.Client(ctx, c.FormValue("client"))
	if notFound(err) || (err == nil && (!s.allowClient(cl) || cl.LaunchURL == "")) {
		return fail("Choose a registered application with a launch URL.")
	}
	if err != nil {
		return err
	}
	id, err := s.mintLaunch(ctx, launchContext{Patient: c.FormValue("patient"), Encounter: c.FormValue("encounter"), User: u.ID})
	var ae *apiError
	if errors.As(err, &ae) {
		return fail(ae.Message)
	}
	if err != nil {
		return err
	}
	target, err := s.launchURL(cl, id)
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, target)
}
