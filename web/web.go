// Package web holds the pages the server shows to people: the sign-in page
// and GraphiQL, embedded in the binary so nothing is fetched from elsewhere.
package web

import (
	"embed"
	"html/template"
	"io"
)

//go:embed login.html graphiql.html
var files embed.FS

var loginPage = template.Must(template.ParseFS(files, "login.html"))

// LoginData fills the sign-in page.
type LoginData struct {
	// Return is the local path to go back to after signing in.
	Return string
	// Failed says the last attempt was refused.
	Failed bool
	// OIDC shows "Sign in with Google".
	OIDC bool
}

// Login writes the sign-in page.
func Login(w io.Writer, d LoginData) error { return loginPage.Execute(w, d) }
