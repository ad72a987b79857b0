package server_test

import (
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tenantgraph/tenancy/tenancytest"
)

var update = flag.Bool("update", false, "rewrite golden files under schema/testdata")

// seededGolden is the SDL of a freshly seeded tenant, shared with the
// schema package's tests.
var seededGolden = filepath.Join("..", "schema", "testdata", "seeded.graphql")

func TestServer_SDL(t *testing.T) {
	t.Parallel()
	db := tenancytest.DB(t)
	srv := newServer(t, db)
	tenant := tenancytest.NewTenant(t, db)

	t.Run("OK", func(t *testing.T) {
		res, err := srv.client.Do(srv.newRequest(t, http.MethodGet, "/country/"+tenant.Alias+"/schema.graphql", nil))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		got, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", res.StatusCode, got)
		}
		if ct := res.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Errorf("Content-Type = %q", ct)
		}
		if res.Header.Get("X-Schema-Version") == "" {
			t.Error("no X-Schema-Version header")
		}
		if *update {
			if err := os.WriteFile(seededGolden, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(seededGolden)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("SDL differs from %s (-want +got), run with -update if intended:\n%s", seededGolden, diff)
		}
	})

	t.Run("ErrUnknownTenant", func(t *testing.T) {
		res, err := srv.client.Do(srv.newRequest(t, http.MethodGet, "/country/Tnosuchxx/schema.graphql", nil))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("status = %d, want 404", res.StatusCode)
		}
		if ct := res.Header.Get("Content-Type"); !strings.Contains(ct, "json") {
			t.Errorf("Content-Type = %q, want a JSON error like the GraphQL endpoint's", ct)
		}
	})

	// An anonymous caller gets 401 whether or not the country exists, so
	// it cannot find out which aliases do.
	t.Run("ErrAnonymousSameForEveryAlias", func(t *testing.T) {
		for _, path := range []string{
			"/country/" + tenant.Alias + "/schema.graphql",
			"/country/Tnosuchxx/schema.graphql",
			"/country/" + tenant.Alias + "/graphql?query=%7B__typename%7D",
			"/country/Tnosuchxx/graphql?query=%7B__typename%7D",
		} {
			res, err := srv.client.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("anonymous GET %s: status %d, want 401", path, res.StatusCode)
			}
		}
	})
}
