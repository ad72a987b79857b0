package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"tenantgraph/identity"
	"tenantgraph/schema"
	"tenantgraph/tenancy"
)

// Media types of GraphQL over HTTP.
const (
	mediaGraphQLResponse = "application/graphql-response+json"
	mediaJSON            = "application/json"
)

// gqlError writes a response holding one error and no data.
func gqlError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	writeErrors(w, r, status, map[string]any{"message": msg, "extensions": map[string]any{"code": code}})
}

// writeErrors writes a response of errors alone.
func writeErrors(w http.ResponseWriter, r *http.Request, status int, errs ...map[string]any) {
	w.Header().Set("Content-Type", responseType(r))
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": errs})
}

// responseType picks the response media type from Accept: the GraphQL
// response type when the client names it (and not with q=0), JSON
// otherwise.
func responseType(r *http.Request) string {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && mt == mediaGraphQLResponse && !zeroQuality(params["q"]) {
			return mediaGraphQLResponse + "; charset=utf-8"
		}
	}
	return mediaJSON + "; charset=utf-8"
}

// errNoTenant is tenant's error for a request that names no country.
var errNoTenant = fmt.Errorf("%w: the request names no country", tenancy.ErrNotFound)

// tenant finds the request's tenant: the path's {alias} first, then the
// X-Tenant header, then a subdomain of the base domain.
func (s *Server) tenant(r *http.Request) (*tenancy.Tenant, error) {
	alias := requestAlias(r, s.baseDomain)
	if alias == "" {
		return nil, errNoTenant
	}
	t, err := s.tenants.Lookup(r.Context(), alias)
	if info := infoFrom(r.Context()); info != nil && err == nil {
		info.tenant = t.Alias
	}
	return t, err
}

// requestAlias is the alias a request names, or "".
func requestAlias(r *http.Request, baseDomain string) string {
	alias := r.PathValue("alias")
	if alias == "" {
		alias = r.Header.Get("X-Tenant")
	}
	if alias == "" && baseDomain != "" {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if sub, ok := strings.CutSuffix(strings.ToLower(host), "."+baseDomain); ok && !strings.Contains(sub, ".") {
			alias = sub
		}
	}
	return alias
}

// allowedTenant checks the caller (allowed), then finds the request's
// country, writing the error response itself when either fails. The caller
// comes first, so an anonymous client cannot tell which aliases exist.
func (s *Server) allowedTenant(w http.ResponseWriter, r *http.Request) (*tenancy.Tenant, bool) {
	if !s.allowed(w, r) {
		return nil, false
	}
	t, err := s.tenant(r)
	if errors.Is(err, tenancy.ErrNotFound) {
		s.noTenant(w, r, err)
		return nil, false
	}
	if err != nil {
		s.logger.Error("tenant lookup", "err", err)
		gqlError(w, r, http.StatusServiceUnavailable, schema.CodeInternal, "the server cannot reach its database")
		return nil, false
	}
	return t, true
}

// noTenant answers 404 for a request whose country is unknown, or that
// names none.
func (s *Server) noTenant(w http.ResponseWriter, r *http.Request, err error) {
	msg := "no country has the alias this request names"
	switch alias := requestAlias(r, s.baseDomain); {
	case errors.Is(err, errNoTenant):
		msg = "say which country: use /country/{alias}/graphql or send the X-Tenant header"
	case len(alias) <= 64:
		msg = fmt.Sprintf("no country has alias %q", alias)
	}
	gqlError(w, r, http.StatusNotFound, schema.CodeNotFound, msg)
}

