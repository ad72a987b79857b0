package server

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"tenantgraph/identity"
	"tenantgraph/tenancy"
	"tenantgraph/web"
)

// wantsGraphiQL reports whether a request to a GraphQL URL comes from a
// browser opening it as a page: a GET without a query that accepts
// text/html. Such a request gets GraphiQL instead of an error.
func wantsGraphiQL(r *http.Request) bool {
	if r.Method != http.MethodGet || r.URL.Query().Has("query") {
		return false
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && mt == "text/html" && params["q"] != "0" {
			return true
		}
	}
	return false
}

// graphiql serves GraphiQL for the country of the request (GET
// /country/{alias}/graphiql, or a browser opening a tenant's GraphQL URL).
// The page needs a signed-in user with a role in the country.
func (s *Server) graphiql(w http.ResponseWriter, r *http.Request) {
	p := s.pageUser(w, r)
	if p == nil {
		return
	}
	t, err := s.tenant(r)
	if errors.Is(err, tenancy.ErrNotFound) {
		http.Error(w, "No such country; check the alias in the URL.", http.StatusNotFound)
		return
	}
	if err != nil {
		s.logger.Error("tenant lookup", "err", err)
		http.Error(w, "The server cannot reach its database.", http.StatusServiceUnavailable)
		return
	}
	if !p.Can(t.ID, identity.RoleViewer) {
		http.Error(w, "You have no role in "+t.Name+": ask an administrator for one.", http.StatusForbidden)
		return
	}
	s.writeGraphiQL(w, r, web.GraphiQLData{Title: t.Name + " (" + t.Alias + ")", Endpoint: graphQLPath(r)})
}

// adminGraphiQL serves GraphiQL for the admin API (GET /admin/graphiql).
func (s *Server) adminGraphiQL(w http.ResponseWriter, r *http.Request) {
	if s.pageUser(w, r) == nil {
		return
	}
	s.writeGraphiQL(w, r, web.GraphiQLData{Title: "Administration", Endpoint: graphQLPath(r)})
}

// pageUser returns the signed-in caller of a page. An anonymous browser is
// sent to the sign-in page, which brings it back here afterwards; it
// returns nil then.
func (s *Server) pageUser(w http.ResponseWriter, r *http.Request) *identity.Principal {
	if p := identity.FromContext(r.Context()); p != nil {
		return p
	}
	if s.sessions == nil {
		http.Error(w, "Sign-in with a browser is off on this server.", http.StatusUnauthorized)
		return nil
	}
	http.Redirect(w, r, "/login?return="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	return nil
}

// graphQLPath is the GraphQL endpoint a GraphiQL page at r queries: the
// page's own URL for a GraphQL URL opened in a browser, else the sibling
// .../graphql of .../graphiql.
func graphQLPath(r *http.Request) string {
	p := r.URL.EscapedPath()
	if base, ok := strings.CutSuffix(p, "/graphiql"); ok {
		return base + "/graphql"
	}
	return p
}

func (s *Server) writeGraphiQL(w http.ResponseWriter, r *http.Request, d web.GraphiQLData) {
	var buf bytes.Buffer
	if err := web.GraphiQL(&buf, d); err != nil {
		s.logger.Error("render GraphiQL", "err", err)
		http.Error(w, "GraphiQL is missing from this build.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", web.GraphiQLPolicy)
	h.Set("Cache-Control", "no-cache")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(buf.Bytes())
}

// routeGraphiQL registers the GraphiQL pages and the bundle they load.
func (s *Server) routeGraphiQL() {
	s.mux.HandleFunc("GET /country/{alias}/graphiql", s.graphiql)
	if s.admin != nil {
		s.mux.HandleFunc("GET /admin/graphiql", s.adminGraphiQL)
	}
	s.mux.Handle("GET "+web.AssetPrefix, web.Assets())
}
