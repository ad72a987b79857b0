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
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"tenantgraph/identity"
	"tenantgraph/tenancy/tenancytest"
)

// TestConformance runs the tools users point at the server, from
// conformance/ (Node.js), against a full server on a loopback listener:
// graphql-js introspection compared with the SDL, graphql-codegen and tsc,
// the graphql-http audit suite and the urql client; then it adds an extra
// and checks that introspection and codegen see it. Node.js and npm must be
// installed; npm ci runs when conformance/node_modules is missing or stale.
func TestConformance(t *testing.T) {
	ensureNodeModules(t)
	s := newConformanceServer(t)

	t.Run("Introspection", func(t *testing.T) {
		s.node(t, "introspection.mjs")
	})
	t.Run("Codegen", func(t *testing.T) {
		s.codegen(t, true)
	})
	t.Run("HTTPAudit", func(t *testing.T) {
		s.audit(t)
	})
	t.Run("HTTPEdges", s.httpEdges)
	t.Run("Client", func(t *testing.T) {
		s.node(t, "client.mjs")
	})
	t.Run("NewExtra", func(t *testing.T) {
		s.graphql(t, `mutation($input: CreateExtraInput!) { createExtra(input: $input) { name } }`,
			map[string]any{"input": map[string]any{
				"brand": "toyota", "name": "trim_level", "displayName": "Trim level", "type": "CHAR",
			}})
		s.node(t, "introspection.mjs", "Toyota.trim_level", "ToyotaInput.trim_level")

		schemaTS := s.codegen(t, false)
		m := regexp.MustCompile(`(?s)export type Toyota = \{.*?\n\};`).FindString(schemaTS)
		if m == "" {
			t.Fatalf("generated/schema.ts has no type Toyota:\n%s", schemaTS)
		}
		if !strings.Contains(m, "trim_level?: Maybe<Scalars['String']['output']>;") {
			t.Errorf("codegen's Toyota lacks the new extra trim_level:\n%s", m)
		}
	})
}

// codegen generates TypeScript from the live schema, type-checks the
// client in conformance/client against it when typecheck is set, and
// returns generated/schema.ts.
func (s *conformanceServer) codegen(t *testing.T, typecheck bool) string {
	t.Helper()
	gen := filepath.Join(conformanceDir, "generated")
	if err := os.RemoveAll(gen); err != nil {
		t.Fatal(err)
	}
	s.node(t, "node_modules/@graphql-codegen/cli/esm/bin.js", "--config", "codegen.yml", "--silent")
	if typecheck {
		s.node(t, "node_modules/typescript/bin/tsc", "-p", "tsconfig.json")
	}
	out, err := os.ReadFile(filepath.Join(gen, "schema.ts"))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// auditResult is one audit of graphql-http's serverAudits as audit.mjs
// reports it.
type auditResult struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Level  string `json:"level"`
	Status string `json:"status"`
	Reason string `json:"reason"`
}

// audit runs the GraphQL-over-HTTP audits on both endpoints: every MUST
// must pass (audit.mjs exits 1 otherwise), and the README's conformance
// section must list exactly the SHOULD and MAY audits that do not.
func (s *conformanceServer) audit(t *testing.T) {
	t.Helper()
	var report map[string][]auditResult
	if err := json.Unmarshal(s.node(t, "audit.mjs"), &report); err != nil {
		t.Fatalf("audit.mjs output: %v", err)
	}
	failing := map[string]bool{}
	for _, endpoint := range []string{"tenant", "admin"} {
		results := report[endpoint]
		if len(results) == 0 {
			t.Fatalf("audit.mjs reported no audits for %s", endpoint)
		}
		var counts []string
		for _, level := range []string{"MUST", "SHOULD", "MAY"} {
			pass, total := 0, 0
			for _, r := range results {
				if r.Level != level {
					continue
				}
				total++
				if r.Status == "ok" {
					pass++
					continue
				}
				if level == "MUST" {
					t.Errorf("%s: %s %s: %s", endpoint, r.ID, r.Name, r.Reason)
				}
				failing[r.ID] = true
				t.Logf("%s: not passing: %s %s: %s", endpoint, r.ID, r.Name, r.Reason)
			}
			counts = append(counts, fmt.Sprintf("%s %d/%d", level, pass, total))
		}
		t.Logf("%s: %s", endpoint, strings.Join(counts, ", "))
	}

	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	section, ok := readmeSection(string(readme), "## GraphQL over HTTP conformance")
	if !ok {
		t.Fatal(`README.md has no section "## GraphQL over HTTP conformance"`)
	}
	// Audits are listed as "- `ID` ...".
	var listed []string
	for _, m := range regexp.MustCompile("(?m)^- `([0-9A-Z]{4})`").FindAllStringSubmatch(section, -1) {
		listed = append(listed, m[1])
	}
	var want []string
	for id := range failing {
		want = append(want, id)
	}
	sort.Strings(listed)
	sort.Strings(want)
	if !slices.Equal(listed, want) {
		t.Errorf("README.md's conformance section lists audits %v as not passing; they are %v", listed, want)
	}
}