// decodeRequest reads a GraphQL request from a GET query string or a POST
// JSON body. It writes the error response itself and returns false when the
// request is unusable.
func (s *Server) decodeRequest(w http.ResponseWriter, r *http.Request) (schema.Request, bool) {
	var req schema.Request
	var raw struct {
		Query         *string         `json:"query"`
		OperationName *string         `json:"operationName"`
		Variables     json.RawMessage `json:"variables"`
		Extensions    json.RawMessage `json:"extensions"`
	}
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		if q.Has("query") {
			v := q.Get("query")
			raw.Query = &v
		}
		if v := q.Get("operationName"); v != "" {
			raw.OperationName = &v
		}
		if v := q.Get("variables"); v != "" {
			raw.Variables = json.RawMessage(v)
		}
		if v := q.Get("extensions"); v != "" {
			raw.Extensions = json.RawMessage(v)
		}
	case http.MethodPost:
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || (mt != mediaJSON && mt != "application/graphql+json") {
			gqlError(w, r, http.StatusUnsupportedMediaType, schema.CodeBadUserInput,
				"send the request as JSON with Content-Type: application/json")
			return req, false
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			gqlError(w, r, http.StatusUnsupportedMediaType, schema.CodeBadUserInput,
				"send the request body in UTF-8 (charset="+cs+" is not supported)")
			return req, false
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			gqlError(w, r, http.StatusRequestEntityTooLarge, schema.CodeBadUserInput,
				"the request body is larger than the limit of "+itoa(s.maxBody)+" bytes")
			return req, false
		}
		if err != nil {
			gqlError(w, r, http.StatusBadRequest, schema.CodeBadUserInput, "could not read the request body")
			return req, false
		}
		if !utf8.Valid(body) {
			gqlError(w, r, http.StatusBadRequest, schema.CodeBadUserInput, "the request body is not valid UTF-8")
			return req, false
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&raw); err != nil || dec.More() {
			gqlError(w, r, http.StatusBadRequest, schema.CodeBadUserInput, bodyError(err))
			return req, false
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		gqlError(w, r, http.StatusMethodNotAllowed, schema.CodeBadUserInput, "use GET or POST")
		return req, false
	}
	// encoding/json and url decoding turn invalid UTF-8 into U+FFFD or
	// keep it as it is; either way a client's bytes would be stored other
	// than they were sent, so such requests are refused.
	if !validUTF8(raw.Query, raw.OperationName) || !utf8.Valid(raw.Variables) || !utf8.Valid(raw.Extensions) {
		gqlError(w, r, http.StatusBadRequest, schema.CodeBadUserInput, "the request is not valid UTF-8")
		return req, false
	}
	if raw.Query == nil || strings.TrimSpace(*raw.Query) == "" {
		gqlError(w, r, http.StatusBadRequest, schema.CodeBadUserInput, "the request has no query")
		return req, false
	}
	req.Query = *raw.Query
	if raw.OperationName != nil {
		req.OperationName = *raw.OperationName
	}
	if len(raw.Variables) > 0 && string(raw.Variables) != "null" {
		dec := json.NewDecoder(bytes.NewReader(raw.Variables))
		dec.UseNumber()
		if err := dec.Decode(&req.Variables); err != nil {
			gqlError(w, r, http.StatusBadRequest, schema.CodeBadUserInput, "variables must be a JSON object")
			return req, false
		}
	}
	if len(raw.Extensions) > 0 && string(raw.Extensions) != "null" {
		var ext map[string]any
		if err := json.Unmarshal(raw.Extensions, &ext); err != nil {
			gqlError(w, r, http.StatusBadRequest, schema.CodeBadUserInput, "extensions must be a JSON object")
			return req, false
		}
	}
	return req, true
}

