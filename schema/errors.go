package schema

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/lib/pq"

	"tenantgraph/ddl"
)

// Error codes carried in a GraphQL error's extensions.code.
const (
	CodeBadUserInput      = "BAD_USER_INPUT"
	CodeNotFound          = "NOT_FOUND"
	CodeValidation        = "GRAPHQL_VALIDATION_FAILED"
	CodeParse             = "GRAPHQL_PARSE_FAILED"
	CodeInternal          = "INTERNAL_SERVER_ERROR"
	CodeSchemaChanged     = "SCHEMA_CHANGED"
	CodeTimeout           = "TIMEOUT"
	CodeLockTimeout       = "LOCK_TIMEOUT"
	CodeConflict          = "CONFLICT"
	CodeUnauthenticated   = "UNAUTHENTICATED"
	CodeForbidden         = "FORBIDDEN"
	CodePersistedNotFound = "PERSISTED_QUERY_NOT_FOUND"
)

// Error is an error a client may see: a code and a message a person
// understands. Retryable errors say so in extensions.retryable.
type Error struct {
	Code      string
	Message   string
	Retryable bool
	// Err is the cause, logged and never shown.
	Err error
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Extensions makes graphql-go copy the code into the error it reports.
func (e *Error) Extensions() map[string]any {
	ext := map[string]any{"code": e.Code}
	if e.Retryable {
		ext["retryable"] = true
	}
	return ext
}

// UserError returns a BAD_USER_INPUT error with a formatted message.
func UserError(format string, args ...any) *Error {
	return &Error{Code: CodeBadUserInput, Message: fmt.Sprintf(format, args...)}
}

// classify turns any error from a resolver into an *Error a client may
// see. PostgreSQL errors are mapped by SQLSTATE; anything unknown becomes a
// generic internal error that keeps its cause for the log.
// varcharLen finds the length limit in PostgreSQL's "value too long for
// type character varying(255)".
var varcharLen = regexp.MustCompile(`\((\d+)\)`)

func classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Code: CodeTimeout, Message: "the request took too long and was cancelled; nothing was changed", Retryable: true, Err: err}
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Code: CodeTimeout, Message: "the request was cancelled; nothing was changed", Retryable: true, Err: err}
	}
	switch {
	case errors.Is(err, ddl.ErrInvalid), errors.Is(err, ddl.ErrConflict):
		return &Error{Code: CodeBadUserInput, Message: strings.TrimPrefix(strings.TrimPrefix(err.Error(), "invalid: "), "conflict: "), Err: err}
	case errors.Is(err, ddl.ErrNotFound):
		return &Error{Code: CodeNotFound, Message: strings.TrimPrefix(err.Error(), "not found: "), Err: err}
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch code := string(pqErr.Code); {
		case code == "42703" || code == "42P01" || code == "0A000":
			// Undefined column or table, or a cached plan whose result
			// changed: the schema this request started on is stale.
			return &Error{Code: CodeSchemaChanged, Message: "the tenant's schema changed while the request ran; retry it", Retryable: true, Err: err}
		case code == "57014":
			return &Error{Code: CodeTimeout, Message: "the statement took too long and was cancelled; nothing was changed", Retryable: true, Err: err}
		case code == "55P03":
			return &Error{Code: CodeLockTimeout, Message: "the table is busy; the change gave up waiting for its lock and changed nothing; retry it", Retryable: true, Err: err}
		case code == "40001" || code == "40P01":
			return &Error{Code: CodeConflict, Message: "the request conflicted with another one; retry it", Retryable: true, Err: err}
		case code == "23505":
			return &Error{Code: CodeConflict, Message: "a row with that value already exists", Err: err}
		case code == "23502":
			return &Error{Code: CodeBadUserInput, Message: fmt.Sprintf("field %q is required", pqErr.Column), Err: err}
		case code == "23503":
			return &Error{Code: CodeBadUserInput, Message: "the value refers to something that does not exist", Err: err}
		case code == "23514":
			return &Error{Code: CodeBadUserInput, Message: "the value breaks a rule of the table", Err: err}
		case code == "22001":
			msg := "a text value is longer than its field allows"
			if m := varcharLen.FindStringSubmatch(pqErr.Message); m != nil {
				msg += " (at most " + m[1] + " characters)"
			}
			return &Error{Code: CodeBadUserInput, Message: msg, Err: err}
		case code == "22021":
			// The server refuses invalid UTF-8 bodies, so what is left is
			// NUL, valid in JSON and GraphQL strings but not in PostgreSQL text.
			return &Error{Code: CodeBadUserInput, Message: `a text value contains the NUL character (\u0000), which cannot be stored`, Err: err}
		case code == "22025":
			return &Error{Code: CodeBadUserInput, Message: `invalid like or ilike pattern: \ escapes the next character, so a pattern cannot end with it; write \\ for a backslash`, Err: err}
		case len(code) == 5 && code[:2] == "22":
			// Data exceptions: out of range, bad date, and the like.
			return &Error{Code: CodeBadUserInput, Message: "invalid value: " + pqErr.Message, Err: err}
		}
	}
	return &Error{Code: CodeInternal, Message: "internal server error", Err: err}
}
