package smart

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/resource"
	"github.com/telefhir/telefhir/smart/access"
	"github.com/telefhir/telefhir/smart/identity"
	"github.com/telefhir/telefhir/smart/scope"
)

// categories are the category sub-scopes the consent screen offers for
// Observation and Condition (SMART v2 granular scopes).
var categories = map[string][]category{
	"Observation": {
		{"http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs", "Vital signs"},
		{"http://terminology.hl7.org/CodeSystem/observation-category", "laboratory", "Laboratory results"},
		{"http://terminology.hl7.org/CodeSystem/observation-category", "social-history", "Social history"},
		{"http://terminology.hl7.org/CodeSystem/observation-category", "survey", "Surveys and assessments"},
		{"http://terminology.hl7.org/CodeSystem/observation-category", "exam", "Examination findings"},
		{"http://terminology.hl7.org/CodeSystem/observation-category", "imaging", "Imaging results"},
		{"http://terminology.hl7.org/CodeSystem/observation-category", "activity", "Activity"},
	},
	"Condition": {
		{"http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item", "Problem list"},
		{"http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis", "Encounter diagnoses"},
		{"http://hl7.org/fhir/us/core/CodeSystem/condition-category", "health-concern", "Health concerns"},
	},
}

type category struct{ System, Code, Label string }

func (c category) token() string { return c.System + "|" + c.Code }

type permView struct {
	Letter, Label string
}

type scopeView struct {
	Index      int
	Text       string
	Level      string
	Type       string
	Perms      []permView
	Categories []category
}

type patientOption struct {
	ID, Name string
}

type consentView struct {
	Req             string
	Action          string
	Client          string
	ClientID        string
	User            identity.User
	Scopes          []scopeView
	Identity        bool
	Launch          bool
	Offline, Online bool
	NeedPatient     bool
	Patients        []patientOption
	LaunchPatient   string
	LaunchEncounter string
	Error           string
	DevMode         bool
}

var permLabels = []struct {
	p     scope.Permission
	l     string
	label string
}{
	{scope.Create, "c", "create"}, {scope.Read, "r", "read"}, {scope.Update, "u", "update"},
	{scope.Delete, "d", "delete"}, {scope.Search, "s", "search"},
}

func (s *Server) consentView(ctx context.Context, id string, req pendingRequest, granted scope.Set) (consentView, error) {
	v := consentView{
		Req: id, Action: s.url(pathConsent), Client: s.clientName(ctx, req.ClientID), ClientID: req.ClientID, User: *req.User,
		Identity: granted.OpenID || granted.FHIRUser, Launch: granted.Launch || granted.LaunchPatient || granted.LaunchEncounter,
		Offline: granted.OfflineAccess, Online: granted.OnlineAccess, DevMode: s.DevMode(),
	}
	if req.Launch != nil {
		v.LaunchPatient, v.LaunchEncounter = req.Launch.Patient, req.Launch.Encounter
	}
	for i, r := range granted.Resources {
		sv := scopeView{Index: i, Text: r.String(), Level: string(r.Level), Type: r.Type}
		for _, p := range permLabels {
			if r.Perms.Has(p.p) {
				sv.Perms = append(sv.Perms, permView{p.l, p.label})
			}
		}
		if len(r.Filter) == 0 {
			sv.Categories = categories[r.Type]
		}
		v.Scopes = append(v.Scopes, sv)
	}
	if needsPatientChoice(req, granted) && ownPatient(*req.User) == "" {
		v.NeedPatient = true
		opts, err := s.patientOptions(ctx, *req.User)
		if err != nil {
			return v, err
		}
		v.Patients = opts
	}
	return v, nil
}

// patientOptions are the patients the user may pick: their allowed
// patients, or (practitioners and admins without a list) the first 50 in
// the store.
func (s *Server) patientOptions(ctx context.Context, u identity.User) ([]patientOption, error) {
	var out []patientOption
	if len(u.Patients) > 0 {
		for _, id := range u.Patients {
			name := id
			if r, err := s.cfg.FHIR.Read(asServer(ctx, false), "Patient", id); err == nil {
				name = patientName(r.Body, id)
			}
			out = append(out, patientOption{id, name})
		}
		return out, nil
	}
	if u.Role != access.RolePractitioner && u.Role != access.RoleAdmin {
		return nil, nil
	}
	res, err := s.cfg.FHIR.Search(asServer(ctx, false), fhir.SearchRequest{Type: "Patient", Params: url.Values{"_count": {"50"}}, DefaultCount: 50, MaxCount: 50})
	if err != nil {
		return nil, err
	}
	for _, m := range res.Page.Matches {
		out = append(out, patientOption{m.ID, patientName(m.Body, m.ID)})
	}
	return out, nil
}