// graphql serves one tenant's GraphQL endpoint, and GraphiQL to a browser
// that opens it as a page.
func (s *Server) graphql(w http.ResponseWriter, r *http.Request) {
	if wantsGraphiQL(r) {
		s.graphiql(w, r)
		return
	}
	t, ok := s.allowedTenant(w, r)
	if !ok {
		return
	}
	req, ok := s.decodeRequest(w, r)
	if !ok {
		return
	}
	if t, ok = s.awaitVersion(w, r, t); !ok {
		return
	}
	built, err := s.registry.Get(r.Context(), t)
	if errors.Is(err, tenancy.ErrNotFound) {
		// Dropped since the directory cached it.
		s.tenants.Forget(t.ID)
		s.noTenant(w, r, err)
		return
	}
	if err != nil {
		s.logger.Error("schema build", "tenant", t.Alias, "err", err)
		gqlError(w, r, http.StatusInternalServerError, schema.CodeInternal, "the country's API could not be built")
		return
	}
	resp := built.Execute(r.Context(), s.db, req, r.Method == http.MethodPost)
	if resp.Retryable && hasCode(resp, schema.CodeSchemaChanged) {
		// The schema changed under the request: run it once more on the
		// tenant's newest schema (a change of shape publishes it before
		// its mutation returns; another replica's, when we hear of it).
		if nt, err := s.tenants.Refresh(r.Context(), t.Alias); err == nil {
			if nb, err := s.registry.Get(r.Context(), nt); err == nil && nb != built {
				resp = nb.Execute(r.Context(), s.db, req, r.Method == http.MethodPost)
			}
		}
	}
	s.metrics.request(t.Alias, outcome(resp))
	s.writeResponse(w, r, resp)
}

// bodyError says what is wrong with a request body that did not decode,
// in the client's terms rather than encoding/json's (which names Go
// types). err is nil when a JSON value was followed by more data.
func bodyError(err error) string {
	const shape = `a JSON object of the form {"query": "...", "variables": {...}}`
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return "the body holds more than one JSON value; send " + shape
	case strings.Contains(err.Error(), "exceeded max depth"):
		// encoding/json stops at 10,000 levels of nesting.
		return "the body nests JSON more than 10000 levels deep"
	case errors.As(err, &syntax):
		return fmt.Sprintf("the body is not valid JSON (byte %d: %s); send %s",
			syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "), shape)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Sprintf("the body's %q must be %s, not a JSON %s; send %s",
			typ.Field, fieldShape[typ.Field], typ.Value, shape)
	case errors.As(err, &typ):
		return fmt.Sprintf("the body is a JSON %s; send %s", typ.Value, shape)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return "the body ends before its JSON does; send " + shape
	}
	return "the body is not " + shape
}

// fieldShape is what each field of a GraphQL request body must be.
var fieldShape = map[string]string{
	"query":         "a string",
	"operationName": "a string",
	"variables":     "an object",
	"extensions":    "an object",
}

// validUTF8 reports whether every non-nil string is valid UTF-8.
func validUTF8(ss ...*string) bool {
	for _, s := range ss {
		if s != nil && !utf8.ValidString(*s) {
			return false
		}
	}
	return true
}

// outcome labels a response for the request metrics.
func outcome(resp *schema.Response) string {
	switch {
	case resp.Stage != schema.StageExecuted:
		return "rejected"
	case len(resp.Errors) > 0:
		return "error"
	}
	return "ok"
}

// versionWait is how long a request that names a schema version this
// replica has not seen yet waits for it.
const versionWait = 2 * time.Second

// awaitVersion honours X-Schema-Version: N, sent by a client that saw
// version N on another replica. While this replica knows only an older
// version it re-reads the tenant, briefly, until N shows up.
func (s *Server) awaitVersion(w http.ResponseWriter, r *http.Request, t *tenancy.Tenant) (*tenancy.Tenant, bool) {
	h := r.Header.Get("X-Schema-Version")
	if h == "" {
		return t, true
	}
	want, err := strconv.ParseInt(h, 10, 64)
	if err != nil || want < 0 {
		gqlError(w, r, http.StatusBadRequest, schema.CodeBadUserInput, "X-Schema-Version must be a schema version number")
		return nil, false
	}
	deadline := time.Now().Add(versionWait)
	for t.SchemaVersion < want {
		// The version the client saw is usually committed already: look
		// at once, then every 20ms.
		nt, err := s.tenants.Refresh(r.Context(), t.Alias)
		switch {
		case errors.Is(err, tenancy.ErrNotFound):
			s.noTenant(w, r, err)
			return nil, false
		case err != nil && r.Context().Err() != nil:
			return nil, false
		case err != nil:
			s.logger.Error("tenant refresh", "tenant", t.Alias, "err", err)
			gqlError(w, r, http.StatusServiceUnavailable, schema.CodeInternal, "the server cannot reach its database")
			return nil, false
		}
		t = nt
		if t.SchemaVersion >= want {
			break
		}
		if time.Now().After(deadline) {
			w.Header().Set("Retry-After", "1")
			writeErrors(w, r, http.StatusServiceUnavailable, map[string]any{
				"message":    "this server has not seen schema version " + h + " yet; retry shortly",
				"extensions": map[string]any{"code": schema.CodeSchemaChanged, "retryable": true},
			})
			return nil, false
		}
		select {
		case <-r.Context().Done():
			return nil, false
		case <-time.After(20 * time.Millisecond):
		}
	}
	return t, true
}

