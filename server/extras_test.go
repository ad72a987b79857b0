package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"tenantgraph/ddl"
	"tenantgraph/identity"
	"tenantgraph/schema"
	"tenantgraph/server"
	"tenantgraph/tenancy"
	"tenantgraph/tenancy/tenancytest"
)

// extrasConfig tunes one wiring made by newExtrasServer.
type extrasConfig struct {
	// LockTimeout is the Changer's; zero means its default.
	LockTimeout time.Duration
	// Watch runs a schema.Watcher for the server until the test ends.
	Watch bool
	// ListenerDSN is the watcher's connection string; empty means the
	// test database's.
	ListenerDSN string
	// Interval is the watcher's full-check period; zero means an hour, so
	// only notifications and reconnects move the server.
	Interval time.Duration
}

// extrasServer is one full wiring of the server, as NewApp makes it, over
// a pool of its own and served by httptest: its own Directory, Registry,
// Changer and, when asked, Watcher. Requests carry an admin's API token.
type extrasServer struct {
	DB       *sqlx.DB
	Store    *tenancy.Store
	Dir      *tenancy.Directory
	Registry *schema.Registry
	URL      string

	// Logs holds what the server, registry and watcher logged at Warn
	// and above, for failure messages.
	Logs *extrasLog

	token  string
	client *http.Client
	// events receives the watcher's events when Watch is set.
	events chan string
}

func newExtrasServer(tb testing.TB, cfg extrasConfig) *extrasServer {
	tb.Helper()
	dsn := tenancytest.DSN(tb)
	tenancytest.DB(tb) // the administration schema is migrated
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(12)
	db.SetMaxIdleConns(12)
	tb.Cleanup(func() { db.Close() })

	logs := &extrasLog{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store := tenancy.NewStore(db, dsn)
	reg := schema.NewRegistry(db, &schema.Options{
		Logger:  logger,
		Changer: ddl.NewChanger(db, cfg.LockTimeout),
		UserID: func(ctx context.Context) (int64, bool) {
			p := identity.FromContext(ctx)
			return p.UserIDOrZero(), p != nil
		},
	}, 0)
	dir := tenancy.NewDirectory(store)
	users := identity.NewStore(db)
	srv := server.New(server.Options{DB: db, Tenants: dir, Registry: reg, Users: users, Logger: logger})
	hs := httptest.NewServer(srv)
	tb.Cleanup(hs.Close)

	s := &extrasServer{
		DB: db, Store: store, Dir: dir, Registry: reg, URL: hs.URL, Logs: logs,
		client: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 64},
		},
		events: make(chan string, 1024),
	}
	tb.Cleanup(s.client.CloseIdleConnections)
	s.token = newExtrasAdminToken(tb, users)

	if cfg.Watch {
		interval := cfg.Interval
		if interval <= 0 {
			interval = time.Hour
		}
		w := &schema.Watcher{Registry: reg, Directory: dir, Interval: interval, OnEvent: func(kind string) {
			select {
			case s.events <- kind:
			default:
			}
		}}
		listenDSN := cfg.ListenerDSN
		if listenDSN == "" {
			listenDSN = dsn
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx, listenDSN) }()
		tb.Cleanup(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					tb.Errorf("watcher: %v", err)
				}
			case <-time.After(5 * time.Second):
				tb.Errorf("the watcher did not stop within 5s of its context ending")
			}
		})
		// Run returns an error at once when it cannot listen.
		select {
		case err := <-done:
			tb.Fatalf("watcher stopped: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return s
}

// extrasLog is a log sink safe for concurrent use.
type extrasLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *extrasLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *extrasLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newExtrasAdminToken creates a global admin and returns an API token of
// theirs; the user is deleted when the test ends.
func newExtrasAdminToken(tb testing.TB, users *identity.Store) string {
	tb.Helper()
	ctx := context.Background()
	email := fmt.Sprintf("extras-%d@test.invalid", rand.Int64())
	u, err := users.CreateUser(ctx, email, "Extras Test Admin", "", true)
	if err != nil {
		tb.Fatalf("create admin: %v", err)
	}
	db := tenancytest.DB(tb)
	tb.Cleanup(func() {
		if _, err := db.Exec(`DELETE FROM administration.users WHERE id = $1`, u.ID); err != nil {
			tb.Errorf("delete admin: %v", err)
		}
	})
	secret, _, err := users.CreateToken(ctx, u.ID, "extras tests", nil)
	if err != nil {
		tb.Fatalf("create token: %v", err)
	}
	return secret
}

// newExtrasTenant creates a throwaway tenant for one test.
func newExtrasTenant(tb testing.TB) *tenancy.Tenant {
	tb.Helper()
	return tenancytest.NewTenant(tb, tenancytest.DB(tb))
}

// exResult is one decoded GraphQL response.
type exResult struct {
	Status int
	Data   map[string]any
	Errors []exError
	// Version is extensions.schemaVersion, or 0 when absent.
	Version int64
	Body    string
}

type exError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

func (e exError) Code() string {
	c, _ := e.Extensions["code"].(string)
	return c
}

func (e exError) Retryable() bool {
	r, _ := e.Extensions["retryable"].(bool)
	return r
}

// Code is the code of the first error, or "".
func (r *exResult) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	return r.Errors[0].Code()
}

