package rest

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/telefhir/telefhir/conformance"
	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/search"
)

// Config tunes the REST API.
type Config struct {
	// BaseURL is the public FHIR base (no trailing slash), used in Location
	// headers, fullUrls and paging links.
	BaseURL string
	// MaxBodyBytes caps request bodies after gzip inflation.
	MaxBodyBytes int64
	// MaxBundleBytes caps the body of a transaction or batch Bundle (POST
	// to the base) after gzip inflation, and MaxBundleEntries its entries.
	MaxBundleBytes   int64
	MaxBundleEntries int
	// DefaultCount and MaxCount bound the page size of history Bundles.
	DefaultCount, MaxCount int
	// Software names this server in the CapabilityStatement.
	Software conformance.Software
	// Started is when the server started (CapabilityStatement.date).
	Started time.Time
	// Security is the CapabilityStatement's rest.security (SMART endpoints,
	// or a warning that authorization is off); nil leaves it out.
	Security *conformance.Security
	// Operations are operations other packages provide (subscriptions'
	// $status, ...): registered beside the FHIR routes with the same
	// content negotiation, and listed in the CapabilityStatement.
	Operations []Operation
	// SubscriptionTopics are the canonical URLs of the supported
	// subscription topics, for the CapabilityStatement.
	SubscriptionTopics []string
}

// Operation is one FHIR operation route served by another package.
type Operation struct {
	Method string
	// Path is the route under the FHIR base ("/Subscription/:id/$status").
	Path string
	// Type is the resource type the operation is defined on, and Def its
	// name and definition for the CapabilityStatement.
	Type string
	Def  conformance.Operation
	// Handler serves it; it renders with WriteJSON and returns errors
	// (*outcome.Error) for the API's error handler to render.
	Handler echo.HandlerFunc
}

// WriteJSON writes body (FHIR JSON) with the response format negotiated
// for the request (_format, Accept, _pretty).
func WriteJSON(c echo.Context, status int, body []byte) error { return writeJSON(c, status, body) }

func (c *Config) defaults() {
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 16 << 20
	}
	if c.MaxBundleBytes <= 0 {
		c.MaxBundleBytes = 32 << 20
	}
	if c.MaxBundleEntries <= 0 {
		c.MaxBundleEntries = fhir.DefaultMaxBundleEntries
	}
	if c.DefaultCount <= 0 {
		c.DefaultCount = 50
	}
	if c.MaxCount <= 0 {
		c.MaxCount = 1000
	}
	if c.DefaultCount > c.MaxCount {
		c.DefaultCount = c.MaxCount
	}
	if c.Started.IsZero() {
		c.Started = time.Now()
	}
}

// API is the FHIR REST API.
type API struct {
	svc        *fhir.Service
	cfg        Config
	capability []byte
}

// route is one FHIR interaction at one URL pattern. The CapabilityStatement
// is generated from this table, so /metadata lists exactly what Register
// installs.
type route struct {
	method      string
	path        string
	interaction string
	level       conformance.Level
	handler     func(*API, echo.Context) error
	// operation, for routes of an operation: the type it is defined on
	// and its definition.
	operation *typeOperation
}

type typeOperation struct {
	typ string
	op  conformance.Operation
}

var everythingOp = &typeOperation{"Patient", conformance.Operation{Name: "everything", Definition: "http://hl7.org/fhir/OperationDefinition/Patient-everything"}}

