package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"golang.org/x/crypto/bcrypt"

	"tenantgraph/identity"
	"tenantgraph/tenancy/tenancytest"
)

// testPassword is the password of every user the tests create.
const testPassword = "correct-horse-battery"

// testApp is the whole server, wired by NewApp, behind an httptest server.
type testApp struct {
	*App
	URL string
	// Store creates users quickly: it hashes with bcrypt.MinCost. The app's
	// own store reads the same database.
	Store *identity.Store
}

// newTestApp starts the server on the test database. edit, when set,
// changes the configuration before NewApp sees it; PublicURL is already the
// test server's address.
func newTestApp(t *testing.T, edit func(*Config)) *testApp {
	t.Helper()
	db := tenancytest.DB(t) // migrates the administration schema

	srv := httptest.NewUnstartedServer(nil)
	cfg := DefaultConfig()
	cfg.DatabaseURL = tenancytest.DSN(t)
	cfg.PublicURL = "http://" + srv.Listener.Addr().String()
	if edit != nil {
		edit(&cfg)
	}
	app, err := NewApp(context.Background(), cfg, slog.New(slog.NewTextHandler(newTestLog(t), &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		srv.Close()
		t.Fatalf("NewApp: %v", err)
	}
	// Tests send one request at a time; keep few connections, since many
	// test servers share one PostgreSQL.
	app.DB.SetMaxOpenConns(8)
	app.DB.SetMaxIdleConns(2)
	srv.Config.Handler = app.Handler
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		app.Close()
	})
	store := identity.NewStore(db)
	store.BcryptCost = bcrypt.MinCost
	return &testApp{App: app, URL: srv.URL, Store: store}
}

// testLog passes the server's warnings and errors to the test log, and
// drops what arrives after the test ended.
type testLog struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func newTestLog(t *testing.T) *testLog {
	l := &testLog{t: t}
	t.Cleanup(func() {
		l.mu.Lock()
		l.done = true
		l.mu.Unlock()
	})
	return l
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Logf("server: %s", bytes.TrimRight(p, "\n"))
	}
	return len(p), nil
}

// uniqueEmail returns an email no other test uses.
func uniqueEmail(prefix string) string {
	return fmt.Sprintf("%s-%08x@example.com", prefix, rand.Uint32())
}

// newUser creates an active user with testPassword and, unless role is
// empty, grants role: in the country alias, or globally for admin.
func (a *testApp) newUser(t *testing.T, prefix string, role identity.Role, alias string) *identity.User {
	t.Helper()
	ctx := context.Background()
	email := uniqueEmail(prefix)
	u, err := a.Store.CreateUser(ctx, email, prefix, testPassword, role == identity.RoleAdmin)
	if err != nil {
		t.Fatalf("create user %s: %v", email, err)
	}
	if role != "" && role != identity.RoleAdmin {
		if _, err := a.Store.Grant(ctx, email, alias, role); err != nil {
			t.Fatalf("grant %s %s in %s: %v", email, role, alias, err)
		}
	}
	return u
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so each step of a sign-in flow can be checked.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
	// header is added to every request.
	header http.Header
}

func (a *testApp) browser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{
		t:    t,
		base: a.URL,
		c: &http.Client{
			Jar:           jar,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		header: http.Header{},
	}
}

// signedIn returns a browser signed in as email with testPassword.
func (a *testApp) signedIn(t *testing.T, email string) *browser {
	t.Helper()
	b := a.browser(t)
	if resp := b.login(email, testPassword); resp.StatusCode != http.StatusOK {
		t.Fatalf("sign in as %s: status %d", email, resp.StatusCode)
	}
	return b
}

// bearer returns a client that sends an API token and keeps no cookies.
func (a *testApp) bearer(t *testing.T, secret string) *browser {
	b := a.browser(t)
	b.c.Jar = nil
	b.header.Set("Authorization", "Bearer "+secret)
	return b
}

// do sends req (a path is resolved against the server) and returns the
// response with its body read.
func (b *browser) do(req *http.Request) (*http.Response, []byte) {
	b.t.Helper()
	for k, vs := range b.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return resp, body
}

func (b *browser) newRequest(method, path string, body io.Reader) *http.Request {
	b.t.Helper()
	target := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		target = b.base + path
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		b.t.Fatal(err)
	}
	return req
}

func (b *browser) get(path string) (*http.Response, []byte) {
	b.t.Helper()
	return b.do(b.newRequest(http.MethodGet, path, nil))
}

// login posts email and password as JSON to /auth/login.
func (b *browser) login(email, password string) *http.Response {
	b.t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req := b.newRequest(http.MethodPost, "/auth/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, _ := b.do(req)
	return resp
}

// gqlError is one error of a GraphQL response.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (e gqlError) code() string {
	c, _ := e.Extensions["code"].(string)
	return c
}

