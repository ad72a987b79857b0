package schema

import (
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"time"

	"github.com/graphql-go/graphql"
	"github.com/graphql-go/graphql/language/ast"
)

// The custom scalars. Scalars carry no per-schema state and no lazily
// filled caches, so one value of each is shared by every tenant's schema.
// Every parse function returns nil for a value it does not accept, which
// graphql-go reports as an invalid value; none of them panics.
var (
	// BigInt is a 64-bit integer serialized as a string, because GraphQL's
	// Int is 32 bits and JSON numbers lose precision past 2^53.
	BigInt = graphql.NewScalar(graphql.ScalarConfig{
		Name: "BigInt",
		Description: "A signed 64-bit integer. Serialized as a string to stay exact; " +
			"accepts a string or an integer.",
		Serialize:    serializeBigInt,
		ParseValue:   parseBigInt,
		ParseLiteral: parseBigIntLiteral,
	})

	// Date is a calendar date, YYYY-MM-DD.
	Date = graphql.NewScalar(graphql.ScalarConfig{
		Name:         "Date",
		Description:  "A calendar date in ISO 8601 form, YYYY-MM-DD.",
		Serialize:    serializeDate,
		ParseValue:   func(v any) any { return parseDate(v) },
		ParseLiteral: func(v ast.Value) any { return parseDate(stringLiteral(v)) },
	})

	// DateTime is an instant, RFC 3339 with a time zone offset.
	DateTime = graphql.NewScalar(graphql.ScalarConfig{
		Name:         "DateTime",
		Description:  "An instant in RFC 3339 form with a time zone offset, e.g. 2024-05-01T13:45:00Z.",
		Serialize:    serializeDateTime,
		ParseValue:   func(v any) any { return parseDateTime(v) },
		ParseLiteral: func(v ast.Value) any { return parseDateTime(stringLiteral(v)) },
	})

	// Time is a time of day without a zone, HH:MM:SS with optional fraction.
	Time = graphql.NewScalar(graphql.ScalarConfig{
		Name:         "Time",
		Description:  "A time of day without time zone, HH:MM:SS with an optional fraction of a second.",
		Serialize:    serializeTime,
		ParseValue:   func(v any) any { return parseTime(v) },
		ParseLiteral: func(v ast.Value) any { return parseTime(stringLiteral(v)) },
	})
)

// stringLiteral returns the text of a string literal, or nil.
func stringLiteral(v ast.Value) any {
	if s, ok := v.(*ast.StringValue); ok {
		return s.Value
	}
	return nil
}

func serializeBigInt(v any) any {
	switch v := v.(type) {
	case int64:
		return strconv.FormatInt(v, 10)
	case int:
		return strconv.Itoa(v)
	case int32:
		return strconv.FormatInt(int64(v), 10)
	case string:
		if _, err := strconv.ParseInt(v, 10, 64); err == nil {
			return v
		}
	}
	return nil
}

// maxExactFloat is the largest integer a float64 holds exactly.
const maxExactFloat = 1 << 53

func parseBigInt(v any) any {
	switch v := v.(type) {
	case string:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	case json.Number:
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return n
		}
	case int64:
		return v
	case int:
		return int64(v)
	case float64:
		// A float only when it is an integer JSON could carry exactly.
		if v == math.Trunc(v) && math.Abs(v) <= maxExactFloat {
			return int64(v)
		}
	}
	return nil
}

func parseBigIntLiteral(v ast.Value) any {
	switch v := v.(type) {
	case *ast.IntValue:
		return parseBigInt(v.Value)
	case *ast.StringValue:
		return parseBigInt(v.Value)
	}
	return nil
}

const dateLayout = "2006-01-02"

func serializeDate(v any) any {
	switch v := v.(type) {
	case time.Time:
		return v.Format(dateLayout)
	case string:
		return parseDate(v)
	}
	return nil
}

// parseDate accepts YYYY-MM-DD and returns it as a string, the form
// PostgreSQL takes for a date parameter.
func parseDate(v any) any {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	t, err := time.Parse(dateLayout, s)
	if err != nil || t.Year() < 1 {
		// PostgreSQL has no year 0: 1 BC comes before 1 AD.
		return nil
	}
	return t.Format(dateLayout)
}

func serializeDateTime(v any) any {
	switch v := v.(type) {
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case string:
		if t, ok := parseDateTime(v).(time.Time); ok {
			return t.UTC().Format(time.RFC3339Nano)
		}
	}
	return nil
}

func parseDateTime(v any) any {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.UTC().Year() < 1 {
		return nil
	}
	// In UTC: a timestamp column without time zone keeps the wall clock
	// it is sent and drops the offset, and is read back as UTC.
	return t.UTC()
}

var timeRE = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?$`)

func serializeTime(v any) any {
	switch v := v.(type) {
	case time.Time:
		if v.Nanosecond() == 0 {
			return v.Format("15:04:05")
		}
		return v.Format("15:04:05.999999")
	case string:
		return parseTime(v)
	}
	return nil
}

func parseTime(v any) any {
	s, ok := v.(string)
	if !ok || !timeRE.MatchString(s) {
		return nil
	}
	return s
}
