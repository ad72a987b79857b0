package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"tenantgraph/ddl"
	"tenantgraph/identity"
	"tenantgraph/schema"
	"tenantgraph/server"
	"tenantgraph/tenancy"
	"tenantgraph/tenancy/tenancytest"
)

// testServer is a tenantgraph HTTP server on a loopback port, wired as the
// binary wires it minus sessions and the admin API. Requests carry the API
// token of a global admin, who may do everything.
type testServer struct {
	URL      string
	DB       *sqlx.DB
	Dir      *tenancy.Directory
	Registry *schema.Registry
	token    string
	client   *http.Client
}

// newServer starts a server over db and stops it when the test ends. Each
// tune, if any, adjusts the schema options before the registry is made.
func newServer(tb testing.TB, db *sqlx.DB, tune ...func(*schema.Options)) *testServer {
	tb.Helper()
	tenancytest.DB(tb) // the administration schema is migrated
	dir := tenancy.NewDirectory(tenancy.NewStore(db, tenancytest.DSN(tb)))
	opts := &schema.Options{
		Changer: ddl.NewChanger(db, 0),
		UserID: func(ctx context.Context) (int64, bool) {
			p := identity.FromContext(ctx)
			return p.UserIDOrZero(), p != nil
		},
	}
	for _, f := range tune {
		f(opts)
	}
	reg := schema.NewRegistry(db, opts, 0)
	users := identity.NewStore(db)
	hs := httptest.NewServer(server.New(server.Options{DB: db, Tenants: dir, Registry: reg, Users: users}))
	tb.Cleanup(hs.Close)
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	tb.Cleanup(client.CloseIdleConnections)
	return &testServer{URL: hs.URL, DB: db, Dir: dir, Registry: reg, client: client, token: newAdminToken(tb, users)}
}

// newAdminToken creates a global admin with an API token and returns the
// token; the user is deleted when the test ends.
func newAdminToken(tb testing.TB, users *identity.Store) string {
	tb.Helper()
	ctx := context.Background()
	email := fmt.Sprintf("graphql-%d@test.invalid", rand.Int64())
	u, err := users.CreateUser(ctx, email, "GraphQL Test Admin", "", true)
	if err != nil {
		tb.Fatalf("create admin: %v", err)
	}
	tb.Cleanup(func() {
		db := tenancytest.DB(tb)
		if _, err := db.Exec(`DELETE FROM administration.users WHERE id = $1`, u.ID); err != nil {
			tb.Errorf("delete admin: %v", err)
		}
	})
	secret, _, err := users.CreateToken(ctx, u.ID, "graphql tests", nil)
	if err != nil {
		tb.Fatalf("create token: %v", err)
	}
	return secret
}

// newRequest builds a request to the server carrying the admin's token.
func (s *testServer) newRequest(tb testing.TB, method, path string, body io.Reader) *http.Request {
	tb.Helper()
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	return req
}

