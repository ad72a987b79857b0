package tenancy

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// MaxIdentifierBytes is PostgreSQL's limit on identifiers; longer names are
// silently cut by the server, so we refuse them instead.
const MaxIdentifierBytes = 63

var (
	aliasRE    = regexp.MustCompile(`^[A-Za-z0-9]{2,10}$`)
	areaCodeRE = regexp.MustCompile(`^[0-9]{1,4}$`)
)

// stripMarks returns a transformer that turns "México" into "Mexico":
// decompose, drop the combining marks, recompose. A chain keeps state
// between calls, so every call needs its own; a shared one races and
// panics under concurrent use.
func stripMarks() transform.Transformer {
	return transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
}

// ValidateAlias checks a country alias: 2 to 10 ASCII letters or digits.
func ValidateAlias(alias string) error {
	if !aliasRE.MatchString(alias) {
		return fmt.Errorf("%w: alias %q must be 2 to 10 letters or digits", ErrInvalid, alias)
	}
	return nil
}

// ValidateLabel checks a country's name or official name: text a person
// reads in lists and logs, so without control characters such as newlines
// or tabs, which would break every line it is printed on.
func ValidateLabel(what, s string) error {
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return fmt.Errorf("%w: %s %q must not contain control characters such as newlines or tabs", ErrInvalid, what, s)
	}
	return nil
}

// ValidateAreaCode checks a country's telephone area code: empty (none) or
// 1 to 4 ASCII digits, written without a plus sign or spaces ("52", "1").
func ValidateAreaCode(code string) error {
	if code != "" && !areaCodeRE.MatchString(code) {
		return fmt.Errorf("%w: area code %q must be 1 to 4 digits, like 52 (no + or spaces)", ErrInvalid, code)
	}
	return nil
}

// Namespace returns the PostgreSQL schema name of a country:
// `<name>_<alias>_schema` in lower case, accents folded to their base letter,
// spaces and hyphens turned into underscores and anything else outside
// [a-z0-9_] removed ("United States", "US" -> "united_states_us_schema").
// A name that cleans to nothing or a result over 63 bytes is an error.
func Namespace(name, alias string) (string, error) {
	if err := ValidateAlias(alias); err != nil {
		return "", err
	}
	folded, _, err := transform.String(stripMarks(), name)
	if err != nil {
		return "", fmt.Errorf("%w: name %q: %v", ErrInvalid, name, err)
	}
	var b strings.Builder
	for _, r := range strings.ToLower(folded) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '_' || r == '-' || unicode.IsSpace(r):
			b.WriteByte('_')
		}
	}
	cleaned := collapseUnderscores(b.String())
	if cleaned == "" {
		return "", fmt.Errorf("%w: name %q has no letters or digits to build a schema name from", ErrInvalid, name)
	}
	ns := cleaned + "_" + strings.ToLower(alias) + "_schema"
	if len(ns) > MaxIdentifierBytes {
		return "", fmt.Errorf("%w: schema name %q is %d bytes, over PostgreSQL's limit of %d; choose a shorter name",
			ErrInvalid, ns, len(ns), MaxIdentifierBytes)
	}
	return ns, nil
}

// collapseUnderscores squeezes runs of underscores and trims them at both ends.
func collapseUnderscores(s string) string {
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '_' })
	return strings.Join(parts, "_")
}
