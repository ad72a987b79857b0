package ddl

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Type is one of the nine types an extra may have.
type Type struct {
	Name    string // as stored in extras.type
	SQL     string // column type
	GraphQL string // GraphQL type of the field
}

// Types are the supported extra types, as in administration.types.
var Types = []Type{
	{"char", "varchar(255)", "String"},
	{"text", "text", "String"},
	{"integer", "integer", "Int"},
	{"bigint", "bigint", "BigInt"},
	{"float", "double precision", "Float"},
	{"boolean", "boolean", "Boolean"},
	{"date", "date", "Date"},
	{"datetime", "timestamptz", "DateTime"},
	{"time", "time", "Time"},
}

// LookupType returns the type called name.
func LookupType(name string) (Type, error) {
	for _, t := range Types {
		if t.Name == name {
			return t, nil
		}
	}
	names := make([]string, len(Types))
	for i, t := range Types {
		names[i] = t.Name
	}
	return Type{}, fmt.Errorf("%w: type %q is not one of %s", ErrInvalid, name, strings.Join(names, ", "))
}

var timeOfDayRE = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$`)

// ParseDefault parses s as a value of type t and returns it in canonical
// text form, the only form that reaches DDL (as a quoted literal).
func ParseDefault(t Type, s string) (string, error) {
	bad := func(want string) error {
		return fmt.Errorf("%w: default %q is not %s", ErrInvalid, s, want)
	}
	if strings.ContainsRune(s, 0) {
		return "", fmt.Errorf("%w: default contains a NUL byte", ErrInvalid)
	}
	switch t.Name {
	case "char":
		if utf8.RuneCountInString(s) > 255 {
			return "", bad("at most 255 characters")
		}
		return s, nil
	case "text":
		return s, nil
	case "integer":
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return "", bad("a whole number from -2147483648 to 2147483647")
		}
		return strconv.FormatInt(n, 10), nil
	case "bigint":
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return "", bad("a whole number within 64 bits")
		}
		return strconv.FormatInt(n, 10), nil
	case "float":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return "", bad("a finite number")
		}
		return strconv.FormatFloat(f, 'g', -1, 64), nil
	case "boolean":
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			return "true", nil
		case "false":
			return "false", nil
		}
		return "", bad("true or false")
	case "date":
		d, err := time.Parse("2006-01-02", s)
		if err != nil {
			return "", bad("a date YYYY-MM-DD")
		}
		return d.Format("2006-01-02"), nil
	case "datetime":
		d, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return "", bad("an RFC 3339 date-time such as 2024-05-01T13:45:00Z")
		}
		return d.UTC().Format(time.RFC3339Nano), nil
	case "time":
		if !timeOfDayRE.MatchString(s) {
			return "", bad("a time of day HH:MM:SS")
		}
		return s, nil
	}
	return "", fmt.Errorf("%w: unknown type %q", ErrInvalid, t.Name)
}
