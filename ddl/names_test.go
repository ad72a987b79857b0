package ddl_test

import (
	"errors"
	"strings"
	"testing"

	"tenantgraph/ddl"
)

func TestValidateName(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		for _, name := range []string{
			"a",
			"trim_level",
			"x1",
			"a_1_b",
			"a" + strings.Repeat("b", ddl.MaxNameBytes-1), // 63 bytes, PostgreSQL's limit
		} {
			if err := ddl.ValidateName("extra name", name); err != nil {
				t.Errorf("ValidateName(%q) = %v, want nil", name, err)
			}
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct{ label, name string }{
			{"empty", ""},
			{"upper case", "Trim"},
			{"all upper case", "TRIM"},
			{"space", "trim level"},
			{"leading space", " trim"},
			{"double quote", `tr"im`},
			{"single quote", "tr'im"},
			{"semicolon", "trim;drop table toyota"},
			{"hyphen", "trim-level"},
			{"dot", "toyota.trim"},
			{"NUL byte", "trim\x00level"},
			{"trailing NUL byte", "trim\x00"},
			{"newline", "trim\n"},
			{"leading digit", "1trim"},
			{"leading underscore", "_trim"},
			{"leading double underscore", "__trim"},
			{"GraphQL introspection name", "__typename"},
			{"non-ASCII letter", "año"},
			{"64 bytes", "a" + strings.Repeat("b", ddl.MaxNameBytes)},
			{"64 bytes of multibyte", strings.Repeat("é", 32)},
		} {
			err := ddl.ValidateName("extra name", tc.name)
			if !errors.Is(err, ddl.ErrInvalid) {
				t.Errorf("%s: ValidateName(%q) = %v, want ErrInvalid", tc.label, tc.name, err)
				continue
			}
			msg := err.Error()
			if strings.ContainsRune(msg, 0) || strings.ContainsRune(msg, '\n') {
				t.Errorf("%s: message %q carries a control byte of the name unescaped", tc.label, msg)
			}
			if !strings.Contains(msg, "extra name") {
				t.Errorf("%s: message %q does not say what was named", tc.label, msg)
			}
		}
	})

	t.Run("ErrQuotesTheNameOnce", func(t *testing.T) {
		t.Parallel()
		err := ddl.ValidateName("extra name", `a"b`)
		if err == nil || !strings.Contains(err.Error(), `extra name "a\"b":`) {
			t.Errorf("ValidateName(%q) = %v, want the name quoted once, as \"a\\\"b\"", `a"b`, err)
		}
	})
}

func TestValidateExtraName(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		for _, name := range []string{"trim_level", "ids", "model_year", "creator_name", "android"} {
			if err := ddl.ValidateExtraName(name); err != nil {
				t.Errorf("ValidateExtraName(%q) = %v, want nil", name, err)
			}
		}
	})

	t.Run("ErrBaseColumn", func(t *testing.T) {
		t.Parallel()
		for _, name := range append([]string{"id", "model", "created_at", "user_id", "updated_at", "creator"}, ddl.BaseColumns...) {
			err := ddl.ValidateExtraName(name)
			if !errors.Is(err, ddl.ErrInvalid) {
				t.Errorf("ValidateExtraName(%q) = %v, want ErrInvalid", name, err)
			}
		}
	})

	t.Run("ErrFilterOperator", func(t *testing.T) {
		t.Parallel()
		// Every brand's filter type has and, or and not; a column of that
		// name would lose its filter to them.
		for _, name := range []string{"and", "or", "not"} {
			if err := ddl.ValidateExtraName(name); !errors.Is(err, ddl.ErrInvalid) {
				t.Errorf("ValidateExtraName(%q) = %v, want ErrInvalid", name, err)
			}
		}
	})

	t.Run("ErrName", func(t *testing.T) {
		t.Parallel()
		for _, name := range []string{"", "Trim", "1a", "__a", `a"`, "a;b", "a\x00"} {
			if err := ddl.ValidateExtraName(name); !errors.Is(err, ddl.ErrInvalid) {
				t.Errorf("ValidateExtraName(%q) = %v, want ErrInvalid", name, err)
			}
		}
	})
}

func TestValidateBrandName(t *testing.T) {
	t.Parallel()
	existing := []string{"chevrolet", "ford", "toyota", "land_rover"}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		for _, name := range []string{"lexus", "aston_martin", "ford2", "toyotas"} {
			if err := ddl.ValidateBrandName(name, existing); err != nil {
				t.Errorf("ValidateBrandName(%q) = %v, want nil", name, err)
			}
		}
	})

	for _, tc := range []struct {
		label, name string
		want        error
	}{
		{"existing brand", "toyota", ddl.ErrConflict},
		{"same type name as another brand", "land__rover", ddl.ErrConflict},
		{"type name of a built-in type", "query", ddl.ErrConflict},
		{"type name Brand", "brand_list", ddl.ErrConflict},
		{"type name Extra", "extra", ddl.ErrConflict},
		{"type name BigInt", "big_int", ddl.ErrConflict},
		{"brand table", "brand", ddl.ErrInvalid},
		{"extras table", "extras", ddl.ErrInvalid},
		{"goose table", "goose_db_version", ddl.ErrInvalid},
		{"query field brands", "brands", ddl.ErrInvalid},
		{"upper case", "Lexus", ddl.ErrInvalid},
		{"quote", `lexus"`, ddl.ErrInvalid},
		{"64 bytes", strings.Repeat("l", 64), ddl.ErrInvalid},
	} {
		t.Run("Err/"+tc.label, func(t *testing.T) {
			t.Parallel()
			if err := ddl.ValidateBrandName(tc.name, existing); !errors.Is(err, tc.want) {
				t.Errorf("ValidateBrandName(%q) = %v, want %v", tc.name, err, tc.want)
			}
		})
	}
}

func TestTypeName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ table, want string }{
		{"toyota", "Toyota"},
		{"land_rover", "LandRover"},
		{"land__rover", "LandRover"},
		{"x1_y", "X1Y"},
		{"a_", "A"},
	} {
		if got := ddl.TypeName(tc.table); got != tc.want {
			t.Errorf("TypeName(%q) = %q, want %q", tc.table, got, tc.want)
		}
	}
	got := ddl.TypeNames("land_rover")
	want := []string{"LandRover", "LandRoverList", "LandRoverFilter", "LandRoverOrderBy", "LandRoverInput", "LandRoverPatch"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("TypeNames(land_rover) = %v, want %v", got, want)
	}
}
