// Package ddl changes the shape of tenant tables at run time: it validates
// names, types and defaults of extras and brands, runs the ALTER or CREATE
// together with the extras row and the tenant's version bump in one
// transaction, and announces the change to every replica. It is the only
// package that changes tenant tables.
package ddl

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// Sentinel errors callers branch on.
var (
	// ErrInvalid: a name, type or default breaks a rule; the message says which.
	ErrInvalid = errors.New("invalid")
	// ErrNotFound: no extra or brand with that id or name.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the name is already used.
	ErrConflict = errors.New("conflict")
)

// MaxNameBytes is PostgreSQL's identifier limit.
const MaxNameBytes = 63

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// BaseColumns are the columns every brand table has; no extra may take
// their names. creator is not a column but a field of every row type.
var BaseColumns = []string{"id", "user_id", "model", "created_at", "updated_at", "creator"}

// NameRule is the rule ValidateName enforces, as told to users.
const NameRule = "lower-case letters, digits and underscores, starting with a letter, at most 63 bytes"

// ValidateName checks a column or table name against NameRule. what names
// the thing in the error message ("extra name", "brand name").
func ValidateName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: %s is empty; use %s", ErrInvalid, what, NameRule)
	case len(name) > MaxNameBytes:
		return fmt.Errorf("%w: %s %q is %d bytes; use %s", ErrInvalid, what, name, len(name), NameRule)
	case strings.HasPrefix(name, "__"):
		return fmt.Errorf("%w: %s %q starts with __, which GraphQL reserves", ErrInvalid, what, name)
	case !nameRE.MatchString(name):
		return fmt.Errorf("%w: %s %q: use %s", ErrInvalid, what, name, NameRule)
	}
	return nil
}

// validateDisplayName checks the display name of an extra or a brand, the
// description of its GraphQL field or type: not blank, and without control
// characters such as newlines, which would break the printed SDL's lines.
func validateDisplayName(s string) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("%w: displayName must not be empty", ErrInvalid)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return fmt.Errorf("%w: displayName %q must not contain control characters such as newlines or tabs", ErrInvalid, s)
	}
	return nil
}

// ValidateExtraName checks an extra's name: NameRule, and not a base
// column.
func ValidateExtraName(name string) error {
	if err := ValidateName("extra name", name); err != nil {
		return err
	}
	for _, b := range BaseColumns {
		if name == b {
			return fmt.Errorf("%w: extra name %q is a base column of every brand table; choose another", ErrInvalid, name)
		}
	}
	if filterOperators[name] {
		return fmt.Errorf("%w: extra name %q is an operator of every brand's filter; choose another", ErrInvalid, name)
	}
	return nil
}

// filterOperators are the fields every brand's filter input type has
// besides its columns; a column of that name could not be filtered on.
var filterOperators = map[string]bool{"and": true, "or": true, "not": true}

// TypeName is the GraphQL type name of a brand table: PascalCase of its
// name (toyota -> Toyota, land_rover -> LandRover).
func TypeName(table string) string {
	var b strings.Builder
	for _, part := range strings.Split(table, "_") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// TypeNames are the GraphQL type names a brand table adds.
func TypeNames(table string) []string {
	n := TypeName(table)
	return []string{n, n + "List", n + "Filter", n + "OrderBy", n + "Input", n + "Patch"}
}

// ReservedTypeNames are GraphQL type names every tenant schema defines
// whatever its tables hold.
var ReservedTypeNames = map[string]bool{
	"Query": true, "Mutation": true, "Subscription": true, "Creator": true,
	"Brand": true, "BrandList": true, "Extra": true, "ExtraList": true, "ExtraType": true,
	"CreateExtraInput": true, "UpdateExtraInput": true, "CreateBrandInput": true,
	"String": true, "Int": true, "Float": true, "Boolean": true, "ID": true,
	"BigInt": true, "Date": true, "DateTime": true, "Time": true, "Role": true,
	"IDFilter": true, "StringFilter": true, "IntFilter": true, "BigIntFilter": true, "FloatFilter": true,
	"BooleanFilter": true, "DateFilter": true, "DateTimeFilter": true, "TimeFilter": true,
}

// reservedTables are tables of every tenant schema that are not brands.
var reservedTables = map[string]bool{"brand": true, "extras": true, "goose_db_version": true}

// reservedQueryFields are root query fields every tenant schema has; a
// brand takes the query fields <name> and <name>List, so a brand named
// like one of them would be left out of the API.
var reservedQueryFields = map[string]bool{"brands": true, "brand": true, "extras": true}

// ValidateBrandName checks a new brand's table name against NameRule, the
// tenant's own tables, and the GraphQL names its types would take, given
// the existing brands.
func ValidateBrandName(name string, existing []string) error {
	if err := ValidateName("brand name", name); err != nil {
		return err
	}
	if reservedTables[name] {
		return fmt.Errorf("%w: brand name %q is a table every country has; choose another", ErrInvalid, name)
	}
	if reservedQueryFields[name] {
		return fmt.Errorf("%w: brand name %q is a query every country's API has; choose another", ErrInvalid, name)
	}
	taken := map[string]string{}
	for n := range ReservedTypeNames {
		taken[n] = "a built-in type"
	}
	for _, b := range existing {
		if b == name {
			return fmt.Errorf("%w: brand %q already exists", ErrConflict, name)
		}
		for _, n := range TypeNames(b) {
			taken[n] = "brand " + b
		}
	}
	for _, n := range TypeNames(name) {
		if by, ok := taken[n]; ok {
			return fmt.Errorf("%w: brand name %q would make the GraphQL type %s, which %s already uses", ErrConflict, name, n, by)
		}
	}
	return nil
}
