package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"tenantgraph/tenancy"
	"tenantgraph/tenancy/tenancytest"
)

// rowsPerBrand is how many rows each brand table of each tenant starts with
// in the load tests.
const rowsPerBrand = 40

// seedMarked inserts rowsPerBrand rows into every brand table of t, each
// model starting with t's alias so a row from the wrong tenant shows.
func seedMarked(tb testing.TB, db *sqlx.DB, t *tenancy.Tenant) {
	tb.Helper()
	for _, brand := range brands {
		exec(tb, db, t, `INSERT INTO `+brand+` (model) SELECT $1 || '-' || $2 || '-' || g FROM generate_series(1, $3) g`,
			t.Alias, brand, rowsPerBrand)
	}
}

// postBody builds a POST request carrying the server's token.
func (s *testServer) postBody(alias, query string, vars map[string]any) *http.Request {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, s.URL+graphqlPath(alias), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.token)
	return req
}

// models collects every "model" string anywhere in v.
func models(v any, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "model" {
				*out = append(*out, s)
			} else {
				models(x, out)
			}
		}
	case []any:
		for _, x := range v {
			models(x, out)
		}
	}
}

func TestServer_TenantIsolation(t *testing.T) {
	t.Parallel()
	shared := tenancytest.DB(t)
	// Two tenants of the same shape: they share one built schema, so only
	// the request tells them apart.
	tenants := []*tenancy.Tenant{tenancytest.NewTenant(t, shared), tenancytest.NewTenant(t, shared)}
	for _, tn := range tenants {
		seedMarked(t, shared, tn)
	}

	// The server gets a pool of its own, smaller than the load, so
	// connections pass from one tenant's request to the other's all the
	// time.
	pool, err := sqlx.Open("postgres", tenancytest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	pool.SetMaxOpenConns(2)
	t.Cleanup(func() { pool.Close() })
	srv := newServer(t, pool)

	const requests = 2000
	const workers = 32
	var (
		next     atomic.Int64
		failures atomic.Int64
		checked  atomic.Int64
		mu       sync.Mutex
		created  = map[string]int{} // alias/brand -> rows created
	)
	fail := func(format string, args ...any) {
		if failures.Add(1) <= 20 {
			t.Errorf(format, args...)
		}
	}
	work := func() {
		for {
			i := next.Add(1)
			if i > requests {
				return
			}
			tn := tenants[i%2]
			other := tenants[(i+1)%2]
			brand := brands[rand.IntN(len(brands))]
			typ := typeName(brand)
			var q string
			var vars map[string]any
			switch i % 6 {
			case 0:
				q = fmt.Sprintf(`{ page: %sList(limit: 100, orderBy: [ID_DESC]) { totalCount items { id model } } }`, brand)
			case 1:
				q = fmt.Sprintf(`query($id: ID!) { one: %s(id: $id) { id model } }`, brand)
				vars = map[string]any{"id": rand.IntN(rowsPerBrand) + 1}
			case 2:
				q = fmt.Sprintf(`mutation($in: %sInput!) { row: create%s(input: $in) { id model } }`, typ, typ)
				vars = map[string]any{"in": map[string]any{"model": tn.Alias + "-" + brand + "-new"}}
			case 3:
				q = fmt.Sprintf(`query($mine: String, $theirs: String) {
					mine: %[1]sList(filter: {model: {like: $mine}}, limit: 0) { totalCount }
					theirs: %[1]sList(filter: {model: {like: $theirs}}, limit: 0) { totalCount } }`, brand)
				vars = map[string]any{"mine": tn.Alias + "-%", "theirs": other.Alias + "-%"}
			case 4:
				q = `{ t: toyotaList(limit: 5) { items { model } } f: fordList(limit: 5, offset: 7) { items { model } } c: chevroletList(limit: 5, filter: {id: {in: [1, 2, 3]}}) { items { model } } }`
			case 5:
				q = fmt.Sprintf(`{ one: %s(id: "%d") { model creator { id } } brands { items { name } } }`, brand, rand.IntN(rowsPerBrand)+1)
			}
			res, err := srv.send(srv.postBody(tn.Alias, q, vars))
			if err != nil {
				fail("request %d: %v", i, err)
				continue
			}
			if res.Status != http.StatusOK || len(res.Errors) > 0 {
				fail("request %d for %s: status %d: %s", i, tn.Alias, res.Status, res.Body)
				continue
			}
			var data map[string]any
			if err := json.Unmarshal(res.Data, &data); err != nil {
				fail("request %d: %v", i, err)
				continue
			}
			var ms []string
			models(data, &ms)
			for _, m := range ms {
				if !strings.HasPrefix(m, tn.Alias+"-") {
					fail("request %d for %s got a row of another tenant: %q", i, tn.Alias, m)
				}
			}
			checked.Add(int64(len(ms)))
			switch i % 6 {
			case 1, 5:
				if len(ms) != 1 {
					fail("request %d: by id found %d rows: %s", i, len(ms), res.Body)
				}
			case 2:
				mu.Lock()
				created[tn.Alias+"/"+brand]++
				mu.Unlock()
			case 3:
				mine := data["mine"].(map[string]any)["totalCount"].(float64)
				theirs := data["theirs"].(map[string]any)["totalCount"].(float64)
				if mine < rowsPerBrand || theirs != 0 {
					fail("request %d for %s: counts mine %v, theirs %v", i, tn.Alias, mine, theirs)
				}
			}
		}
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(work)
	}
	wg.Wait()
	if checked.Load() < requests {
		t.Errorf("only %d rows checked", checked.Load())
	}

	// The tables hold exactly the tenant's own rows.
	for _, tn := range tenants {
		for _, brand := range brands {
			var own, foreign int
			err := shared.QueryRow(`SELECT count(*) FILTER (WHERE model LIKE $1), count(*) FILTER (WHERE model NOT LIKE $1)
				FROM `+pq.QuoteIdentifier(tn.Namespace)+`.`+brand, tn.Alias+"-%").Scan(&own, &foreign)
			if err != nil {
				t.Fatal(err)
			}
			want := rowsPerBrand + created[tn.Alias+"/"+brand]
			if own != want || foreign != 0 {
				t.Errorf("%s.%s: %d own rows (want %d), %d foreign", tn.Alias, brand, own, want, foreign)
			}
		}
	}
	// No connection was left inside a transaction or with a tenant's path.
	stats := pool.Stats()
	if stats.InUse != 0 {
		t.Errorf("%d connections still in use", stats.InUse)
	}
	var path string
	if err := pool.QueryRow(`SHOW search_path`).Scan(&path); err != nil {
		t.Fatal(err)
	}
	for _, tn := range tenants {
		if strings.Contains(path, tn.Namespace) {
			t.Errorf("a pooled connection kept search_path %q", path)
		}
	}
}

func TestServer_RebuildRace(t *testing.T) {
	t.Parallel()
	db := tenancytest.DB(t)
	srv := newServer(t, db)
	tenant := tenancytest.NewTenant(t, db)
	seedMarked(t, db, tenant)
	// An extra, so the extras query serializes an enum value.
	srv.alter(t, tenant,
		`ALTER TABLE toyota ADD COLUMN trim varchar(255)`,
		`INSERT INTO extras (brand, name, display_name, type) VALUES ('toyota', 'trim', 'Trim level', 'char')`)

	queries := []struct {
		q    string
		vars map[string]any
	}{
		{`{ toyotaList(limit: 10, orderBy: [MODEL_DESC, ID_ASC]) { totalCount items { id model trim } } }`, nil},
		{`query($o: [FordOrderBy!]) { fordList(limit: 10, orderBy: $o) { items { id model } } }`, map[string]any{"o": []any{"CREATED_AT_DESC"}}},
		{`query($f: ChevroletFilter) { chevroletList(filter: $f) { totalCount } }`, map[string]any{"f": map[string]any{"or": []any{
			map[string]any{"id": map[string]any{"in": []any{"1", "2"}}}, map[string]any{"model": map[string]any{"ilike": "%-3%"}}}}}},
		{`{ extras { items { name type display_name archived } } brands { items { name } } }`, nil},
		{`{ toyota(id: "1") { model creator { name } } }`, nil},
		{`{ __type(name: "Toyota") { fields { name type { name kind ofType { name } } } } }`, nil},
		{`mutation { createFord(input: {model: "race"}) { id model } }`, nil},
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var errCount atomic.Int64
	fail := func(format string, args ...any) {
		if errCount.Add(1) <= 20 {
			t.Errorf(format, args...)
		}
	}
	var requests atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			var last float64
			for i := w; ctx.Err() == nil; i++ {
				q := queries[i%len(queries)]
				res, err := srv.send(srv.postBody(tenant.Alias, q.q, q.vars))
				requests.Add(1)
				if err != nil {
					fail("worker %d: %v", w, err)
					continue
				}
				if res.Status != http.StatusOK || len(res.Errors) > 0 {
					fail("worker %d: status %d: %s", w, res.Status, res.Body)
					continue
				}
				v := res.Extensions["schemaVersion"].(float64)
				if v < last {
					fail("worker %d: schema version went back from %v to %v", w, last, v)
				}
				last = v
			}
		})
	}

	// Meanwhile the tenant's version keeps moving, half of the time with a
	// new column, so new shapes are built while requests run.
	var version int64
	for i := range 24 {
		if i%2 == 0 {
			version = srv.alter(t, tenant, fmt.Sprintf(`ALTER TABLE toyota ADD COLUMN extra_%d integer`, i))
		} else {
			v, err := tenancy.BumpVersion(ctx, db, tenant.ID)
			if err != nil {
				t.Fatal(err)
			}
			version = v
			if i%4 == 1 {
				srv.Registry.Observe(tenant.ID, v)
			} else {
				srv.Dir.SetVersion(tenant.ID, v)
			}
		}
		time.Sleep(15 * time.Millisecond)
	}
	srv.Dir.SetVersion(tenant.ID, version)
	time.Sleep(50 * time.Millisecond)
	cancel()
	wg.Wait()
	t.Logf("%d requests during 24 changes", requests.Load())

	// The last change is served, with every column it added.
	res := srv.post(t, tenant.Alias, `{ toyotaList(limit: 1) { items { extra_0 extra_22 } } }`, nil)
	if len(res.Errors) > 0 {
		t.Fatalf("new columns: %s", res.Body)
	}
	if got := res.Extensions["schemaVersion"].(float64); int64(got) != version {
		t.Errorf("schemaVersion = %v, want %d", got, version)
	}
	if v, ok := srv.Registry.Current(tenant.ID); !ok || v != version {
		t.Errorf("registry serves version %d, want %d", v, version)
	}
}
