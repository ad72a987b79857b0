package tenancy_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"tenantgraph/tenancy"
)

func TestNamespace(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name, country, alias, want string
		}{
			{"spec example", "Mexico", "MX", "mexico_mx_schema"},
			{"spaces", "United States", "US", "united_states_us_schema"},
			{"accent", "México", "MX", "mexico_mx_schema"},
			{"decomposed accent", "Me\u0301xico", "MX", "mexico_mx_schema"},
			{"several accents", "São Tomé and Príncipe", "ST", "sao_tome_and_principe_st_schema"},
			{"ring and umlaut", "Åland Über", "AX", "aland_uber_ax_schema"},
			{"apostrophe removed", "Côte d'Ivoire", "CI", "cote_divoire_ci_schema"},
			{"punctuation removed", "Timor-Leste (East Timor)!", "TL", "timor_leste_east_timor_tl_schema"},
			{"ampersand and runs of spaces", "  Trinidad   &  Tobago ", "TT", "trinidad_tobago_tt_schema"},
			{"tabs and newlines", "New\tZealand\n", "NZ", "new_zealand_nz_schema"},
			{"upper case", "GERMANY", "DE", "germany_de_schema"},
			{"alias lower cased", "Mexico", "mX", "mexico_mx_schema"},
			{"hyphens", "Guinea-Bissau", "GW", "guinea_bissau_gw_schema"},
			{"hyphens and spaces collapse", "a - b -- c", "AB", "a_b_c_ab_schema"},
			{"underscores kept and collapsed", "__snake__case__", "SC", "snake_case_sc_schema"},
			{"digits", "Area 51", "A51", "area_51_a51_schema"},
			{"non-latin letters dropped", "Nihon 日本", "JP", "nihon_jp_schema"},
			{"NUL dropped", "Mex\x00ico", "MX", "mexico_mx_schema"},
			{"ten-character alias", "Land", "ABCDE12345", "land_abcde12345_schema"},
			// 53 + len("_ab_schema") = 63 bytes, the limit itself.
			{"exactly 63 bytes", strings.Repeat("a", 53), "AB", strings.Repeat("a", 53) + "_ab_schema"},
			// Length counts after folding: "é" is 2 bytes, "e" is 1.
			{"63 bytes after folding", strings.Repeat("é", 53), "AB", strings.Repeat("e", 53) + "_ab_schema"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := tenancy.Namespace(tt.country, tt.alias)
				if err != nil {
					t.Fatalf("Namespace(%q, %q) error: %v", tt.country, tt.alias, err)
				}
				if got != tt.want {
					t.Errorf("Namespace(%q, %q) = %q, want %q", tt.country, tt.alias, got, tt.want)
				}
			})
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name, country, alias string
		}{
			{"empty name", "", "MX"},
			{"blank name", " \t\n ", "MX"},
			{"only punctuation", "!!! ... ???", "MX"},
			{"only hyphens and underscores", "-_- _-_", "MX"},
			{"only non-latin letters", "日本", "JP"},
			{"64 bytes", strings.Repeat("a", 54), "AB"},
			{"far over the limit", strings.Repeat("United States ", 10), "US"},
			{"empty alias", "Mexico", ""},
			{"one-character alias", "Mexico", "M"},
			{"eleven-character alias", "Mexico", "ABCDEFGHIJK"},
			{"alias with hyphen", "Mexico", "M-X"},
			{"alias with underscore", "Mexico", "M_X"},
			{"alias with space", "Mexico", "M X"},
			{"alias with accent", "Mexico", "MÉ"},
			{"alias with quote", "Mexico", `M"X`},
			{"alias with NUL", "Mexico", "MX\x00"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := tenancy.Namespace(tt.country, tt.alias)
				if !errors.Is(err, tenancy.ErrInvalid) {
					t.Fatalf("Namespace(%q, %q) = %q, %v; want an error wrapping ErrInvalid", tt.country, tt.alias, got, err)
				}
				if got != "" {
					t.Errorf("Namespace(%q, %q) returned %q with its error; want no name", tt.country, tt.alias, got)
				}
			})
		}
	})
}

// TestNamespace_Concurrent guards against a shared transformer: a
// transform.Chain keeps state, and sharing one between goroutines raced and
// panicked with "slice bounds out of range".
func TestNamespace_Concurrent(t *testing.T) {
	t.Parallel()
	names := []string{"São Tomé and Príncipe", strings.Repeat("é", 53), "México", "Côte d'Ivoire"}
	want := []string{"sao_tome_and_principe_ab_schema", strings.Repeat("e", 53) + "_ab_schema", "mexico_ab_schema", "cote_divoire_ab_schema"}

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				k := (g + i) % len(names)
				got, err := tenancy.Namespace(names[k], "AB")
				if err != nil || got != want[k] {
					t.Errorf("Namespace(%q, AB) = %q, %v; want %q", names[k], got, err, want[k])
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestValidateAlias(t *testing.T) {
	t.Parallel()
	tests := []struct {
		alias string
		ok    bool
	}{
		{"MX", true},
		{"us", true},
		{"A1", true},
		{"ABCDE12345", true},
		{"", false},
		{"M", false},
		{"ABCDE123456", false},
		{"M-X", false},
		{"M X", false},
		{" MX", false},
		{"MX\n", false},
		{"MÉ", false},
	}
	for _, tt := range tests {
		t.Run(tt.alias, func(t *testing.T) {
			err := tenancy.ValidateAlias(tt.alias)
			switch {
			case tt.ok && err != nil:
				t.Errorf("ValidateAlias(%q) = %v, want nil", tt.alias, err)
			case !tt.ok && !errors.Is(err, tenancy.ErrInvalid):
				t.Errorf("ValidateAlias(%q) = %v, want an error wrapping ErrInvalid", tt.alias, err)
			}
		})
	}
}

func TestValidateAreaCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code string
		ok   bool
	}{
		{"", true},
		{"1", true},
		{"52", true},
		{"1868", true},
		{"12345", false},
		{"abc", false},
		{"5a", false},
		{"+52", false},
		{"-1", false},
		{"5 2", false},
		{"٥٢", false}, // Arabic-Indic digits are not ASCII digits
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			err := tenancy.ValidateAreaCode(tt.code)
			switch {
			case tt.ok && err != nil:
				t.Errorf("ValidateAreaCode(%q) = %v, want nil", tt.code, err)
			case !tt.ok && !errors.Is(err, tenancy.ErrInvalid):
				t.Errorf("ValidateAreaCode(%q) = %v, want an error wrapping ErrInvalid", tt.code, err)
			}
		})
	}
}
