package ddl_test

import (
	"errors"
	"strings"
	"testing"

	"tenantgraph/ddl"
)

func TestLookupType(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		want := map[string][2]string{
			"char":     {"varchar(255)", "String"},
			"text":     {"text", "String"},
			"integer":  {"integer", "Int"},
			"bigint":   {"bigint", "BigInt"},
			"float":    {"double precision", "Float"},
			"boolean":  {"boolean", "Boolean"},
			"date":     {"date", "Date"},
			"datetime": {"timestamptz", "DateTime"},
			"time":     {"time", "Time"},
		}
		if len(ddl.Types) != len(want) {
			t.Errorf("len(Types) = %d, want %d", len(ddl.Types), len(want))
		}
		for name, w := range want {
			typ, err := ddl.LookupType(name)
			if err != nil {
				t.Errorf("LookupType(%q): %v", name, err)
				continue
			}
			if typ.Name != name || typ.SQL != w[0] || typ.GraphQL != w[1] {
				t.Errorf("LookupType(%q) = %+v, want SQL %s, GraphQL %s", name, typ, w[0], w[1])
			}
		}
	})

	t.Run("ErrUnknown", func(t *testing.T) {
		t.Parallel()
		for _, name := range []string{"", "CHAR", "varchar", "numeric", "json", "text; drop table toyota"} {
			_, err := ddl.LookupType(name)
			if !errors.Is(err, ddl.ErrInvalid) {
				t.Errorf("LookupType(%q) = %v, want ErrInvalid", name, err)
				continue
			}
			if !strings.Contains(err.Error(), "datetime") {
				t.Errorf("LookupType(%q): message %q does not list the types", name, err)
			}
		}
	})
}

func TestParseDefault(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct{ typ, in, want string }{
			{"char", "", ""},
			{"char", "n/a", "n/a"},
			{"char", strings.Repeat("é", 255), strings.Repeat("é", 255)}, // 255 characters, 510 bytes
			{"char", "it's", "it's"},
			{"text", strings.Repeat("x", 10000), strings.Repeat("x", 10000)},
			{"text", `back\slash '; DROP TABLE toyota; --`, `back\slash '; DROP TABLE toyota; --`},
			{"integer", "42", "42"},
			{"integer", " -7 ", "-7"},
			{"integer", "+5", "5"},
			{"integer", "2147483647", "2147483647"},
			{"integer", "-2147483648", "-2147483648"},
			{"bigint", "9223372036854775807", "9223372036854775807"},
			{"bigint", "-9223372036854775808", "-9223372036854775808"},
			{"float", "1.5", "1.5"},
			{"float", "1e3", "1000"},
			{"float", "-0.25", "-0.25"},
			{"boolean", "true", "true"},
			{"boolean", "FALSE", "false"},
			{"date", "2024-02-29", "2024-02-29"},
			{"datetime", "2024-05-01T13:45:00Z", "2024-05-01T13:45:00Z"},
			{"datetime", "2024-05-01T15:45:00.5+02:00", "2024-05-01T13:45:00.5Z"},
			{"time", "08:30:00", "08:30:00"},
			{"time", "23:59:59.999999", "23:59:59.999999"},
			{"time", "08:30", "08:30"},
		} {
			typ, err := ddl.LookupType(tc.typ)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ddl.ParseDefault(typ, tc.in)
			if err != nil {
				t.Errorf("ParseDefault(%s, %q): %v", tc.typ, tc.in, err)
				continue
			}
			if got != tc.want {
				t.Errorf("ParseDefault(%s, %q) = %q, want %q", tc.typ, tc.in, got, tc.want)
			}
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct{ typ, in string }{
			{"char", strings.Repeat("x", 256)},
			{"char", "a\x00b"},
			{"text", "\x00"},
			{"integer", "1.5"},
			{"integer", "abc"},
			{"integer", ""},
			{"integer", "2147483648"},
			{"integer", "-2147483649"},
			{"integer", "1e3"},
			{"integer", "0x10"},
			{"integer", "1; DROP TABLE toyota"},
			{"bigint", "9223372036854775808"},
			{"bigint", "-9223372036854775809"},
			{"bigint", "1.0"},
			{"float", "NaN"},
			{"float", "nan"},
			{"float", "inf"},
			{"float", "-Infinity"},
			{"float", "1e400"},
			{"float", "abc"},
			{"float", ""},
			{"boolean", "yes"},
			{"boolean", "1"},
			{"boolean", "t"},
			{"boolean", ""},
			{"date", "2024-13-01"},
			{"date", "2023-02-29"},
			{"date", "2024-1-1"},
			{"date", "01/02/2024"},
			{"date", "2024-05-01T00:00:00Z"},
			{"datetime", "2024-05-01T13:45:00"},
			{"datetime", "2024-05-01 13:45:00Z"},
			{"datetime", "2024-05-01"},
			{"datetime", "now"},
			{"time", "25:00:00"},
			{"time", "24:00:00"},
			{"time", "12:60:00"},
			{"time", "12:00:00+02"},
			{"time", "noon"},
			{"time", "8:30:00"},
		} {
			typ, err := ddl.LookupType(tc.typ)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ddl.ParseDefault(typ, tc.in)
			if !errors.Is(err, ddl.ErrInvalid) {
				t.Errorf("ParseDefault(%s, %q) = %q, %v; want ErrInvalid", tc.typ, tc.in, got, err)
				continue
			}
			if strings.ContainsRune(err.Error(), 0) {
				t.Errorf("ParseDefault(%s, %q): message %q carries a NUL byte", tc.typ, tc.in, err)
			}
		}
	})
}
