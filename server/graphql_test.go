package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"tenantgraph/schema"
	"tenantgraph/tenancy/tenancytest"
)

const (
	mediaJSON    = "application/json; charset=utf-8"
	mediaGraphQL = "application/graphql-response+json; charset=utf-8"
)

func TestServer_GraphQL(t *testing.T) {
	t.Parallel()
	db := tenancytest.DB(t)
	srv := newServer(t, db)
	tenant := tenancytest.NewTenant(t, db)
	alias := tenant.Alias

	// alive fails the test unless the server still answers a query.
	alive := func(t *testing.T) {
		t.Helper()
		var data struct{ Brands struct{ TotalCount int } }
		srv.mustPost(t, alias, `{ brands { totalCount } }`, nil, &data)
		if data.Brands.TotalCount != 3 {
			t.Fatalf("brands totalCount = %d, want 3", data.Brands.TotalCount)
		}
	}
	// rawPost posts body as it is.
	rawPost := func(t *testing.T, path, contentType string, body []byte) *gqlResponse {
		t.Helper()
		req := srv.newRequest(t, http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		return srv.do(t, req)
	}
	get := func(t *testing.T, params url.Values, accept string) *gqlResponse {
		t.Helper()
		req := srv.newRequest(t, http.MethodGet, graphqlPath(alias)+"?"+params.Encode(), nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		return srv.do(t, req)
	}

	t.Run("OK", func(t *testing.T) {
		alive(t)
	})

	t.Run("GET", func(t *testing.T) {
		res := get(t, url.Values{"query": {`query($n: String!) { brand(name: $n) { name foundation_year } }`}, "variables": {`{"n": "ford"}`}}, "")
		var data struct {
			Brand struct {
				Name            string
				Foundation_year int
			}
		}
		res.decode(t, &data)
		if res.Status != http.StatusOK || data.Brand.Name != "ford" || data.Brand.Foundation_year != 1903 {
			t.Errorf("status %d, data %s", res.Status, res.Data)
		}
		if res.ContentType != mediaJSON {
			t.Errorf("Content-Type = %q", res.ContentType)
		}
	})

	t.Run("OperationName", func(t *testing.T) {
		doc := `query A { brand(name: "ford") { name } } query B { brand(name: "toyota") { name } }`
		body, _ := json.Marshal(map[string]any{"query": doc, "operationName": "B"})
		req := srv.newRequest(t, http.MethodPost, graphqlPath(alias), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		var data struct{ Brand struct{ Name string } }
		srv.do(t, req).decode(t, &data)
		if data.Brand.Name != "toyota" {
			t.Errorf("ran %q, want operation B", data.Brand.Name)
		}
		srv.post(t, alias, doc, nil).wantError(t, schema.CodeBadUserInput, "operationName")
	})

	t.Run("MediaTypes", func(t *testing.T) {
		bad := `{ toyotaList { items { nope } } }`
		good := `{ brands { totalCount } }`
		notFound := `mutation { deleteToyota(id: "987654321") { id } }`
		tests := []struct {
			name, accept, query string
			status              int
			contentType         string
		}{
			{"JSONValid", "application/json", good, http.StatusOK, mediaJSON},
			{"JSONInvalid", "application/json", bad, http.StatusOK, mediaJSON},
			{"NoAcceptInvalid", "", bad, http.StatusOK, mediaJSON},
			{"AnyInvalid", "*/*", bad, http.StatusOK, mediaJSON},
			{"GraphQLValid", "application/graphql-response+json", good, http.StatusOK, mediaGraphQL},
			{"GraphQLInvalid", "application/graphql-response+json", bad, http.StatusBadRequest, mediaGraphQL},
			{"GraphQLListed", "application/json;q=0.9, application/graphql-response+json", bad, http.StatusBadRequest, mediaGraphQL},
			{"GraphQLFieldError", "application/graphql-response+json", notFound, http.StatusOK, mediaGraphQL},
			{"JSONFieldError", "application/json", notFound, http.StatusOK, mediaJSON},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				req := srv.newPost(t, alias, tt.query, nil)
				req.Header.Del("Accept")
				if tt.accept != "" {
					req.Header.Set("Accept", tt.accept)
				}
				res := srv.do(t, req)
				if res.Status != tt.status {
					t.Errorf("status = %d, want %d: %s", res.Status, tt.status, res.Body)
				}
				if res.ContentType != tt.contentType {
					t.Errorf("Content-Type = %q, want %q", res.ContentType, tt.contentType)
				}
				if _, ok := res.Extensions["schemaVersion"].(float64); !ok {
					t.Errorf("no extensions.schemaVersion: %s", res.Body)
				}
				if tt.query == bad && res.Data != nil {
					t.Errorf("a request that never ran has data: %s", res.Body)
				}
				if tt.query == notFound && string(res.Data) != "null" {
					t.Errorf("a request that ran has data %s, want null", res.Data)
				}
			})
		}
		// GET follows the same rules.
		res := get(t, url.Values{"query": {bad}}, "application/graphql-response+json")
		if res.Status != http.StatusBadRequest || res.ContentType != mediaGraphQL {
			t.Errorf("GET invalid: status %d, Content-Type %q", res.Status, res.ContentType)
		}
	})

	// Each case is a bad request: it gets a clear error with its code and
	// the server goes on serving.
	type badCase struct {
		name   string
		send   func(t *testing.T) *gqlResponse
		status int
		code   string
		words  []string
	}
	query := func(q string, vars map[string]any) func(t *testing.T) *gqlResponse {
		return func(t *testing.T) *gqlResponse { return srv.post(t, alias, q, vars) }
	}
	limitVar := `query($l: Int) { toyotaList(limit: $l) { totalCount } }`
	nested := strings.Repeat("{", 100_000)
	// Each fragment spreads the next twice: 2^40 fields once expanded.
	doubling := "query { ...F0 }"
	for i := range 40 {
		doubling += fmt.Sprintf(" fragment F%d on Query { ...F%d ...F%d }", i, i+1, i+1)
	}
	doubling += " fragment F40 on Query { __typename }"
	cases := []badCase{
		{"UnknownField", query(`{ toyotaList { items { nope } } }`, nil), 200, schema.CodeValidation, []string{`"nope"`}},
		{"UnknownRootField", query(`{ porsche { id } }`, nil), 200, schema.CodeValidation, []string{`"porsche"`}},
		{"UnknownArgument", query(`{ toyotaList(first: 5) { totalCount } }`, nil), 200, schema.CodeValidation, []string{`"first"`}},
		{"WrongArgType", query(`{ toyotaList(limit: "ten") { totalCount } }`, nil), 200, schema.CodeValidation, []string{"limit"}},
		{"WrongIDType", query(`{ toyota(id: true) { id } }`, nil), 200, schema.CodeValidation, []string{"id"}},
		{"WrongFilterType", query(`{ toyotaList(filter: {model: {eq: 5}}) { totalCount } }`, nil), 200, schema.CodeValidation, nil},
		{"WrongFilterOperator", query(`{ toyotaList(filter: {model: {gt: "a"}}) { totalCount } }`, nil), 200, schema.CodeValidation, []string{"gt"}},
		{"WrongVariableType", query(limitVar, map[string]any{"l": "ten"}), 200, schema.CodeBadUserInput, []string{"$l"}},
		{"VariableObjectForInt", query(limitVar, map[string]any{"l": map[string]any{"a": 1}}), 200, schema.CodeBadUserInput, []string{"$l"}},
		{"UndeclaredVariable", query(`{ toyotaList(limit: $l) { totalCount } }`, map[string]any{"l": 1}), 200, schema.CodeValidation, []string{"$l"}},
		{"MissingRequiredVariable", query(`query($id: ID!) { toyota(id: $id) { id } }`, nil), 200, schema.CodeBadUserInput, []string{"$id"}},
		{"NullRequiredVariable", query(`query($id: ID!) { toyota(id: $id) { id } }`, map[string]any{"id": nil}), 200, schema.CodeBadUserInput, []string{"$id"}},
		{"MissingInputField", query(`mutation($in: ToyotaInput!) { createToyota(input: $in) { id } }`, map[string]any{"in": map[string]any{}}), 200, schema.CodeBadUserInput, []string{"$in", "model"}},
		{"UnknownInputField", query(`mutation($in: ToyotaInput!) { createToyota(input: $in) { id } }`, map[string]any{"in": map[string]any{"model": "x", "speed": 1}}), 200, schema.CodeBadUserInput, []string{"speed"}},
		{"UnknownEnumVariable", query(`query($o: [ToyotaOrderBy!]) { toyotaList(orderBy: $o) { totalCount } }`, map[string]any{"o": []any{"SPEED_ASC"}}), 200, schema.CodeBadUserInput, []string{"$o", "SPEED_ASC", "must be a ToyotaOrderBy"}},
		{"LimitBillion", query(`{ toyotaList(limit: 1000000000) { totalCount } }`, nil), 200, schema.CodeBadUserInput, []string{"limit", "1000"}},
		{"LimitBillionVariable", query(limitVar, map[string]any{"l": 1000000000}), 200, schema.CodeBadUserInput, []string{"limit"}},
		{"Limit5000", query(`{ toyotaList(limit: 5000) { totalCount } }`, nil), 200, schema.CodeBadUserInput, []string{"limit", "5000"}},
		{"NegativeOffset", query(`{ toyotaList(offset: -5) { totalCount } }`, nil), 200, schema.CodeBadUserInput, []string{"offset"}},
		{"FractionalIntVariable", query(limitVar, map[string]any{"l": json.Number("1.7")}), 200, schema.CodeBadUserInput, []string{"$l", "1.7"}},
		{"FractionalIntLiteral", query(`{ toyotaList(limit: 1.7) { totalCount } }`, nil), 200, schema.CodeValidation, []string{"1.7"}},
		{"IntLiteral3e9", query(`{ toyotaList(limit: 3000000000) { totalCount } }`, nil), 200, schema.CodeValidation, []string{"3000000000"}},
		{"IntVariable3e9", query(limitVar, map[string]any{"l": json.Number("3000000000")}), 200, schema.CodeBadUserInput, []string{"$l", "3000000000"}},
		{"StringForIntVariable", query(limitVar, map[string]any{"l": "12"}), 200, schema.CodeBadUserInput, []string{"$l", `"12"`}},
		{"ParseError", query(`{ toyotaList { totalCount }`, nil), 200, schema.CodeParse, nil},
		{"NullLiteral", query(`{ toyotaList(filter: null) { totalCount } }`, nil), 200, schema.CodeParse, nil},
		{"EmptyQuery", query(`   `, nil), 400, schema.CodeBadUserInput, []string{"query"}},
		{"Subscription", query(`subscription { brands { totalCount } }`, nil), 200, "", nil},
		{"NestedBraces", query(nested, nil), 200, schema.CodeParse, []string{"deeper"}},
		{"NestedBalanced", query(nested+strings.Repeat("}", 100_000), nil), 200, schema.CodeParse, []string{"deeper"}},
		{"NestedLists", query(`{ toyotaList(filter: {model: {in: `+strings.Repeat("[", 100_000)+`}}) { totalCount } }`, nil), 200, schema.CodeParse, []string{"deeper"}},
		{"NestedSelections", query(`{ brands `+strings.Repeat("{ items ", 50)+strings.Repeat("}", 51), nil), 200, schema.CodeParse, []string{"deeper"}},
		{"FragmentCycle", query(`query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }`, nil), 200, schema.CodeValidation, []string{"spreads itself"}},
		{"DoublingFragments", query(doubling, nil), 200, schema.CodeValidation, []string{"5000 fields"}},
		{"SameFieldRepeated", query(`{ `+strings.Repeat(`toyotaList(limit: 1) { totalCount } `, 21)+`}`, nil), 200, schema.CodeValidation, []string{`"toyotaList"`, "21 times"}},
		{"NestedJSONVariables", func(t *testing.T) *gqlResponse {
			body := `{"query": "query($f: ToyotaFilter) { toyotaList(filter: $f) { totalCount } }", "variables": {"f": ` +
				strings.Repeat(`{"not": `, 20_000) + `{}` + strings.Repeat(`}`, 20_000) + `}}`
			return rawPost(t, graphqlPath(alias), "application/json", []byte(body))
		}, 400, schema.CodeBadUserInput, []string{"10000 levels"}},
		{"NestedFilterVariable", func(t *testing.T) *gqlResponse {
			body := `{"query": "query($f: ToyotaFilter) { toyotaList(filter: $f) { totalCount } }", "variables": {"f": ` +
				strings.Repeat(`{"not": `, 5_000) + `{}` + strings.Repeat(`}`, 5_000) + `}}`
			return rawPost(t, graphqlPath(alias), "application/json", []byte(body))
		}, 200, schema.CodeBadUserInput, []string{"$f", "deep"}},
		{"MalformedJSON", func(t *testing.T) *gqlResponse {
			return rawPost(t, graphqlPath(alias), "application/json", []byte(`{"query": "{ brands { totalCount } }"`))
		}, 400, schema.CodeBadUserInput, []string{"ends before its JSON"}},
		{"JSONArray", func(t *testing.T) *gqlResponse {
			return rawPost(t, graphqlPath(alias), "application/json", []byte(`[{"query": "{ brands { totalCount } }"}]`))
		}, 400, schema.CodeBadUserInput, []string{"is a JSON array", "JSON object"}},
		{"TrailingJSON", func(t *testing.T) *gqlResponse {
			return rawPost(t, graphqlPath(alias), "application/json", []byte(`{"query": "{ brands { totalCount } }"} {}`))
		}, 400, schema.CodeBadUserInput, []string{"more than one JSON value"}},
		{"VariablesNotObject", func(t *testing.T) *gqlResponse {
			return rawPost(t, graphqlPath(alias), "application/json", []byte(`{"query": "{ brands { totalCount } }", "variables": [1]}`))
		}, 400, schema.CodeBadUserInput, []string{"variables must be a JSON object"}},
		{"QueryNotString", func(t *testing.T) *gqlResponse {
			return rawPost(t, graphqlPath(alias), "application/json", []byte(`{"query": 5}`))
		}, 400, schema.CodeBadUserInput, []string{`"query" must be a string, not a JSON number`}},
		{"BadJSONSyntax", func(t *testing.T) *gqlResponse {
			return rawPost(t, graphqlPath(alias), "application/json", []byte(`{"query": '{}'}`))
		}, 400, schema.CodeBadUserInput, []string{"not valid JSON", "byte 11"}},
		{"BodyTooLarge", func(t *testing.T) *gqlResponse {
			body, _ := json.Marshal(map[string]any{"query": "{ brands { totalCount } }", "variables": map[string]any{"pad": strings.Repeat("x", 2<<20)}})
			return rawPost(t, graphqlPath(alias), "application/json", body)
		}, 413, schema.CodeBadUserInput, []string{"limit"}},
		{"WrongContentType", func(t *testing.T) *gqlResponse {
			return rawPost(t, graphqlPath(alias), "text/plain", []byte(`{"query": "{ brands { totalCount } }"}`))
		}, 415, schema.CodeBadUserInput, []string{"Content-Type"}},
		{"FormContentType", func(t *testing.T) *gqlResponse {
			return rawPost(t, graphqlPath(alias), "application/x-www-form-urlencoded", []byte(`query=%7B%7D`))
		}, 415, schema.CodeBadUserInput, nil},
		{"NoContentType", func(t *testing.T) *gqlResponse {
			return rawPost(t, graphqlPath(alias), "", []byte(`{"query": "{ brands { totalCount } }"}`))
		}, 415, schema.CodeBadUserInput, nil},
		{"UnknownTenant", func(t *testing.T) *gqlResponse {
			return srv.post(t, "Tnosuchxx", `{ brands { totalCount } }`, nil)
		}, 404, schema.CodeNotFound, []string{"country"}},
		{"NoTenant", func(t *testing.T) *gqlResponse {
			return rawPost(t, "/graphql", "application/json", []byte(`{"query": "{ brands { totalCount } }"}`))
		}, 404, schema.CodeNotFound, []string{"X-Tenant"}},
		{"UnknownTenantHeader", func(t *testing.T) *gqlResponse {
			req := srv.newRequest(t, http.MethodPost, "/graphql", strings.NewReader(`{"query": "{ brands { totalCount } }"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Tenant", "Tnosuchxx")
			return srv.do(t, req)
		}, 404, schema.CodeNotFound, []string{`"Tnosuchxx"`}},
		{"InvalidUTF8Body", func(t *testing.T) *gqlResponse {
			return rawPost(t, graphqlPath(alias), "application/json", []byte("{\"query\": \"{ brands { totalCount } }\", \"variables\": {\"m\": \"\xff\xfe\"}}"))
		}, 400, schema.CodeBadUserInput, []string{"UTF-8"}},
		{"InvalidUTF8GET", func(t *testing.T) *gqlResponse {
			return get(t, url.Values{"query": {"{ brands(search: \"\xff\") { totalCount } }"}}, "")
		}, 400, schema.CodeBadUserInput, []string{"UTF-8"}},
		{"InvalidAlias", func(t *testing.T) *gqlResponse {
			return srv.post(t, "a%20b", `{ brands { totalCount } }`, nil)
		}, 404, schema.CodeNotFound, nil},
		{"MutationOverGET", func(t *testing.T) *gqlResponse {
			res := get(t, url.Values{"query": {`mutation { createToyota(input: {model: "via GET"}) { id } }`}}, "")
			return res
		}, 405, schema.CodeBadUserInput, []string{"POST"}},
		{"GETBadVariables", func(t *testing.T) *gqlResponse {
			return get(t, url.Values{"query": {limitVar}, "variables": {`{"l": `}}, "")
		}, 400, schema.CodeBadUserInput, []string{"variables"}},
		{"PUT", func(t *testing.T) *gqlResponse {
			req := srv.newRequest(t, http.MethodPut, graphqlPath(alias), strings.NewReader(`{"query": "{ brands { totalCount } }"}`))
			req.Header.Set("Content-Type", "application/json")
			return srv.do(t, req)
		}, 405, schema.CodeBadUserInput, nil},
		{"NoToken", func(t *testing.T) *gqlResponse {
			req := srv.newPost(t, alias, `{ brands { totalCount } }`, nil)
			req.Header.Del("Authorization")
			return srv.do(t, req)
		}, 401, schema.CodeUnauthenticated, nil},
		{"BadToken", func(t *testing.T) *gqlResponse {
			req := srv.newPost(t, alias, `{ brands { totalCount } }`, nil)
			req.Header.Set("Authorization", "Bearer nope")
			return srv.do(t, req)
		}, 401, schema.CodeUnauthenticated, nil},
	}
	for _, tt := range cases {
		t.Run("Err"+tt.name, func(t *testing.T) {
			res := tt.send(t)
			t.Logf("%d %.300s", res.Status, res.Body)
			if tt.status != 0 && res.Status != tt.status {
				t.Errorf("status = %d, want %d: %.300s", res.Status, tt.status, res.Body)
			}
			if len(res.Errors) == 0 {
				t.Fatalf("no error: %.300s", res.Body)
			}
			if tt.code != "" {
				res.wantError(t, tt.code, tt.words...)
			}
			for _, e := range res.Errors {
				if len(e.Message) > 300 {
					t.Errorf("message is %d bytes long", len(e.Message))
				}
			}
			alive(t)
		})
	}

	t.Run("NoChanges", func(t *testing.T) {
		// None of the bad requests created a row.
		var data struct{ ToyotaList struct{ TotalCount int } }
		srv.mustPost(t, alias, `{ toyotaList { totalCount } }`, nil, &data)
		if data.ToyotaList.TotalCount != 0 {
			t.Errorf("toyota has %d rows, want 0", data.ToyotaList.TotalCount)
		}
	})

	t.Run("SchemaVersion", func(t *testing.T) {
		res := srv.post(t, alias, `{ brands { totalCount } }`, nil)
		v, _ := res.Extensions["schemaVersion"].(float64)
		if int64(v) != tenant.SchemaVersion {
			t.Errorf("schemaVersion = %v, want %d", res.Extensions["schemaVersion"], tenant.SchemaVersion)
		}
		nv := srv.alter(t, tenant, `COMMENT ON TABLE toyota IS 'bumped'`)
		res = srv.post(t, alias, `{ brands { totalCount } }`, nil)
		if got, _ := res.Extensions["schemaVersion"].(float64); int64(got) != nv {
			t.Errorf("after a bump, schemaVersion = %v, want %d", res.Extensions["schemaVersion"], nv)
		}
	})
}

// lockTable takes an ACCESS EXCLUSIVE lock on the tenant table, so every
// query of it waits; release (also run when the test ends) lets go.
func lockTable(t *testing.T, db *sqlx.DB, namespace, table string) (release func()) {
	t.Helper()
	tx, err := db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	if _, err := tx.Exec(`LOCK TABLE ` + pq.QuoteIdentifier(namespace) + `.` + pq.QuoteIdentifier(table) + ` IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestServer_RequestTimeout checks that the request timeout bounds a
// request as a whole, apart from the statement timeout: with statements
// allowed 10 s, a request stuck behind a lock is cancelled at 300 ms with
// a retryable TIMEOUT, and the pool serves the next request.
func TestServer_RequestTimeout(t *testing.T) {
	t.Parallel()
	db := tenancytest.DB(t)
	srv := newServer(t, db, func(o *schema.Options) {
		o.StatementTimeout = 10 * time.Second
		o.RequestTimeout = 300 * time.Millisecond
	})
	tenant := tenancytest.NewTenant(t, db)
	const q = `{ a: toyotaList { totalCount } b: fordList { totalCount } }`
	srv.mustPost(t, tenant.Alias, q, nil, &struct{}{})

	release := lockTable(t, db, tenant.Namespace, "ford")
	start := time.Now()
	res := srv.post(t, tenant.Alias, q, nil)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("blocked request answered after %v, want about 300ms", d)
	}
	if !slices.Contains(res.codes(), schema.CodeTimeout) {
		t.Fatalf("blocked request: %s, want a TIMEOUT error", res.Body)
	}
	release()
	for range 3 {
		srv.mustPost(t, tenant.Alias, q, nil, &struct{}{})
	}
}

// TestServer_QueryTimeout checks that a query is bounded by the statement
// timeout: a reader stuck behind a lock gets a retryable TIMEOUT, and the
// pool is fine afterwards.
func TestServer_QueryTimeout(t *testing.T) {
	t.Parallel()
	db := tenancytest.DB(t)
	srv := newServer(t, db, func(o *schema.Options) { o.StatementTimeout = 300 * time.Millisecond })
	tenant := tenancytest.NewTenant(t, db)
	const q = `{ toyotaList { totalCount items { id } } }`
	srv.mustPost(t, tenant.Alias, q, nil, &struct{}{})

	release := lockTable(t, db, tenant.Namespace, "toyota")
	start := time.Now()
	res := srv.post(t, tenant.Alias, q, nil)
	res.wantError(t, schema.CodeTimeout, "took too long")
	if res.Errors[0].Extensions["retryable"] != true {
		t.Errorf("timeout not marked retryable: %s", res.Body)
	}
	// The default timeout is 5 s; answering well before it shows the
	// configured bound applied.
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("blocked query answered after %v, want about 300ms", d)
	}
	release()
	for range 3 {
		srv.mustPost(t, tenant.Alias, q, nil, &struct{}{})
	}
}
