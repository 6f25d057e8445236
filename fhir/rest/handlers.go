package rest

import (
	"bytes"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/telefhir/telefhir/fhir"
	"github.com/telefhir/telefhir/fhir/outcome"
	"github.com/telefhir/telefhir/fhir/store"
)

func (a *API) metadata(c echo.Context) error {
	return writeJSON(c, http.StatusOK, a.capability)
}

func (a *API) read(c echo.Context) error {
	r, err := a.svc.Read(c.Request().Context(), c.Param("type"), c.Param("id"))
	if err != nil {
		return err
	}
	if notModified(c.Request(), r) {
		versionHeaders(c, r)
		return c.NoContent(http.StatusNotModified)
	}
	return writeResource(c, http.StatusOK, r)
}

func (a *API) vread(c echo.Context) error {
	r, err := a.svc.VRead(c.Request().Context(), c.Param("type"), c.Param("id"), c.Param("vid"))
	if err != nil {
		return err
	}
	if notModified(c.Request(), r) {
		versionHeaders(c, r)
		return c.NoContent(http.StatusNotModified)
	}
	return writeResource(c, http.StatusOK, r)
}

func (a *API) create(c echo.Context) error {
	typ := c.Param("type")
	if err := fhir.CheckType(typ); err != nil {
		return err
	}
	body, err := readBody(c, a.cfg.MaxBodyBytes, mimeFHIRJSON, mimeJSON)
	if err != nil {
		return err
	}
	if ine := c.Request().Header.Get("If-None-Exist"); ine != "" {
		criteria, err := url.ParseQuery(strings.TrimPrefix(ine, "?"))
		if err != nil {
			return outcome.New(outcome.KindInvalid, "If-None-Exist must be search parameters such as identifier=urn:mrn|123: %v", err)
		}
		res, err := a.svc.CreateIfNoneExist(c.Request().Context(), typ, body, criteria)
		if err != nil {
			return err
		}
		if !res.Created {
			return a.writeWrite(c, http.StatusOK, res)
		}
		return a.writeWrite(c, http.StatusCreated, res)
	}
	res, err := a.svc.Create(c.Request().Context(), typ, body)
	if err != nil {
		return err
	}
	return a.writeWrite(c, http.StatusCreated, res)
}

// conditionalUpdate is PUT [type]?criteria.
func (a *API) conditionalUpdate(c echo.Context) error {
	typ := c.Param("type")
	pre, err := preconditions(c.Request())
	if err != nil {
		return err
	}
	if err := fhir.CheckType(typ); err != nil {
		return err
	}
	body, err := readBody(c, a.cfg.MaxBodyBytes, mimeFHIRJSON, mimeJSON)
	if err != nil {
		return err
	}
	res, err := a.svc.ConditionalUpdate(c.Request().Context(), typ, body, c.QueryParams(), pre)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	return a.writeWrite(c, status, res)
}