// allowed refuses anonymous callers (401) and cross-site requests that
// carry a session cookie (403). GET never changes data: mutations over GET
// are refused when the operation is known.
func (s *Server) allowed(w http.ResponseWriter, r *http.Request) bool {
	if identity.FromContext(r.Context()) == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tenantgraph"`)
		gqlError(w, r, http.StatusUnauthorized, schema.CodeUnauthenticated,
			"sign in (POST /auth/login) or send an API token as Authorization: Bearer <token>")
		return false
	}
	if viaCookie(r.Context()) && r.Method != http.MethodGet && !s.sameOrigin(r) {
		gqlError(w, r, http.StatusForbidden, schema.CodeForbidden, "cross-site request refused")
		return false
	}
	return true
}

// adminGraphQL serves the admin API.
func (s *Server) adminGraphQL(w http.ResponseWriter, r *http.Request) {
	if wantsGraphiQL(r) {
		s.adminGraphiQL(w, r)
		return
	}
	if !s.allowed(w, r) {
		return
	}
	req, ok := s.decodeRequest(w, r)
	if !ok {
		return
	}
	resp := s.admin.Execute(r.Context(), s.db, req, r.Method == http.MethodPost)
	s.metrics.request("admin", outcome(resp))
	s.writeResponse(w, r, resp)
}

func hasCode(resp *schema.Response, code string) bool {
	for _, e := range resp.Errors {
		if e.Extensions["code"] == code {
			return true
		}
	}
	return false
}

// writeResponse encodes resp with the status GraphQL over HTTP asks for:
// 405 for a mutation over GET; for a request that never ran, 400 with the
// GraphQL response type and 200 with plain JSON; 200 once it ran.
func (s *Server) writeResponse(w http.ResponseWriter, r *http.Request, resp *schema.Response) {
	ct := responseType(r)
	status := http.StatusOK
	switch {
	case resp.Stage == schema.StageMethod:
		w.Header().Set("Allow", "POST")
		status = http.StatusMethodNotAllowed
	case resp.Stage == schema.StageRequest && strings.HasPrefix(ct, mediaGraphQLResponse):
		status = http.StatusBadRequest
	}
	// MarshalJSON is called directly: json.Encoder would scan its output
	// again to compact it.
	body, err := resp.MarshalJSON()
	if err != nil {
		s.logger.Error("encode response", "err", err)
		gqlError(w, r, http.StatusInternalServerError, schema.CodeInternal, "internal server error")
		return
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// sdl serves the tenant's schema as SDL.
func (s *Server) sdl(w http.ResponseWriter, r *http.Request) {
	t, ok := s.allowedTenant(w, r)
	if !ok {
		return
	}
	if !identity.FromContext(r.Context()).Can(t.ID, identity.RoleViewer) {
		gqlError(w, r, http.StatusForbidden, schema.CodeForbidden, "reading a country's schema needs the viewer role in it")
		return
	}
	built, err := s.registry.Get(r.Context(), t)
	if err != nil {
		http.Error(w, "the country's API could not be built", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Schema-Version", itoa(built.Version))
	io.WriteString(w, built.SDL())
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// zeroQuality reports whether an Accept q parameter refuses the type.
func zeroQuality(q string) bool {
	f, err := strconv.ParseFloat(q, 64)
	return err == nil && f == 0
}
