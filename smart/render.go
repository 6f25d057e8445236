package smart

import (
	"bytes"
	"embed"
	"html/template"

	"github.com/labstack/echo/v4"

	"github.com/telefhir/telefhir/smart/oauthstore"
)

//go:embed templates/*.html
var templateFiles embed.FS

var templates = template.Must(template.New("").ParseFS(templateFiles, "templates/*.html"))

// render writes the page template name with v.
func (s *Server) render(c echo.Context, status int, name string, v any) error {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, v); err != nil {
		return err
	}
	return c.HTMLBlob(status, b.Bytes())
}

func hashOf(secret string) string { return oauthstore.Hash(secret) }
