package schema_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tenantgraph/ddl"
	"tenantgraph/schema"
	"tenantgraph/tenancy"
	"tenantgraph/tenancy/tenancytest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// build reads the tenant's catalog and builds its schema as the server
// does, with the shape-changing mutations.
func build(tb testing.TB, t *tenancy.Tenant) *schema.Built {
	tb.Helper()
	db := tenancytest.DB(tb)
	cat, err := tenancy.ReadCatalog(context.Background(), db, t.Namespace)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := schema.Build(t, cat, &schema.Options{Changer: ddl.NewChanger(db, 0)})
	if err != nil {
		tb.Fatal(err)
	}
	if len(b.Omitted) > 0 {
		tb.Errorf("omitted: %q", b.Omitted)
	}
	return b
}

// golden compares got with the file testdata/name, or rewrites the file
// when -update is set.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got); run with -update if the change is intended:\n%s", path, diff)
	}
}

func TestBuilt_SDL(t *testing.T) {
	t.Parallel()
	db := tenancytest.DB(t)

	t.Run("Seeded", func(t *testing.T) {
		t.Parallel()
		tenant := tenancytest.NewTenant(t, db)
		got := build(t, tenant).SDL()
		golden(t, "seeded.graphql", got)
		// The order is stable from one build to the next.
		if again := build(t, tenant).SDL(); again != got {
			t.Errorf("a second build prints differently:\n%s", cmp.Diff(got, again))
		}
	})

	t.Run("Extra", func(t *testing.T) {
		t.Parallel()
		tenant := tenancytest.NewTenant(t, db)
		addExtras(t, db, tenant, []extra{{"toyota", "trim_level", "Trim level", "char"}, {"ford", "towing_kg", "Towing capacity", "bigint"}})
		sdl := build(t, tenant).SDL()
		for _, want := range []string{
			"  \"\"\"Trim level\"\"\"\n  trim_level: String\n",
			"  \"\"\"Towing capacity\"\"\"\n  towing_kg: BigInt\n",
			"  towing_kg: BigIntFilter\n",
			"  TRIM_LEVEL_DESC\n",
		} {
			if !strings.Contains(sdl, want) {
				t.Errorf("SDL lacks %q", want)
			}
		}
	})
}
