package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"tenantgraph/identity"
	"tenantgraph/schema"
	"tenantgraph/server"
	"tenantgraph/tenancy"
	"tenantgraph/tenancy/tenancytest"
)

// lockedBuffer is a bytes.Buffer safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServer_RequestLog checks that each request's log line names the
// country served, however the request named it, and that the latency
// metric is labelled with the route.
func TestServer_RequestLog(t *testing.T) {
	t.Parallel()
	db := tenancytest.DB(t)
	tenant := tenancytest.NewTenant(t, db)
	var logs lockedBuffer
	users := identity.NewStore(db)
	metrics := server.NewMetrics(db.DB, "test", func() int { return 0 })
	hs := httptest.NewServer(server.New(server.Options{
		DB:       db,
		Tenants:  tenancy.NewDirectory(tenancy.NewStore(db, tenancytest.DSN(t))),
		Registry: schema.NewRegistry(db, &schema.Options{}, 0),
		Users:    users,
		Metrics:  metrics,
		Logger:   slog.New(slog.NewJSONHandler(&logs, nil)),
	}))
	t.Cleanup(hs.Close)
	token := newAdminToken(t, users)

	post := func(path, xTenant string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, hs.URL+path, strings.NewReader(`{"query": "{ brands { totalCount } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		if xTenant != "" {
			req.Header.Set("X-Tenant", xTenant)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", path, res.StatusCode, body)
		}
	}
	post("/country/"+strings.ToLower(tenant.Alias)+"/graphql", "")
	post("/graphql", tenant.Alias)

	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("%d request lines, want 2:\n%s", len(lines), logs.String())
	}
	for _, m := range lines {
		if m["tenant"] != tenant.Alias {
			t.Errorf("%v: tenant = %q, want %q", m["path"], m["tenant"], tenant.Alias)
		}
	}

	res, err := http.Get(hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, route := range []string{`route="/country/{alias}/graphql"`, `route="/graphql"`} {
		if !strings.Contains(string(body), route) {
			t.Errorf("/metrics has no latency for %s", route)
		}
	}
}