// send posts a GraphQL request for tenant alias and decodes the answer. It
// reports errors instead of failing, so goroutines may use it.
func (s *extrasServer) send(alias, query string, vars map[string]any, header http.Header) (*exResult, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, s.URL+"/country/"+alias+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	res := &exResult{Status: resp.StatusCode, Body: string(raw)}
	var decoded struct {
		Data       map[string]any `json:"data"`
		Errors     []exError      `json:"errors"`
		Extensions struct {
			SchemaVersion json.Number `json:"schemaVersion"`
		} `json:"extensions"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&decoded); err != nil {
		return res, fmt.Errorf("status %d, body %q: %w", resp.StatusCode, raw, err)
	}
	res.Data, res.Errors = decoded.Data, decoded.Errors
	if decoded.Extensions.SchemaVersion != "" {
		res.Version, _ = decoded.Extensions.SchemaVersion.Int64()
	}
	return res, nil
}

// do is send for the test goroutine: it fails the test on a transport or
// decoding error.
func (s *extrasServer) do(tb testing.TB, alias, query string, vars map[string]any) *exResult {
	tb.Helper()
	res, err := s.send(alias, query, vars, nil)
	if err != nil {
		tb.Fatalf("request %s: %v", query, err)
	}
	return res
}

// ok is do for a request that must succeed; it returns its data.
func (s *extrasServer) ok(tb testing.TB, alias, query string, vars map[string]any) map[string]any {
	tb.Helper()
	res := s.do(tb, alias, query, vars)
	if res.Status != http.StatusOK || len(res.Errors) > 0 || res.Data == nil {
		tb.Fatalf("request %s\nvariables %v\nstatus %d: %s", query, vars, res.Status, res.Body)
	}
	return res.Data
}

// fail is do for a request that must fail with code; it returns the
// response.
func (s *extrasServer) fail(tb testing.TB, alias, code, query string, vars map[string]any) *exResult {
	tb.Helper()
	res := s.do(tb, alias, query, vars)
	if res.Code() != code {
		tb.Fatalf("request %s\nvariables %v\ngot status %d %s, want code %s", query, vars, res.Status, res.Body, code)
	}
	return res
}

// exDig walks a decoded JSON value along a dotted path of keys and indexes.
func exDig(v any, path string) any {
	for _, key := range strings.Split(path, ".") {
		switch vv := v.(type) {
		case map[string]any:
			v = vv[key]
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(vv) {
				return nil
			}
			v = vv[i]
		default:
			return nil
		}
	}
	return v
}

// exJSON is v as compact JSON, for comparing decoded values with
// expected JSON text.
func exJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(b)
}

// exIDs returns the id of every item of a list's items.
func exIDs(items any) []string {
	list, _ := items.([]any)
	out := []string{}
	for _, it := range list {
		id, _ := exDig(it, "id").(string)
		out = append(out, id)
	}
	return out
}

const exCreateExtra = `mutation($in: CreateExtraInput!) {
	createExtra(input: $in) { id brand name display_name type required default archived }
}`

// createExtra adds an extra through the API and returns its id and the
// schema version the response reports.
func (s *extrasServer) createExtra(tb testing.TB, alias string, in map[string]any) (string, int64) {
	tb.Helper()
	res := s.do(tb, alias, exCreateExtra, map[string]any{"in": in})
	if res.Status != http.StatusOK || len(res.Errors) > 0 {
		tb.Fatalf("createExtra %v: status %d %s", in, res.Status, res.Body)
	}
	id, _ := exDig(res.Data, "createExtra.id").(string)
	return id, res.Version
}

// exVersion is the tenant's schema version as stored.
func exVersion(tb testing.TB, id int64) int64 {
	tb.Helper()
	var v int64
	if err := tenancytest.DB(tb).Get(&v, `SELECT schema_version FROM administration.countries WHERE id = $1`, id); err != nil {
		tb.Fatal(err)
	}
	return v
}

// exColumns lists the columns of a tenant table as information_schema
// shows them.
func exColumns(tb testing.TB, t *tenancy.Tenant, table string) []string {
	tb.Helper()
	var cols []string
	if err := tenancytest.DB(tb).Select(&cols, `
		SELECT column_name FROM information_schema.columns
		WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`, t.Namespace, table); err != nil {
		tb.Fatal(err)
	}
	return cols
}

// exState describes what a change may touch: the version, the extras
// rows and every column of the tenant's tables.
func exState(tb testing.TB, t *tenancy.Tenant) string {
	tb.Helper()
	db := tenancytest.DB(tb)
	var extras, cols []string
	if err := db.Select(&extras, `
		SELECT concat_ws('|', id, brand, name, display_name, type, required, default_value, archived_at, updated_at)
		FROM `+pq.QuoteIdentifier(t.Namespace)+`.extras ORDER BY id`); err != nil {
		tb.Fatal(err)
	}
	if err := db.Select(&cols, `
		SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
		FROM information_schema.columns WHERE table_schema = $1
		ORDER BY table_name, ordinal_position`, t.Namespace); err != nil {
		tb.Fatal(err)
	}
	return fmt.Sprintf("version %d\nextras %q\ncolumns %q", exVersion(tb, t.ID), extras, cols)
}

// exTypeCases say, per extra type, two values in increasing order as
// sent and as returned, and a default as given and as returned.
var exTypeCases = []struct {
	enum, scalar string
	in1, in2     string // JSON of the values sent, in1 < in2
	out1, out2   string // JSON of the values returned; empty means as sent
	def, defOut  string
}{
	{"CHAR", "String", `"Base"`, `"Sport"`, "", "", "n/a", `"n/a"`},
	{"TEXT", "String", `"alpha"`, `"beta"`, "", "", "it's \\ none", `"it's \\ none"`},
	{"INTEGER", "Int", `-7`, `2147483647`, "", "", " 3 ", `3`},
	{"BIGINT", "BigInt", `-9007199254740993`, `"9223372036854775807"`, `"-9007199254740993"`, "", "9007199254740993", `"9007199254740993"`},
	{"FLOAT", "Float", `1.5`, `2.25`, "", "", "2.5", `2.5`},
	{"BOOLEAN", "Boolean", `false`, `true`, "", "", "TRUE", `true`},
	{"DATE", "Date", `"2024-02-29"`, `"2025-01-31"`, "", "", "2024-01-01", `"2024-01-01"`},
	{"DATETIME", "DateTime", `"2024-05-01T15:45:00+02:00"`, `"2024-06-01T00:00:00.5Z"`, `"2024-05-01T13:45:00Z"`, "",
		"2024-01-01T01:00:00+01:00", `"2024-01-01T00:00:00Z"`},
	{"TIME", "Time", `"08:30:00"`, `"23:59:59.5"`, "", "", "12:00:00", `"12:00:00"`},
}

func TestExtras_Types(t *testing.T) {
	t.Parallel()
	srv := newExtrasServer(t, extrasConfig{})

	for _, tc := range exTypeCases {
		t.Run(tc.enum, func(t *testing.T) {
			t.Parallel()
			tn := newExtrasTenant(t)
			alias := tn.Alias
			out1, out2 := tc.out1, tc.out2
			if out1 == "" {
				out1 = tc.in1
			}
			if out2 == "" {
				out2 = tc.in2
			}
			f := "x_" + strings.ToLower(tc.enum)
			raw := func(s string) json.RawMessage { return json.RawMessage(s) }

			// A row that exists before any extra, for the required one.
			before := exID(t, srv.ok(t, alias, `mutation { createToyota(input: {model: "before"}) { id } }`, nil), "createToyota.id")

			res := srv.do(t, alias, exCreateExtra, map[string]any{"in": map[string]any{
				"brand": "toyota", "name": f, "displayName": "Extra " + tc.enum, "type": tc.enum,
			}})
			if len(res.Errors) > 0 {
				t.Fatalf("createExtra: %s", res.Body)
			}
			version := res.Version
			if got := exJSON(res.Data["createExtra"]); !strings.Contains(got, `"type":"`+tc.enum+`"`) ||
				!strings.Contains(got, `"name":"`+f+`"`) || !strings.Contains(got, `"archived":false`) {
				t.Errorf("createExtra returned %s", got)
			}

			// The very next request writes the new field.
			create := fmt.Sprintf(`mutation($in: ToyotaInput!) { createToyota(input: $in) { id model %s } }`, f)
			res = srv.do(t, alias, create, map[string]any{"in": map[string]any{"model": "A", f: raw(tc.in1)}})
			if len(res.Errors) > 0 {
				t.Fatalf("createToyota right after createExtra: %s", res.Body)
			}
			if res.Version != version {
				t.Errorf("schemaVersion = %d, want %d", res.Version, version)
			}
			if got := exJSON(exDig(res.Data, "createToyota."+f)); got != out1 {
				t.Errorf("created %s = %s, want %s", f, got, out1)
			}
			a := exID(t, res.Data, "createToyota.id")
			b := exID(t, srv.ok(t, alias, create, map[string]any{"in": map[string]any{"model": "B"}}), "createToyota.id")

			update := fmt.Sprintf(`mutation($id: ID!, $p: ToyotaPatch!) { updateToyota(id: $id, patch: $p) { id %s } }`, f)
			data := srv.ok(t, alias, update, map[string]any{"id": b, "p": map[string]any{f: raw(tc.in2)}})
			if got := exJSON(exDig(data, "updateToyota."+f)); got != out2 {
				t.Errorf("updated %s = %s, want %s", f, got, out2)
			}
			data = srv.ok(t, alias, fmt.Sprintf(`query($id: ID!) { toyota(id: $id) { %s } }`, f), map[string]any{"id": a})
			if got := exJSON(exDig(data, "toyota."+f)); got != out1 {
				t.Errorf("toyota(id) %s = %s, want %s", f, got, out1)
			}

			// Filter and order on it.
			list := fmt.Sprintf(`query($f: ToyotaFilter, $o: [ToyotaOrderBy!]) {
				toyotaList(filter: $f, orderBy: $o) { totalCount items { id %s } }
			}`, f)
			type filterCase struct {
				label  string
				filter map[string]any
				want   []string
			}
			on := func(op string, v any) map[string]any { return map[string]any{f: map[string]any{op: v}} }
			filters := []filterCase{
				{"eq", on("eq", raw(tc.in2)), []string{b}},
				{"isNull", on("isNull", true), []string{before}},
				{"not isNull", on("isNull", false), []string{a, b}},
				{"not eq", map[string]any{"not": on("eq", raw(tc.in2)), f: map[string]any{"isNull": false}}, []string{a}},
			}
			switch tc.scalar {
			case "Boolean":
			case "String":
				filters = append(filters,
					filterCase{"ne", on("ne", raw(tc.in2)), []string{a}},
					filterCase{"in", on("in", []any{raw(tc.in1)}), []string{a}},
					filterCase{"like", on("like", exDecode(t, out2)), []string{b}},
				)
			default:
				filters = append(filters,
					filterCase{"ne", on("ne", raw(tc.in2)), []string{a}},
					filterCase{"gt", on("gt", raw(tc.in1)), []string{b}},
					filterCase{"lte", on("lte", raw(tc.in1)), []string{a}},
					filterCase{"in", on("in", []any{raw(tc.in1), raw(tc.in2)}), []string{a, b}},
				)
			}
			for _, flt := range filters {
				data := srv.ok(t, alias, list, map[string]any{"f": flt.filter})
				if got := exIDs(exDig(data, "toyotaList.items")); !slices.Equal(got, flt.want) {
					t.Errorf("filter %s: ids %v, want %v", flt.label, got, flt.want)
				}
			}
			upper := strings.ToUpper(f)
			notNull := map[string]any{f: map[string]any{"isNull": false}}
			data = srv.ok(t, alias, list, map[string]any{"f": notNull, "o": []string{upper + "_ASC"}})
			if got := exIDs(exDig(data, "toyotaList.items")); !slices.Equal(got, []string{a, b}) {
				t.Errorf("order %s_ASC: ids %v, want %v", upper, got, []string{a, b})
			}
			data = srv.ok(t, alias, list, map[string]any{"f": notNull, "o": []string{upper + "_DESC"}})
			if got := exIDs(exDig(data, "toyotaList.items")); !slices.Equal(got, []string{b, a}) {
				t.Errorf("order %s_DESC: ids %v, want %v", upper, got, []string{b, a})
			}

			// A required extra with a default: the rows that exist get it.
			r := "r_" + strings.ToLower(tc.enum)
			res = srv.do(t, alias, exCreateExtra, map[string]any{"in": map[string]any{
				"brand": "toyota", "name": r, "displayName": "Required " + tc.enum, "type": tc.enum,
				"required": true, "default": tc.def,
			}})
			if len(res.Errors) > 0 {
				t.Fatalf("createExtra required: %s", res.Body)
			}
			srv.ok(t, alias, `mutation { createToyota(input: {model: "C"}) { id } }`, nil)
			data = srv.ok(t, alias, fmt.Sprintf(`{ toyotaList(orderBy: [ID_ASC]) { items { id %s } } }`, r), nil)
			items, _ := exDig(data, "toyotaList.items").([]any)
			if len(items) != 4 {
				t.Fatalf("toyotaList has %d items, want 4: %s", len(items), exJSON(data))
			}
			for _, it := range items {
				if got := exJSON(exDig(it, r)); got != tc.defOut {
					t.Errorf("row %v: %s = %s, want the default %s", exDig(it, "id"), r, got, tc.defOut)
				}
			}

			// Introspection shows the types: nullable for the optional
			// extra, non-null for the required one.
			data = srv.ok(t, alias, `{ __type(name: "Toyota") { fields { name description type { kind name ofType { name } } } } }`, nil)
			fields, _ := exDig(data, "__type.fields").([]any)
			found := 0
			for _, fld := range fields {
				switch exDig(fld, "name") {
				case f:
					found++
					if exDig(fld, "type.name") != tc.scalar || exDig(fld, "description") != "Extra "+tc.enum {
						t.Errorf("field %s = %s, want nullable %s described", f, exJSON(fld), tc.scalar)
					}
				case r:
					found++
					if exDig(fld, "type.kind") != "NON_NULL" || exDig(fld, "type.ofType.name") != tc.scalar {
						t.Errorf("field %s = %s, want %s!", r, exJSON(fld), tc.scalar)
					}
				}
			}
			if found != 2 {
				t.Errorf("Toyota has %d of the fields %s, %s", found, f, r)
			}
		})
	}
}

// exDecode decodes JSON text, failing the test if it is not.
func exDecode(tb testing.TB, text string) any {
	tb.Helper()
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		tb.Fatalf("decode %s: %v", text, err)
	}
	return v
}

// exID reads a string id at path of data.
func exID(tb testing.TB, data map[string]any, path string) string {
	tb.Helper()
	id, _ := exDig(data, path).(string)
	if id == "" {
		tb.Fatalf("no id at %s in %s", path, exJSON(data))
	}
	return id
}

func TestExtras_Lifecycle(t *testing.T) {
	t.Parallel()
	srv := newExtrasServer(t, extrasConfig{})
	tn := newExtrasTenant(t)
	alias := tn.Alias
	ns := pq.QuoteIdentifier(tn.Namespace)
	db := tenancytest.DB(t)

	trim, _ := srv.createExtra(t, alias, map[string]any{"brand": "toyota", "name": "trim", "displayName": "Trim", "type": "CHAR"})
	color, _ := srv.createExtra(t, alias, map[string]any{"brand": "toyota", "name": "color", "displayName": "Color", "type": "CHAR"})
	row := exID(t, srv.ok(t, alias, `mutation { createToyota(input: {model: "Corolla", trim: "LE", color: "red"}) { id } }`, nil), "createToyota.id")
	readTrim := func(field string) *exResult {
		return srv.do(t, alias, fmt.Sprintf(`query($id: ID!) { toyota(id: $id) { %s } }`, field), map[string]any{"id": row})
	}
	// refused checks that a refused change changed nothing.
	refused := func(code, query string, vars map[string]any) {
		t.Helper()
		before := exState(t, tn)
		srv.fail(t, alias, code, query, vars)
		if after := exState(t, tn); after != before {
			t.Errorf("refused %s changed the tenant:\nbefore %s\nafter  %s", query, before, after)
		}
	}
	const (
		update  = `mutation($id: ID!, $in: UpdateExtraInput!) { updateExtra(id: $id, input: $in) { id name display_name archived } }`
		remove  = `mutation($id: ID!, $c: String!) { deleteExtra(id: $id, confirm: $c) { id name archived } }`
		restore = `mutation($id: ID!) { restoreExtra(id: $id) { id name archived } }`
		purge   = `mutation($id: ID!, $c: String!) { purgeExtra(id: $id, confirm: $c) { id name archived } }`
	)

	t.Run("RenameKeepsData", func(t *testing.T) {
		data := srv.ok(t, alias, update, map[string]any{"id": trim, "in": map[string]any{"name": "trim_level", "displayName": "Trim level"}})
		if exDig(data, "updateExtra.name") != "trim_level" {
			t.Errorf("updateExtra = %s", exJSON(data))
		}
		if got := exJSON(exDig(readTrim("trim_level").Data, "toyota.trim_level")); got != `"LE"` {
			t.Errorf("trim_level = %s, want \"LE\"", got)
		}
		if res := readTrim("trim"); res.Code() != schema.CodeValidation {
			t.Errorf("old field trim: %s, want %s", res.Body, schema.CodeValidation)
		}
		if cols := exColumns(t, tn, "toyota"); !slices.Contains(cols, "trim_level") || slices.Contains(cols, "trim") {
			t.Errorf("columns = %v, want trim renamed to trim_level", cols)
		}
		refused(schema.CodeBadUserInput, update, map[string]any{"id": trim, "in": map[string]any{"name": "color"}})
		refused(schema.CodeBadUserInput, update, map[string]any{"id": trim, "in": map[string]any{"name": "model"}})
		refused(schema.CodeBadUserInput, update, map[string]any{"id": trim, "in": map[string]any{"name": "Trim"}})
		refused(schema.CodeNotFound, update, map[string]any{"id": "999999999", "in": map[string]any{"name": "x"}})
	})

	t.Run("DeleteArchives", func(t *testing.T) {
		for _, confirm := range []string{"", "trim", "TRIM_LEVEL", "color"} {
			refused(schema.CodeBadUserInput, remove, map[string]any{"id": trim, "c": confirm})
		}
		refused(schema.CodeBadUserInput, purge, map[string]any{"id": color, "c": "color"})
		refused(schema.CodeBadUserInput, restore, map[string]any{"id": color})

		data := srv.ok(t, alias, remove, map[string]any{"id": trim, "c": "trim_level"})
		if exDig(data, "deleteExtra.archived") != true {
			t.Errorf("deleteExtra = %s", exJSON(data))
		}
		if res := readTrim("trim_level"); res.Code() != schema.CodeValidation {
			t.Errorf("archived field: %s, want %s", res.Body, schema.CodeValidation)
		}
		data = srv.ok(t, alias, `{ active: extras(brand: "toyota") { items { name } } all: extras(brand: "toyota", includeArchived: true) { items { name archived } } }`, nil)
		if got := exJSON(exDig(data, "active.items")); got != `[{"name":"color"}]` {
			t.Errorf("extras = %s, want only color", got)
		}
		if got := exJSON(exDig(data, "all.items")); got != `[{"archived":true,"name":"trim_level"},{"archived":false,"name":"color"}]` {
			t.Errorf("extras with archived = %s", got)
		}
		// The column and its data stay in PostgreSQL.
		var kept string
		if err := db.Get(&kept, `SELECT trim_level FROM `+ns+`.toyota WHERE id = $1`, row); err != nil || kept != "LE" {
			t.Errorf("archived data = %q, %v; want LE kept", kept, err)
		}
		refused(schema.CodeBadUserInput, remove, map[string]any{"id": trim, "c": "trim_level"})
		refused(schema.CodeBadUserInput, update, map[string]any{"id": trim, "in": map[string]any{"name": "trim2"}})
		// An archived extra keeps its name.
		refused(schema.CodeBadUserInput, exCreateExtra, map[string]any{"in": map[string]any{
			"brand": "toyota", "name": "trim_level", "displayName": "Again", "type": "TEXT"}})
		// Writing the archived field is refused by validation.
		srv.fail(t, alias, schema.CodeValidation, `mutation { createToyota(input: {model: "x", trim_level: "y"}) { id } }`, nil)
	})

	t.Run("RestoreBringsDataBack", func(t *testing.T) {
		data := srv.ok(t, alias, restore, map[string]any{"id": trim})
		if exDig(data, "restoreExtra.archived") != false {
			t.Errorf("restoreExtra = %s", exJSON(data))
		}
		if got := exJSON(exDig(readTrim("trim_level").Data, "toyota.trim_level")); got != `"LE"` {
			t.Errorf("restored trim_level = %s, want \"LE\"", got)
		}
	})

	t.Run("PurgeDropsColumn", func(t *testing.T) {
		srv.ok(t, alias, remove, map[string]any{"id": trim, "c": "trim_level"})
		for _, confirm := range []string{"", "trim", "color", "trim_level "} {
			refused(schema.CodeBadUserInput, purge, map[string]any{"id": trim, "c": confirm})
		}
		if cols := exColumns(t, tn, "toyota"); !slices.Contains(cols, "trim_level") {
			t.Fatalf("refused purges dropped the column: %v", cols)
		}
		data := srv.ok(t, alias, purge, map[string]any{"id": trim, "c": "trim_level"})
		if exDig(data, "purgeExtra.name") != "trim_level" {
			t.Errorf("purgeExtra = %s", exJSON(data))
		}
		if cols := exColumns(t, tn, "toyota"); slices.Contains(cols, "trim_level") || !slices.Contains(cols, "color") {
			t.Errorf("columns after purge = %v, want trim_level gone and color kept", cols)
		}
		refused(schema.CodeNotFound, restore, map[string]any{"id": trim})
		refused(schema.CodeNotFound, purge, map[string]any{"id": trim, "c": "trim_level"})
		// The name is free again, and the old data is gone.
		srv.createExtra(t, alias, map[string]any{"brand": "toyota", "name": "trim_level", "displayName": "Trim", "type": "INTEGER"})
		if got := exJSON(exDig(readTrim("trim_level").Data, "toyota.trim_level")); got != `null` {
			t.Errorf("new trim_level = %s, want null", got)
		}
	})
}

func TestExtras_CreateBrand(t *testing.T) {
	t.Parallel()
	srv := newExtrasServer(t, extrasConfig{})
	tn := newExtrasTenant(t)
	alias := tn.Alias
	const createBrand = `mutation($in: CreateBrandInput!) { createBrand(input: $in) { id name display_name foundation_year } }`

	t.Run("OK", func(t *testing.T) {
		res := srv.do(t, alias, createBrand, map[string]any{"in": map[string]any{"name": "lexus", "displayName": "Lexus", "foundationYear": 1989}})
		if len(res.Errors) > 0 {
			t.Fatalf("createBrand: %s", res.Body)
		}
		if got := exJSON(res.Data["createBrand"]); !strings.Contains(got, `"name":"lexus"`) || !strings.Contains(got, `"foundation_year":1989`) {
			t.Errorf("createBrand = %s", got)
		}
		version := res.Version

		// The next request uses the new type.
		res = srv.do(t, alias, `mutation { createLexus(input: {model: "IS"}) { __typename id model created_at } }`, nil)
		if len(res.Errors) > 0 || res.Version != version {
			t.Fatalf("createLexus right after createBrand (want version %d): %s", version, res.Body)
		}
		if exDig(res.Data, "createLexus.__typename") != "Lexus" {
			t.Errorf("createLexus = %s", exJSON(res.Data))
		}
		id := exID(t, res.Data, "createLexus.id")
		srv.ok(t, alias, `mutation { createLexus(input: {model: "RX"}) { id } }`, nil)

		data := srv.ok(t, alias, `{ lexusList(orderBy: [MODEL_ASC], filter: {model: {like: "%S"}}) { totalCount items { model } } }`, nil)
		if got := exJSON(data["lexusList"]); got != `{"items":[{"model":"IS"}],"totalCount":1}` {
			t.Errorf("lexusList = %s", got)
		}
		data = srv.ok(t, alias, `query($id: ID!) { lexus(id: $id) { model } }`, map[string]any{"id": id})
		if exDig(data, "lexus.model") != "IS" {
			t.Errorf("lexus(id) = %s", exJSON(data))
		}
		data = srv.ok(t, alias, `mutation($id: ID!) { updateLexus(id: $id, patch: {model: "ES"}) { model } }`, map[string]any{"id": id})
		if exDig(data, "updateLexus.model") != "ES" {
			t.Errorf("updateLexus = %s", exJSON(data))
		}
		srv.ok(t, alias, `mutation($id: ID!) { deleteLexus(id: $id) { id } }`, map[string]any{"id": id})
		data = srv.ok(t, alias, `query($id: ID!) { lexus(id: $id) { model } }`, map[string]any{"id": id})
		if got := exJSON(data["lexus"]); got != "null" {
			t.Errorf("lexus(id) after delete = %s, want null", got)
		}
		data = srv.ok(t, alias, `{ brand(name: "lexus") { display_name foundation_year } brands { totalCount } }`, nil)
		if got := exJSON(data); got != `{"brand":{"display_name":"Lexus","foundation_year":1989},"brands":{"totalCount":4}}` {
			t.Errorf("brands = %s", got)
		}

		// Extras work on the new brand too.
		srv.createExtra(t, alias, map[string]any{"brand": "lexus", "name": "hybrid", "displayName": "Hybrid", "type": "BOOLEAN"})
		data = srv.ok(t, alias, `mutation { createLexus(input: {model: "NX", hybrid: true}) { hybrid } }`, nil)
		if exDig(data, "createLexus.hybrid") != true {
			t.Errorf("createLexus with hybrid = %s", exJSON(data))
		}
	})

	t.Run("Err", func(t *testing.T) {
		before := exState(t, tn)
		for _, name := range []string{"toyota", "lexus", "brand", "extras", "brands", "query", "Lexus2", "le xus", `l"; DROP TABLE toyota; --`} {
			res := srv.do(t, alias, createBrand, map[string]any{"in": map[string]any{"name": name, "displayName": "X"}})
			if res.Code() != schema.CodeBadUserInput {
				t.Errorf("createBrand %q: %s, want %s", name, res.Body, schema.CodeBadUserInput)
			}
		}
		if after := exState(t, tn); after != before {
			t.Errorf("refused createBrand changed the tenant:\nbefore %s\nafter  %s", before, after)
		}
	})
}

