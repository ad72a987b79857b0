package schema

import "testing"

func TestMaxChars(t *testing.T) {
	for sqlType, want := range map[string]int{
		"character varying(255)": 255,
		"character(2)":           2,
		"character varying":      0,
		"text":                   0,
		"integer":                0,
	} {
		if got := maxChars(sqlType); got != want {
			t.Errorf("maxChars(%q) = %d, want %d", sqlType, got, want)
		}
	}
}