// httpEdges covers GraphQL-over-HTTP cases the audit suite leaves out.
func (s *conformanceServer) httpEdges(t *testing.T) {
	endpoint := s.URL + "/country/" + s.Alias + "/graphql"
	tests := []struct {
		name, method, query, contentType, accept, body string
		status                                         int
		respType                                       string
	}{
		{name: "GET extensions not JSON", method: "GET", query: "?query=%7B__typename%7D&extensions=abc",
			status: 400, respType: "application/json"},
		{name: "GET extensions object", method: "GET", query: "?query=%7B__typename%7D&extensions=%7B%7D",
			status: 200, respType: "application/json"},
		{name: "POST charset utf-16", method: "POST", contentType: "application/json; charset=utf-16",
			body: `{"query":"{ __typename }"}`, status: 415, respType: "application/json"},
		{name: "POST charset UTF-8", method: "POST", contentType: "application/json; charset=UTF-8",
			body: `{"query":"{ __typename }"}`, status: 200, respType: "application/json"},
		{name: "Accept graphql-response q=0", method: "POST", contentType: "application/json",
			accept: "application/graphql-response+json;q=0, application/json",
			body:   `{"query":"{ nope }"}`, status: 200, respType: "application/json"},
		{name: "Accept graphql-response q=0.5", method: "POST", contentType: "application/json",
			accept: "application/graphql-response+json;q=0.5, application/json",
			body:   `{"query":"{ nope }"}`, status: 400, respType: "application/graphql-response+json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, endpoint+tc.query, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+s.Token)
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			ct := resp.Header.Get("Content-Type")
			if resp.StatusCode != tc.status || !strings.HasPrefix(ct, tc.respType) {
				t.Errorf("got %d %s, want %d %s; body %s", resp.StatusCode, ct, tc.status, tc.respType, body)
			}
		})
	}
}

// readmeSection returns the text of the section that starts with heading,
// up to the next heading of the same level.
func readmeSection(doc, heading string) (string, bool) {
	_, rest, ok := strings.Cut(doc, "\n"+heading+"\n")
	if !ok {
		return "", false
	}
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[:i]
	}
	return rest, true
}

// conformanceServer is a full server on a loopback listener with a tenant
// and an admin's API token, as the Node.js checks in conformance/ see it.
type conformanceServer struct {
	URL   string
	Token string
	Alias string
}

// newConformanceServer starts the server as NewApp wires it, and creates a
// tenant, an admin user and an API token for that user.
func newConformanceServer(t *testing.T) *conformanceServer {
	t.Helper()
	lw := &testLogWriter{t: t}
	t.Cleanup(lw.stop)
	db := tenancytest.DB(t)
	tenant := tenancytest.NewTenant(t, db)

	ctx := context.Background()
	users := identity.NewStore(db)
	email := fmt.Sprintf("conformance-%d-%d@example.com", time.Now().UnixNano(), rand.IntN(1e6))
	u, err := users.CreateUser(ctx, email, "Conformance", "", true)
	if err != nil {
		t.Fatalf("create admin user: %v", err)
	}
	secret, _, err := users.CreateToken(ctx, u.ID, "conformance", nil)
	if err != nil {
		t.Fatalf("create API token: %v", err)
	}

	srv := httptest.NewUnstartedServer(nil)
	cfg := DefaultConfig()
	cfg.DatabaseURL = tenancytest.DSN(t)
	cfg.PublicURL = "http://" + srv.Listener.Addr().String()
	logger := slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	app, err := NewApp(ctx, cfg, logger)
	if err != nil {
		t.Fatalf("NewApp: %v", err)
	}
	t.Cleanup(func() { app.Close() })
	srv.Config.Handler = app.Handler
	srv.Start()
	t.Cleanup(srv.Close)

	return &conformanceServer{URL: srv.URL, Token: secret, Alias: tenant.Alias}
}

// testLogWriter passes the server's log lines to the test log until stop.
type testLogWriter struct {
	mu      sync.Mutex
	t       *testing.T
	stopped bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.t.Log("server: " + strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testLogWriter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
}

// conformanceDir holds the Node.js checks and their package.json.
const conformanceDir = "conformance"

// ensureNodeModules runs npm ci in conformance/ when node_modules is
// missing (a fresh clone) or older than package-lock.json. Without Node.js
// and npm the test fails: it does not skip.
func ensureNodeModules(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not on PATH: the conformance checks need Node.js 20 or later and npm", tool)
		}
	}
	lock, err := os.Stat(filepath.Join(conformanceDir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	// npm writes node_modules/.package-lock.json at the end of an install.
	installed, err := os.Stat(filepath.Join(conformanceDir, "node_modules", ".package-lock.json"))
	if err == nil && !installed.ModTime().Before(lock.ModTime()) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = conformanceDir
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", conformanceDir, err, out)
	}
	t.Logf("npm ci: %s", time.Since(start).Round(time.Millisecond))
}

// node runs a script of conformance/ with URL, TOKEN and ALIAS set and
// returns its stdout; a non-zero exit fails the test with its output.
func (s *conformanceServer) node(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = conformanceDir
	cmd.Env = append(os.Environ(), "URL="+s.URL, "TOKEN="+s.Token, "ALIAS="+s.Alias)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	name := strings.Join(args, " ")
	if err != nil {
		t.Fatalf("node %s: %v\nstdout:\n%s\nstderr:\n%s", name, err, stdout.String(), stderr.String())
	}
	// Reports meant for the test (JSON) are not worth logging in full.
	shown := stdout.String()
	if len(shown) > 500 {
		shown = ""
	}
	t.Logf("node %s: %s\n%s%s", name, time.Since(start).Round(time.Millisecond), stderr.String(), shown)
	return stdout.Bytes()
}

// graphql posts a request to the tenant's endpoint with the token and fails
// the test unless it succeeds without errors.
func (s *conformanceServer) graphql(t *testing.T, query string, vars map[string]any) map[string]any {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, s.URL+"/country/"+s.Alias+"/graphql", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST graphql: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		Data   map[string]any   `json:"data"`
		Errors []map[string]any `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("POST graphql: decode response: %v", err)
	}
	if resp.StatusCode != http.StatusOK || len(out.Errors) > 0 {
		t.Fatalf("POST graphql: status %d, errors %v", resp.StatusCode, out.Errors)
	}
	return out.Data
}