// patientName renders "Given Family (id)" from a Patient's JSON.
func patientName(body []byte, id string) string {
	var p struct {
		Name []struct {
			Text   string   `json:"text"`
			Family string   `json:"family"`
			Given  []string `json:"given"`
		} `json:"name"`
		BirthDate string `json:"birthDate"`
	}
	if json.Unmarshal(body, &p) != nil || len(p.Name) == 0 {
		return id
	}
	n := p.Name[0]
	name := n.Text
	if name == "" {
		for _, g := range n.Given {
			name += g + " "
		}
		name += n.Family
	}
	if p.BirthDate != "" {
		name += ", born " + p.BirthDate
	}
	return name + " (" + id + ")"
}

func (s *Server) consentPage(c echo.Context) error {
	id, req, err := s.pending(c)
	if err != nil {
		return err
	}
	if req.User == nil {
		return s.proceed(c, id, req)
	}
	granted, err := scope.ParseSet(req.Scope)
	if err != nil {
		return err
	}
	v, err := s.consentView(c.Request().Context(), id, req, granted)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "consent", v)
}

// consent applies the user's decision: what they unticked or narrowed is
// not granted.
func (s *Server) consent(c echo.Context) error {
	ctx := c.Request().Context()
	id, req, err := s.pending(c)
	if err != nil {
		return err
	}
	if req.User == nil {
		return s.proceed(c, id, req)
	}
	if c.FormValue("decision") != "allow" {
		if err := s.cfg.Store.DeleteTicket(ctx, "request", hashOf(id)); err != nil {
			return err
		}
		return s.redirectError(c, req.RedirectURI, req.State, oauthErr(0, "access_denied", "the user denied the request"))
	}
	offered, err := scope.ParseSet(req.Scope)
	if err != nil {
		return err
	}
	form, err := c.FormParams()
	if err != nil {
		return pageErr(http.StatusBadRequest, "Invalid form", "The consent form could not be read.")
	}
	granted := narrowByForm(offered, form)
	patient := ""
	if needsPatientChoice(req, granted) && ownPatient(*req.User) == "" {
		patient = form.Get("patient")
		problem := ""
		switch {
		case patient == "":
			problem = "Choose the patient the application may work with."
		case len(req.User.Patients) > 0 && !slices.Contains(req.User.Patients, patient):
			problem = "You may not choose that patient."
		default:
			if r, err := s.cfg.FHIR.Read(asServer(ctx, false), "Patient", patient); err != nil || r.Deleted {
				problem = "There is no patient with that id."
			}
		}
		if problem != "" {
			v, err := s.consentView(ctx, id, req, offered)
			if err != nil {
				return err
			}
			v.Error = problem
			return s.render(c, http.StatusBadRequest, "consent", v)
		}
	}
	return s.issueCode(c, id, req, granted, patient)
}

// typesOf reads the consent form's list of resource types (comma or space
// separated), keeping R4 types only, each once.
func typesOf(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if resource.IsType(f) && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// narrowByForm keeps what the consent form left ticked: resource scopes
// (s<i>), their permissions (p<i>), the types a wildcard scope is limited
// to (types<i>), category sub-scopes (cat<i>) and offline/online access.
func narrowByForm(offered scope.Set, form url.Values) scope.Set {
	out := offered
	out.Resources = nil
	out.OfflineAccess = offered.OfflineAccess && form.Get("offline") == "on"
	out.OnlineAccess = offered.OnlineAccess && form.Get("online") == "on"
	for i, r := range offered.Resources {
		n := strconv.Itoa(i)
		if form.Get("s"+n) != "on" {
			continue
		}
		var p scope.Permission
		for _, l := range form["p"+n] {
			for _, pl := range permLabels {
				if pl.l == l {
					p |= pl.p
				}
			}
		}
		p &= r.Perms
		if p == 0 {
			continue
		}
		kept := r
		kept.Perms = p
		kept.V1 = r.V1 && p == r.Perms
		if r.Type == "*" {
			if types := typesOf(form.Get("types" + n)); len(types) > 0 {
				for _, typ := range types {
					one := kept
					one.Type = typ
					out.Resources = append(out.Resources, one)
				}
				continue
			}
			if strings.TrimSpace(form.Get("types"+n)) != "" {
				continue // only unknown names: nothing of this scope is granted
			}
		}
		cats := form["cat"+n]
		if len(cats) == 0 || len(r.Filter) > 0 {
			out.Resources = append(out.Resources, kept)
			continue
		}
		for _, tok := range cats {
			for _, known := range categories[r.Type] {
				if known.token() == tok {
					f := kept
					f.V1 = false
					f.Filter = url.Values{"category": {tok}}
					out.Resources = append(out.Resources, f)
				}
			}
		}
	}
	return out
}