var routes = []route{
	{http.MethodGet, "/metadata", "capabilities", conformance.LevelSystem, (*API).metadata, nil},
	{http.MethodGet, "/_history", "history-system", conformance.LevelSystem, (*API).historySystem, nil},
	{http.MethodGet, "/", "search-system", conformance.LevelSystem, (*API).searchSystem, nil},
	{http.MethodPost, "/", "transaction", conformance.LevelSystem, (*API).bundle, nil},
	{http.MethodPost, "/", "batch", conformance.LevelSystem, (*API).bundle, nil},
	{http.MethodPost, "/_search", "search-system", conformance.LevelSystem, (*API).searchSystem, nil},
	{http.MethodGet, "/:type", "search-type", conformance.LevelType, (*API).searchType, nil},
	{http.MethodPost, "/:type/_search", "search-type", conformance.LevelType, (*API).searchType, nil},
	{http.MethodGet, "/:ctype/:cid/:type", "search-type", conformance.LevelType, (*API).searchCompartment, nil},
	{http.MethodPut, "/:type", "update", conformance.LevelType, (*API).conditionalUpdate, nil},
	{http.MethodDelete, "/:type", "delete", conformance.LevelType, (*API).conditionalDelete, nil},
	{http.MethodPost, "/:type", "create", conformance.LevelType, (*API).create, nil},
	{http.MethodGet, "/:type/_history", "history-type", conformance.LevelType, (*API).historyType, nil},
	{http.MethodGet, "/:type/:id", "read", conformance.LevelInstance, (*API).read, nil},
	{http.MethodGet, "/:type/:id/_history/:vid", "vread", conformance.LevelInstance, (*API).vread, nil},
	{http.MethodPut, "/:type/:id", "update", conformance.LevelInstance, (*API).update, nil},
	{http.MethodPatch, "/:type/:id", "patch", conformance.LevelInstance, (*API).patch, nil},
	{http.MethodDelete, "/:type/:id", "delete", conformance.LevelInstance, (*API).delete, nil},
	{http.MethodGet, "/:type/:id/_history", "history-instance", conformance.LevelInstance, (*API).historyInstance, nil},
	{http.MethodGet, "/:type/:id/$everything", "", conformance.LevelInstance, (*API).everything, everythingOp},
	{http.MethodPost, "/:type/$validate", "", conformance.LevelType, (*API).validate, validateOp},
	{http.MethodPost, "/:type/:id/$validate", "", conformance.LevelInstance, (*API).validate, validateOp},
	{http.MethodGet, "/:type/:id/$validate", "", conformance.LevelInstance, (*API).validate, validateOp},
}

// New builds the API over svc.
func New(svc *fhir.Service, cfg Config) (*API, error) {
	cfg.defaults()
	a := &API{svc: svc, cfg: cfg}
	caps := make([]conformance.Interaction, 0, len(routes))
	ops := map[string][]conformance.Operation{}
	for _, r := range routes {
		if r.operation != nil {
			addOperation(ops, r.operation)
			continue
		}
		caps = append(caps, conformance.Interaction{Code: r.interaction, Level: r.level})
	}
	for _, op := range cfg.Operations {
		if !slices.Contains(ops[op.Type], op.Def) {
			ops[op.Type] = append(ops[op.Type], op.Def)
		}
	}
	b, err := conformance.Build(conformance.Options{
		BaseURL:            cfg.BaseURL,
		Software:           cfg.Software,
		Date:               cfg.Started,
		Interactions:       caps,
		PatchFormats:       []string{mimeJSONPatch, mimeFHIRJSON},
		SearchParams:       searchParams(svc.Registry),
		Operations:         ops,
		Security:           cfg.Security,
		SubscriptionTopics: cfg.SubscriptionTopics,
		Compartments:       compartments(svc.Registry),
		Conditional: conformance.Conditional{
			Create: svc.Registry != nil, Update: svc.Registry != nil,
			Delete: conditionalDeleteMode(svc),
		},
	})
	if err != nil {
		return nil, err
	}
	a.capability = b
	return a, nil
}

// Register installs the FHIR routes on g (an *echo.Echo or *echo.Group at
// the FHIR base).
func (a *API) Register(g interface {
	Add(method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
},
) {
	added := map[string]bool{}
	for _, r := range routes {
		if added[r.method+" "+r.path] {
			continue // a second interaction at the same URL (transaction and batch)
		}
		added[r.method+" "+r.path] = true
		h := r.handler
		g.Add(r.method, r.path, func(c echo.Context) error { return h(a, c) }, negotiate)
		if r.method == http.MethodGet {
			g.Add(http.MethodHead, r.path, func(c echo.Context) error { return h(a, c) }, negotiate)
		}
	}
	for _, op := range a.cfg.Operations {
		g.Add(op.Method, op.Path, op.Handler, negotiate)
	}
}

// searchParams lists the supported search parameters per type for the
// CapabilityStatement.
func searchParams(reg *search.Registry) map[string][]conformance.SearchParam {
	if reg == nil {
		return nil
	}
	out := map[string][]conformance.SearchParam{}
	for _, t := range reg.Types() {
		for _, p := range reg.Params(t) {
			if !p.Supported() {
				continue
			}
			out[t] = append(out[t], conformance.SearchParam{Name: p.Code, Definition: p.URL, Type: string(p.Type)})
		}
	}
	return out
}

func compartments(reg *search.Registry) []string {
	if reg == nil {
		return nil
	}
	var out []string
	for _, c := range reg.CompartmentTypes() {
		out = append(out, "http://hl7.org/fhir/CompartmentDefinition/"+strings.ToLower(c))
	}
	return out
}

func conditionalDeleteMode(svc *fhir.Service) string {
	switch {
	case svc.Registry == nil:
		return "not-supported"
	case svc.ConditionalDeleteMultiple:
		return "multiple"
	}
	return "single"
}