func TestExtras_BadInput(t *testing.T) {
	t.Parallel()
	srv := newExtrasServer(t, extrasConfig{})
	tn := newExtrasTenant(t)
	alias := tn.Alias
	srv.createExtra(t, alias, map[string]any{"brand": "toyota", "name": "color", "displayName": "Color", "type": "CHAR"})
	old, _ := srv.createExtra(t, alias, map[string]any{"brand": "toyota", "name": "old_color", "displayName": "Old", "type": "CHAR"})
	srv.ok(t, alias, `mutation($id: ID!) { deleteExtra(id: $id, confirm: "old_color") { id } }`, map[string]any{"id": old})
	srv.ok(t, alias, `mutation { createToyota(input: {model: "Corolla"}) { id } }`, nil)
	before := exState(t, tn)

	in := func(name, typ string, extra ...any) map[string]any {
		m := map[string]any{"brand": "toyota", "name": name, "displayName": "X", "type": typ}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i].(string)] = extra[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		label string
		in    map[string]any
		code  string
	}{
		{"double quote", in(`tr"im`, "CHAR"), schema.CodeBadUserInput},
		{"quote and semicolon", in(`x" text; DROP TABLE toyota; --`, "CHAR"), schema.CodeBadUserInput},
		{"semicolon", in("trim;", "CHAR"), schema.CodeBadUserInput},
		{"space", in("trim level", "CHAR"), schema.CodeBadUserInput},
		{"upper case", in("Trim", "CHAR"), schema.CodeBadUserInput},
		{"NUL byte", in("trim\x00level", "CHAR"), schema.CodeBadUserInput},
		{"leading digit", in("9trim", "CHAR"), schema.CodeBadUserInput},
		{"leading __", in("__trim", "CHAR"), schema.CodeBadUserInput},
		{"64 bytes", in("t"+strings.Repeat("x", 63), "CHAR"), schema.CodeBadUserInput},
		{"id", in("id", "CHAR"), schema.CodeBadUserInput},
		{"model", in("model", "CHAR"), schema.CodeBadUserInput},
		{"created_at", in("created_at", "DATETIME"), schema.CodeBadUserInput},
		{"user_id", in("user_id", "BIGINT"), schema.CodeBadUserInput},
		{"updated_at", in("updated_at", "DATETIME"), schema.CodeBadUserInput},
		{"creator", in("creator", "TEXT"), schema.CodeBadUserInput},
		{"filter operator or", in("or", "BOOLEAN"), schema.CodeBadUserInput},
		{"existing extra", in("color", "TEXT"), schema.CodeBadUserInput},
		{"archived extra", in("old_color", "TEXT"), schema.CodeBadUserInput},
		{"empty display name", in("trim", "CHAR", "displayName", ""), schema.CodeBadUserInput},
		{"integer 1.5", in("n", "INTEGER", "default", "1.5"), schema.CodeBadUserInput},
		{"integer abc", in("n", "INTEGER", "default", "abc"), schema.CodeBadUserInput},
		{"bigint over int64", in("n", "BIGINT", "default", "9223372036854775808"), schema.CodeBadUserInput},
		{"float NaN", in("n", "FLOAT", "default", "NaN"), schema.CodeBadUserInput},
		{"float inf", in("n", "FLOAT", "default", "inf"), schema.CodeBadUserInput},
		{"boolean yes", in("n", "BOOLEAN", "default", "yes"), schema.CodeBadUserInput},
		{"date month 13", in("n", "DATE", "default", "2024-13-01"), schema.CodeBadUserInput},
		{"datetime without zone", in("n", "DATETIME", "default", "2024-05-01T13:45:00"), schema.CodeBadUserInput},
		{"time 25:00", in("n", "TIME", "default", "25:00:00"), schema.CodeBadUserInput},
		{"char over 255", in("n", "CHAR", "default", strings.Repeat("é", 256)), schema.CodeBadUserInput},
		{"required without default", in("n", "TEXT", "required", true), schema.CodeBadUserInput},
		{"unknown brand", map[string]any{"brand": "lexus", "name": "n", "displayName": "X", "type": "CHAR"}, schema.CodeNotFound},
		{"unknown type", in("n", "VARCHAR"), schema.CodeBadUserInput},
	} {
		res := srv.do(t, alias, exCreateExtra, map[string]any{"in": tc.in})
		if res.Code() != tc.code {
			t.Errorf("%s: status %d %s, want code %s", tc.label, res.Status, res.Body, tc.code)
			continue
		}
		if res.Status >= 500 || len(res.Errors) != 1 || res.Data["createExtra"] != nil {
			t.Errorf("%s: status %d %s, want one error and no data", tc.label, res.Status, res.Body)
		}
		if msg := res.Errors[0].Message; strings.Contains(msg, "pq:") || strings.Contains(msg, "ALTER") ||
			strings.ContainsRune(msg, 0) || msg == "" {
			t.Errorf("%s: message %q leaks SQL or control bytes", tc.label, msg)
		}
	}
	if after := exState(t, tn); after != before {
		t.Errorf("refused changes changed the tenant:\nbefore %s\nafter  %s", before, after)
	}

	// 63 bytes is PostgreSQL's limit and fine.
	long := "t" + strings.Repeat("x", 62)
	srv.createExtra(t, alias, map[string]any{"brand": "toyota", "name": long, "displayName": "Long", "type": "INTEGER"})
	data := srv.ok(t, alias, fmt.Sprintf(`{ toyotaList(orderBy: [%s_DESC]) { items { %s } } }`, strings.ToUpper(long), long), nil)
	if got := exJSON(data); got != `{"toyotaList":{"items":[{"`+long+`":null}]}}` {
		t.Errorf("63-byte field = %s", got)
	}
}