// conditionalDelete is DELETE [type]?criteria.
func (a *API) conditionalDelete(c echo.Context) error {
	deleted, err := a.svc.ConditionalDelete(c.Request().Context(), c.Param("type"), c.QueryParams())
	if err != nil {
		return err
	}
	if len(deleted) == 1 {
		c.Response().Header().Set("ETag", etag(deleted[0].VersionID))
	}
	if preferOf(c.Request()) == returnOutcome {
		return writeValue(c, http.StatusOK, outcome.Info("Deleted %d %s resource(s)", len(deleted), c.Param("type")))
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *API) update(c echo.Context) error {
	typ, id := c.Param("type"), c.Param("id")
	pre, err := preconditions(c.Request())
	if err != nil {
		return err
	}
	if err := fhir.CheckType(typ); err != nil {
		return err
	}
	body, err := readBody(c, a.cfg.MaxBodyBytes, mimeFHIRJSON, mimeJSON)
	if err != nil {
		return err
	}
	res, err := a.svc.Update(c.Request().Context(), typ, id, body, pre)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	return a.writeWrite(c, status, res)
}

func (a *API) patch(c echo.Context) error {
	typ, id := c.Param("type"), c.Param("id")
	pre, err := preconditions(c.Request())
	if err != nil {
		return err
	}
	if err := fhir.CheckType(typ); err != nil {
		return err
	}
	body, err := readBody(c, a.cfg.MaxBodyBytes, mimeJSONPatch, mimeFHIRJSON, mimeJSON)
	if err != nil {
		return err
	}
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get("Content-Type")) // readBody checked it
	var res fhir.Result
	switch {
	case mt == "":
		return outcome.New(outcome.KindUnsupportedMediaType, "PATCH needs a Content-Type: %s for JSON Patch, %s for FHIRPath Patch", mimeJSONPatch, mimeFHIRJSON)
	case mt == mimeJSONPatch, mt == mimeJSON && isJSONArray(body):
		res, err = a.svc.Patch(c.Request().Context(), typ, id, body, pre)
	default:
		res, err = a.svc.FHIRPathPatch(c.Request().Context(), typ, id, body, pre)
	}
	if err != nil {
		return err
	}
	return a.writeWrite(c, http.StatusOK, res)
}

// isJSONArray reports whether body starts like a JSON array: a JSON Patch
// sent as plain application/json, where a FHIRPath Patch is an object.
func isJSONArray(body []byte) bool {
	b := bytes.TrimLeft(body, " \t\r\n")
	return len(b) > 0 && b[0] == '['
}

func (a *API) delete(c echo.Context) error {
	pre, err := preconditions(c.Request())
	if err != nil {
		return err
	}
	res, err := a.svc.Delete(c.Request().Context(), c.Param("type"), c.Param("id"), pre)
	if err != nil {
		return err
	}
	if !res.Unchanged {
		c.Response().Header().Set("ETag", etag(res.Resource.VersionID))
	}
	if preferOf(c.Request()) == returnOutcome {
		msg := "Deleted " + res.Resource.Type + "/" + res.Resource.ID
		if res.Unchanged {
			msg = "Nothing to delete: " + c.Param("type") + "/" + c.Param("id") + " does not exist or is already deleted"
		}
		return writeValue(c, http.StatusOK, outcome.Info("%s", msg))
	}
	return c.NoContent(http.StatusNoContent)
}

// writeWrite answers a successful create/update/patch according to Prefer.
func (a *API) writeWrite(c echo.Context, status int, res fhir.Result) error {
	r := res.Resource
	loc := a.cfg.BaseURL + "/" + r.Type + "/" + r.ID + "/_history/" + strconv.FormatInt(r.VersionID, 10)
	h := c.Response().Header()
	if status == http.StatusCreated {
		h.Set(echo.HeaderLocation, loc)
	}
	h.Set("Content-Location", loc)
	versionHeaders(c, r)
	switch preferOf(c.Request()) {
	case returnMinimal:
		return c.NoContent(status)
	case returnOutcome:
		verb := "Updated"
		if res.Created {
			verb = "Created"
		}
		return writeValue(c, status, outcome.Info("%s %s/%s version %d", verb, r.Type, r.ID, r.VersionID))
	}
	return writeJSON(c, status, r.Body)
}

// preconditions reads If-Match and If-None-Match.
func preconditions(r *http.Request) (fhir.Preconditions, error) {
	return fhir.ParsePreconditions(r.Header.Get("If-Match"), r.Header.Get("If-None-Match"))
}

func parseETag(v string) (int64, bool) { return fhir.ParseETag(v) }

// notModified evaluates If-None-Match and If-Modified-Since against r.
func notModified(req *http.Request, r store.Resource) bool {
	return fhir.NotModified(req.Header.Get("If-None-Match"), req.Header.Get("If-Modified-Since"), r)
}