// gqlResult is a GraphQL response with its HTTP status.
type gqlResult struct {
	Status int
	Header http.Header
	Data   map[string]any `json:"data"`
	Errors []gqlError     `json:"errors"`
	Raw    string
}

func (r *gqlResult) hasCode(code string) bool {
	for _, e := range r.Errors {
		if e.code() == code {
			return true
		}
	}
	return false
}

// gql posts a GraphQL request as JSON to path.
func (b *browser) gql(path, query string, vars map[string]any) *gqlResult {
	b.t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		b.t.Fatal(err)
	}
	req := b.newRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return b.gqlDo(req)
}

// gqlDo sends a prepared GraphQL request and decodes the response.
func (b *browser) gqlDo(req *http.Request) *gqlResult {
	b.t.Helper()
	resp, body := b.do(req)
	r := &gqlResult{Status: resp.StatusCode, Header: resp.Header, Raw: string(body)}
	if err := json.Unmarshal(body, r); err != nil {
		b.t.Fatalf("%s %s: status %d, body is not JSON: %v\n%s", req.Method, req.URL.Path, resp.StatusCode, err, body)
	}
	return r
}

// mustOK fails the test unless r ran without errors, and returns its data.
func (r *gqlResult) mustOK(t *testing.T) map[string]any {
	t.Helper()
	if r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("status %d, errors %v\n%s", r.Status, r.Codes(), r.Raw)
	}
	return r.Data
}

// Codes is codes with the messages, for failure output.
func (r *gqlResult) Codes() []string {
	var out []string
	for _, e := range r.Errors {
		out = append(out, fmt.Sprintf("%s (%s, path %v)", e.code(), e.Message, e.Path))
	}
	return out
}

func tenantPath(alias string) string { return "/country/" + url.PathEscape(alias) + "/graphql" }

// sessionCookie returns the value of the session cookie the response sets,
// and whether it sets one.
func sessionCookie(resp *http.Response) (*http.Cookie, bool) {
	for _, c := range resp.Cookies() {
		if c.Name == "tenantgraph_session" {
			return c, true
		}
	}
	return nil, false
}

// countRows counts the rows of a table of a tenant's schema.
func countRows(t *testing.T, db *sqlx.DB, namespace, table string) int {
	t.Helper()
	var n int
	q := `SELECT count(*) FROM ` + pq.QuoteIdentifier(namespace) + `.` + pq.QuoteIdentifier(table)
	if err := db.Get(&n, q); err != nil {
		t.Fatalf("count %s.%s: %v", namespace, table, err)
	}
	return n
}

func TestNewApp_ServesHealth(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, nil)
	resp, body := a.browser(t).get("/healthz")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz: %d %s", resp.StatusCode, body)
	}
}

func TestNewApp_MetricsDatabaseName(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, nil)
	var dbName string
	if err := a.DB.Get(&dbName, `SELECT current_database()`); err != nil {
		t.Fatal(err)
	}
	resp, body := a.browser(t).get("/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	if want := `go_sql_open_connections{db_name="` + dbName + `"}`; !strings.Contains(string(body), want) {
		t.Errorf("metrics have no %s:\n%s", want, grepLines(string(body), "db_name"))
	}
}

// grepLines returns the lines of s that contain substr.
func grepLines(s, substr string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func TestRunTenant_Create(t *testing.T) {
	t.Parallel()
	db := tenancytest.DB(t)
	dsn := tenancytest.DSN(t)
	ctx := context.Background()
	tenant := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, append(append([]string{"tenant"}, args...), "--database-url", dsn), strings.NewReader(""), &out, &errOut)
		return out.String(), err
	}

	alias := fmt.Sprintf("C%07X", rand.Uint32()>>4)
	t.Cleanup(func() { tenant("drop", "--alias", alias, "--confirm", alias) })
	out, err := tenant("create", "--name", "Test "+alias, "--alias", alias, "--area-code", "52")
	if err != nil {
		t.Fatalf("tenant create: %v", err)
	}
	if !strings.Contains(out, "created Test "+alias) {
		t.Errorf("output %q", out)
	}
	var code string
	if err := db.Get(&code, `SELECT area_code FROM administration.countries WHERE alias = $1`, alias); err != nil || code != "52" {
		t.Errorf("area_code = %q, %v; want 52", code, err)
	}

	t.Run("ErrAliasTaken", func(t *testing.T) {
		// The same name too, so the schema name clashes as well; the
		// error still names the alias.
		for _, a := range []string{alias, strings.ToLower(alias)} {
			_, err := tenant("create", "--name", "Test "+alias, "--alias", a)
			want := fmt.Sprintf("alias %q is already used by country %q", a, "Test "+alias)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("tenant create --alias %s = %v, want an error saying %s", a, err, want)
			}
		}
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM administration.countries WHERE lower(alias) = lower($1)`, alias); err != nil || n != 1 {
			t.Errorf("%d countries with alias %s, %v; want 1", n, alias, err)
		}
	})
}