// gqlResponse is a decoded GraphQL-over-HTTP response.
type gqlResponse struct {
	Status      int
	ContentType string
	Body        []byte

	Data       json.RawMessage `json:"data"`
	Errors     []gqlError      `json:"errors"`
	Extensions map[string]any  `json:"extensions"`
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// codes lists the extensions.code of every error.
func (r *gqlResponse) codes() []string {
	var out []string
	for _, e := range r.Errors {
		c, _ := e.Extensions["code"].(string)
		out = append(out, c)
	}
	return out
}

// decode unmarshals data into v, failing the test if the response has
// errors.
func (r *gqlResponse) decode(tb testing.TB, v any) {
	tb.Helper()
	if len(r.Errors) > 0 {
		tb.Fatalf("unexpected errors (status %d): %s", r.Status, r.Body)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		tb.Fatalf("decode data %s: %v", r.Data, err)
	}
}

// wantError fails the test unless the response has exactly one error, with
// code, and a message containing every one of words.
func (r *gqlResponse) wantError(tb testing.TB, code string, words ...string) {
	tb.Helper()
	if len(r.Errors) != 1 {
		tb.Fatalf("want one %s error, got status %d: %s", code, r.Status, r.Body)
	}
	if got := r.codes()[0]; got != code {
		tb.Errorf("code = %q, want %q; body %s", got, code, r.Body)
	}
	for _, w := range words {
		if !strings.Contains(r.Errors[0].Message, w) {
			tb.Errorf("message %q does not contain %q", r.Errors[0].Message, w)
		}
	}
}

// sqlLeaks are fragments that show SQL or driver text in a message.
var sqlLeaks = []string{"SELECT", "INSERT", "UPDATE ", "DELETE ", "pq:", "relation", "search_path", "goroutine", ".go:"}

// do sends req and decodes the answer, failing the test when the answer
// breaks a rule every answer keeps (see send).
func (s *testServer) do(tb testing.TB, req *http.Request) *gqlResponse {
	tb.Helper()
	out, err := s.send(req)
	if out == nil {
		tb.Fatal(err)
	}
	if err != nil {
		tb.Error(err)
	}
	return out
}

// send sends req and decodes the answer. It may be called from any
// goroutine. The error is set when the request failed, its answer is not
// JSON (the response is nil then), an error message shows SQL or Go text,
// an error has no extensions.code or a null locations, or an answer with
// status 200 has no extensions.schemaVersion.
func (s *testServer) send(req *http.Request) (*gqlResponse, error) {
	res, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	out := &gqlResponse{Status: res.StatusCode, ContentType: res.Header.Get("Content-Type"), Body: body}
	if err := json.Unmarshal(body, out); err != nil {
		return nil, fmt.Errorf("%s %s: status %d, body is not JSON: %v\n%s", req.Method, req.URL.Path, res.StatusCode, err, body)
	}
	var errs []error
	for _, e := range out.Errors {
		for _, leak := range sqlLeaks {
			if strings.Contains(e.Message, leak) {
				errs = append(errs, fmt.Errorf("error message leaks %q: %s", leak, e.Message))
			}
		}
		if e.Extensions["code"] == nil {
			errs = append(errs, fmt.Errorf("error without extensions.code: %s", body))
		}
	}
	if bytes.Contains(body, []byte(`"locations":null`)) {
		errs = append(errs, fmt.Errorf("null locations: %s", body))
	}
	if out.Status == http.StatusOK {
		if _, ok := out.Extensions["schemaVersion"].(float64); !ok {
			errs = append(errs, fmt.Errorf("response has no extensions.schemaVersion: %s", body))
		}
	}
	return out, errors.Join(errs...)
}

// graphqlPath is the tenant's GraphQL endpoint.
func graphqlPath(alias string) string { return "/country/" + alias + "/graphql" }

// newPost builds a POST of a GraphQL request.
func (s *testServer) newPost(tb testing.TB, alias, query string, vars map[string]any) *http.Request {
	tb.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		tb.Fatal(err)
	}
	req := s.newRequest(tb, http.MethodPost, graphqlPath(alias), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	return req
}

// post sends a GraphQL request to the tenant with alias.
func (s *testServer) post(tb testing.TB, alias, query string, vars map[string]any) *gqlResponse {
	tb.Helper()
	return s.do(tb, s.newPost(tb, alias, query, vars))
}

// mustPost sends a GraphQL request and decodes its data into out, failing
// the test on any error.
func (s *testServer) mustPost(tb testing.TB, alias, query string, vars map[string]any, out any) {
	tb.Helper()
	res := s.post(tb, alias, query, vars)
	if res.Status != http.StatusOK {
		tb.Fatalf("status %d: %s", res.Status, res.Body)
	}
	res.decode(tb, out)
}

// alter runs DDL in the tenant's schema, bumps its version in the same
// transaction and tells the server, as the ddl package will.
func (s *testServer) alter(tb testing.TB, t *tenancy.Tenant, stmts ...string) int64 {
	tb.Helper()
	ctx := context.Background()
	var v int64
	err := tenancy.InTx(ctx, s.DB, t.Namespace, tenancy.TxOptions{}, func(tx *sqlx.Tx) error {
		for _, stmt := range stmts {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("%s: %w", stmt, err)
			}
		}
		var err error
		v, err = tenancy.BumpVersion(ctx, tx, t.ID)
		return err
	})
	if err != nil {
		tb.Fatalf("alter %s: %v", t.Alias, err)
	}
	s.Dir.SetVersion(t.ID, v)
	return v
}

// exec runs one statement in the tenant's schema.
func exec(tb testing.TB, db *sqlx.DB, t *tenancy.Tenant, stmt string, args ...any) {
	tb.Helper()
	ctx := context.Background()
	err := tenancy.InTx(ctx, db, t.Namespace, tenancy.TxOptions{}, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, stmt, args...)
		return err
	})
	if err != nil {
		tb.Fatalf("exec %q in %s: %v", stmt, t.Alias, err)
	}
}

// typeName is the GraphQL type name of a seeded brand table.
func typeName(brand string) string { return ddl.TypeName(brand) }