// TestExtras_MutationAlone: a change of shape commits on its own, so it
// must be the only field of its mutation; otherwise it is refused at once
// and the whole request changes nothing.
func TestExtras_MutationAlone(t *testing.T) {
	t.Parallel()
	srv := newExtrasServer(t, extrasConfig{})
	tn := newExtrasTenant(t)
	alias := tn.Alias
	rows := func() int {
		t.Helper()
		var n int
		if err := tenancytest.DB(t).Get(&n, `SELECT count(*) FROM `+pq.QuoteIdentifier(tn.Namespace)+`.toyota`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	const extra = `createExtra(input: {brand: "toyota", name: "trim", displayName: "Trim", type: CHAR}) { id }`
	for _, tc := range []struct{ label, query string }{
		{"row written first", `mutation { createToyota(input: {model: "x"}) { id } ` + extra + ` }`},
		{"row written after", `mutation { ` + extra + ` createToyota(input: {model: "x"}) { id } }`},
		{"two changes", `mutation { ` + extra + ` b: createExtra(input: {brand: "toyota", name: "b", displayName: "B", type: CHAR}) { id } }`},
		{"change and brand", `mutation { ` + extra + ` createBrand(input: {name: "lexus", displayName: "Lexus"}) { id } }`},
		{"through a fragment", `mutation { ...m createToyota(input: {model: "x"}) { id } } fragment m on Mutation { ` + extra + ` }`},
	} {
		before, n := exState(t, tn), rows()
		start := time.Now()
		res := srv.do(t, alias, tc.query, nil)
		if took := time.Since(start); took > time.Second {
			t.Errorf("%s: took %v, want a quick refusal", tc.label, took)
		}
		if res.Code() != schema.CodeBadUserInput || res.Data != nil {
			t.Errorf("%s: status %d %s, want %s and no data", tc.label, res.Status, res.Body, schema.CodeBadUserInput)
		}
		if after := exState(t, tn); after != before || rows() != n {
			t.Errorf("%s: the refused request changed the tenant:\nbefore %s\nafter  %s", tc.label, before, after)
		}
	}
	// Alone, with __typename beside it, it goes through.
	data := srv.ok(t, alias, `mutation { __typename `+extra+` }`, nil)
	if exDig(data, "createExtra.id") == nil {
		t.Errorf("createExtra alone = %s", exJSON(data))
	}
}

// TestExtras_ConcurrentChanges runs readers against a table while its
// extras change, and checks that every response ran wholly on one schema
// version: the type's fields it saw are the fields of that version.
func TestExtras_ConcurrentChanges(t *testing.T) {
	t.Parallel()
	const (
		readers = 20
		changes = 30
	)
	srv := newExtrasServer(t, extrasConfig{})
	tn := newExtrasTenant(t)
	alias := tn.Alias
	for i := range 5 {
		srv.ok(t, alias, fmt.Sprintf(`mutation { createToyota(input: {model: "m%d"}) { id } }`, i), nil)
	}
	base := []string{"created_at", "creator", "id", "model", "updated_at", "user_id"}

	// fieldsAt[v] is the sorted field list of Toyota at schema version v.
	var mu sync.Mutex
	fieldsAt := map[int64]string{exVersion(t, tn.ID): strings.Join(base, ",")}

	type seen struct {
		status  int
		version int64
		fields  string
		errs    []exError
		body    string
		took    time.Duration
	}
	var results []seen
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// stopReaders also runs when the test fails early, so no reader
	// outlives it.
	stopReaders := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopReaders()
	const read = `{
		toyotaList(limit: 5, orderBy: [ID_ASC]) { totalCount items { __typename id model created_at } }
		__type(name: "Toyota") { fields { name } }
	}`
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				start := time.Now()
				res, err := srv.send(alias, read, nil, nil)
				if err != nil {
					t.Errorf("reader: %v", err)
					return
				}
				var names []string
				fields, _ := exDig(res.Data, "__type.fields").([]any)
				for _, f := range fields {
					n, _ := exDig(f, "name").(string)
					names = append(names, n)
				}
				sort.Strings(names)
				mu.Lock()
				results = append(results, seen{res.Status, res.Version, strings.Join(names, ","), res.Errors, res.Body, time.Since(start)})
				mu.Unlock()
			}
		}()
	}

	// The changes run one after another, so each version's fields are
	// known: create, create, rename, archive, restore, and again.
	type extra struct {
		id, name string
		archived bool
	}
	var extras []*extra
	pick := func(archived bool) *extra {
		for i := len(extras) - 1; i >= 0; i-- {
			if extras[i].archived == archived {
				return extras[i]
			}
		}
		t.Fatalf("no extra with archived=%v among %d", archived, len(extras))
		return nil
	}
	types := []string{"CHAR", "INTEGER", "BIGINT", "BOOLEAN", "DATETIME", "TEXT", "FLOAT", "DATE", "TIME"}
	lockTimeouts := 0
	start := time.Now()
	for i := 0; i < changes; i++ {
		var query string
		var vars map[string]any
		var apply func()
		switch i % 5 {
		case 0, 1:
			name := fmt.Sprintf("c%d", i)
			query, vars = exCreateExtra, map[string]any{"in": map[string]any{
				"brand": "toyota", "name": name, "displayName": name, "type": types[i%len(types)]}}
		case 2:
			e := pick(false)
			name := fmt.Sprintf("r%d", i)
			query = `mutation($id: ID!, $in: UpdateExtraInput!) { updateExtra(id: $id, input: $in) { id name } }`
			vars = map[string]any{"id": e.id, "in": map[string]any{"name": name}}
			apply = func() { e.name = name }
		case 3:
			e := pick(false)
			query = `mutation($id: ID!, $c: String!) { deleteExtra(id: $id, confirm: $c) { id name } }`
			vars = map[string]any{"id": e.id, "c": e.name}
			apply = func() { e.archived = true }
		case 4:
			e := pick(true)
			query = `mutation($id: ID!) { restoreExtra(id: $id) { id name } }`
			vars = map[string]any{"id": e.id}
			apply = func() { e.archived = false }
		}
		res := srv.do(t, alias, query, vars)
		if res.Code() == schema.CodeLockTimeout {
			// Allowed under load: retryable, and it changed nothing.
			lockTimeouts++
			i--
			continue
		}
		if len(res.Errors) > 0 || res.Status != http.StatusOK {
			t.Fatalf("change %d: %s", i, res.Body)
		}
		if apply == nil {
			id, _ := exDig(res.Data, "createExtra.id").(string)
			name, _ := exDig(res.Data, "createExtra.name").(string)
			extras = append(extras, &extra{id: id, name: name})
		} else {
			apply()
		}
		names := slices.Clone(base)
		for _, e := range extras {
			if !e.archived {
				names = append(names, e.name)
			}
		}
		sort.Strings(names)
		mu.Lock()
		if _, dup := fieldsAt[res.Version]; dup {
			t.Errorf("change %d reported version %d twice", i, res.Version)
		}
		fieldsAt[res.Version] = strings.Join(names, ",")
		mu.Unlock()
	}
	changing := time.Since(start)
	// Let the readers see the last version for a moment.
	time.Sleep(50 * time.Millisecond)
	stopReaders()
	if ctx.Err() != nil {
		t.Fatalf("the test ran out of time")
	}

	var ok, retryable int
	var slowest time.Duration
	versions := map[int64]int{}
	for _, r := range results {
		slowest = max(slowest, r.took)
		if r.status >= 500 {
			t.Errorf("status %d: %s", r.status, r.body)
			continue
		}
		for _, e := range r.errs {
			for _, bad := range []string{"pq:", "SELECT", "column", "relation"} {
				if strings.Contains(e.Message, bad) {
					t.Errorf("error message leaks %q: %s", bad, r.body)
				}
			}
		}
		want, known := fieldsAt[r.version]
		if !known {
			t.Errorf("response reports version %d, which no change produced: %s", r.version, r.body)
			continue
		}
		if len(r.errs) == 0 {
			ok++
			versions[r.version]++
			if r.fields != want {
				t.Errorf("version %d: response saw fields %s, want %s", r.version, r.fields, want)
			}
			if !strings.Contains(r.body, `"totalCount":5`) || strings.Count(r.body, `"__typename":"Toyota"`) != 5 {
				t.Errorf("version %d: malformed success %s", r.version, r.body)
			}
			continue
		}
		for _, e := range r.errs {
			if e.Code() != schema.CodeSchemaChanged || !e.Retryable() {
				t.Errorf("version %d: error %+v, want only retryable %s", r.version, e, schema.CodeSchemaChanged)
			}
		}
		retryable++
	}
	if ok == 0 {
		t.Errorf("no reader succeeded")
	}
	if t.Failed() {
		t.Logf("server log:\n%s", srv.Logs)
	}
	t.Logf("%d changes in %v (%d lock timeouts retried); %d reads: %d ok over %d versions, %d retryable %s; slowest read %v",
		changes, changing.Round(time.Millisecond), lockTimeouts, len(results), ok, len(versions), retryable,
		schema.CodeSchemaChanged, slowest.Round(time.Millisecond))
}

func TestExtras_LockTimeout(t *testing.T) {
	t.Parallel()
	const lockTimeout = 300 * time.Millisecond
	srv := newExtrasServer(t, extrasConfig{LockTimeout: lockTimeout})
	tn := newExtrasTenant(t)
	alias := tn.Alias
	srv.ok(t, alias, `mutation { createToyota(input: {model: "Corolla"}) { id } }`, nil)
	srv.ok(t, alias, `{ toyotaList { totalCount } }`, nil) // built before the lock
	before := exState(t, tn)

	// A transaction that read the table stays open.
	holder, err := tenancytest.DB(t).Beginx()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Rollback() })
	if _, err := holder.Exec(`SELECT count(*) FROM ` + pq.QuoteIdentifier(tn.Namespace) + `.toyota`); err != nil {
		t.Fatal(err)
	}

	// Readers run throughout; none may wait much longer than the lock
	// timeout for the queued ALTER TABLE.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	stopReaders := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopReaders()
	var mu sync.Mutex
	var slowest time.Duration
	reads := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				res, err := srv.send(alias, `{ toyotaList { totalCount items { id model } } }`, nil, nil)
				took := time.Since(start)
				if err != nil {
					t.Errorf("reader: %v", err)
					return
				}
				if len(res.Errors) > 0 {
					t.Errorf("reader during the lock wait: %s", res.Body)
					return
				}
				mu.Lock()
				slowest = max(slowest, took)
				reads++
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(30 * time.Millisecond)

	start := time.Now()
	res := srv.do(t, alias, exCreateExtra, map[string]any{"in": map[string]any{
		"brand": "toyota", "name": "trim", "displayName": "Trim", "type": "CHAR"}})
	took := time.Since(start)
	time.Sleep(30 * time.Millisecond)
	stopReaders()

	if res.Code() != schema.CodeLockTimeout || !res.Errors[0].Retryable() || res.Data["createExtra"] != nil {
		t.Fatalf("createExtra under a lock: status %d %s, want retryable %s", res.Status, res.Body, schema.CodeLockTimeout)
	}
	if took < lockTimeout || took > lockTimeout+2*time.Second {
		t.Errorf("createExtra gave up after %v, want about %v", took, lockTimeout)
	}
	if slowest > lockTimeout+time.Second {
		t.Errorf("slowest of %d reads took %v, want at most about the lock timeout %v", reads, slowest, lockTimeout)
	}
	if after := exState(t, tn); after != before {
		t.Errorf("the timed-out change changed the tenant:\nbefore %s\nafter  %s", before, after)
	}
	srv.fail(t, alias, schema.CodeValidation, `{ toyotaList { items { trim } } }`, nil)
	t.Logf("createExtra gave up after %v; %d reads meanwhile, slowest %v", took.Round(time.Millisecond), reads, slowest.Round(time.Millisecond))

	// Retried once the table is free, it goes through.
	holder.Rollback()
	srv.createExtra(t, alias, map[string]any{"brand": "toyota", "name": "trim", "displayName": "Trim", "type": "CHAR"})
	srv.ok(t, alias, `{ toyotaList { items { trim } } }`, nil)
}

// TestExtras_Refresh is `tenant refresh`: a column added with plain SQL
// reaches a running server's API once the store bumps the version.
func TestExtras_Refresh(t *testing.T) {
	t.Parallel()
	srv := newExtrasServer(t, extrasConfig{Watch: true})
	tn := newExtrasTenant(t)
	alias := tn.Alias
	srv.ok(t, alias, `mutation { createToyota(input: {model: "Corolla"}) { id } }`, nil)

	if _, err := tenancytest.DB(t).Exec(`ALTER TABLE ` + pq.QuoteIdentifier(tn.Namespace) + `.toyota ADD COLUMN sunroof boolean NOT NULL DEFAULT true`); err != nil {
		t.Fatal(err)
	}
	// Without a refresh the server keeps its schema.
	srv.fail(t, alias, schema.CodeValidation, `{ toyotaList { items { sunroof } } }`, nil)

	v, err := tenancy.NewStore(tenancytest.DB(t), tenancytest.DSN(t)).Refresh(context.Background(), alias)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if v != tn.SchemaVersion+1 {
		t.Errorf("Refresh = %d, want %d", v, tn.SchemaVersion+1)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		res := srv.do(t, alias, `{ toyotaList { items { model sunroof } } }`, nil)
		if len(res.Errors) == 0 {
			if got := exJSON(res.Data); got != `{"toyotaList":{"items":[{"model":"Corolla","sunroof":true}]}}` || res.Version != v {
				t.Errorf("after refresh: %s, version %d (want %d)", got, res.Version, v)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not rebuild within 5s of Refresh: %s", res.Body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The new column can be written too.
	srv.ok(t, alias, `mutation { createToyota(input: {model: "Yaris", sunroof: false}) { sunroof } }`, nil)

	if _, err := tenancy.NewStore(tenancytest.DB(t), tenancytest.DSN(t)).Refresh(context.Background(), "nosuchalias"); err == nil {
		t.Errorf("Refresh of an unknown alias succeeded")
	}
}

// BenchmarkRegistry_Rebuild measures what a change costs a replica: read
// the tenant's catalog, build its schema and swap it in, for a brand table
// with 10 and with 100 extras. Each round uses a fresh registry, so no
// shape built before is reused, as after a real change of shape.
func BenchmarkRegistry_Rebuild(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("extras=%d", n), func(b *testing.B) {
			db := tenancytest.DB(b)
			tn := tenancytest.NewTenant(b, db)
			exAddExtras(b, db, tn, n)
			opts := &schema.Options{Changer: ddl.NewChanger(db, 0)}
			ctx := context.Background()
			for b.Loop() {
				reg := schema.NewRegistry(db, opts, 0)
				built, err := reg.Rebuild(ctx, tn)
				if err != nil {
					b.Fatal(err)
				}
				if built.Version != tn.SchemaVersion {
					b.Fatalf("built version %d, want %d", built.Version, tn.SchemaVersion)
				}
			}
		})
	}
}

// BenchmarkServer_CreateExtra measures the createExtra round trip over
// HTTP for a tenant with 100 extras: DDL, commit, rebuild and swap, as the
// mutation answers only once the new schema serves. Between rounds the new
// extra is purged, untimed, so every round starts from 100 extras.
func BenchmarkServer_CreateExtra(b *testing.B) {
	srv := newExtrasServer(b, extrasConfig{})
	db := tenancytest.DB(b)
	tn := tenancytest.NewTenant(b, db)
	exAddExtras(b, db, tn, 100)
	var mu sync.Mutex
	var builds []time.Duration
	srv.Registry.OnBuild = func(_ string, d time.Duration, _ error, _ bool) {
		mu.Lock()
		builds = append(builds, d)
		mu.Unlock()
	}
	srv.ok(b, tn.Alias, `{ toyotaList { totalCount } }`, nil)
	ch := ddl.NewChanger(db, 0)
	ctx := context.Background()
	var trips []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		id, _ := srv.createExtra(b, tn.Alias, map[string]any{"brand": "toyota", "name": "bench", "displayName": "Bench", "type": "INTEGER"})
		trips = append(trips, time.Since(start))

		b.StopTimer()
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := ch.ArchiveExtra(ctx, tn, n, "bench"); err != nil {
			b.Fatal(err)
		}
		if _, _, err := ch.PurgeExtra(ctx, tn, n, "bench"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(exPercentile(trips, 50).Microseconds())/1000, "p50-ms")
	mu.Lock()
	defer mu.Unlock()
	b.ReportMetric(float64(exPercentile(builds, 50).Microseconds())/1000, "rebuild-p50-ms")
}

// exAddExtras adds n extras of every type, round robin, to toyota.
func exAddExtras(tb testing.TB, db *sqlx.DB, tn *tenancy.Tenant, n int) {
	tb.Helper()
	ch := ddl.NewChanger(db, 0)
	for i := range n {
		typ := ddl.Types[i%len(ddl.Types)]
		_, v, err := ch.CreateExtra(context.Background(), tn, ddl.NewExtra{
			Brand: "toyota", Name: fmt.Sprintf("e%03d_%s", i, typ.Name), DisplayName: "Extra " + typ.Name, Type: typ.Name})
		if err != nil {
			tb.Fatalf("CreateExtra: %v", err)
		}
		tn.SchemaVersion = v
	}
}

// exPercentile returns the p-th exPercentile of ds, nearest rank.
func exPercentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (p*len(s)+99)/100 - 1
	return s[max(0, min(i, len(s)-1))]
}
