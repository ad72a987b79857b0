package schema

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/graphql-go/graphql"
	"github.com/graphql-go/graphql/gqlerrors"
	"github.com/graphql-go/graphql/language/ast"
	"github.com/graphql-go/graphql/language/kinds"
	"github.com/graphql-go/graphql/language/location"
	"github.com/graphql-go/graphql/language/parser"
	"github.com/graphql-go/graphql/language/visitor"
	"github.com/jmoiron/sqlx"

	"tenantgraph/tenancy"
)

// Request is one GraphQL request as the HTTP layer decoded it. Numbers in
// Variables should be json.Number (decode with UseNumber) so that 64-bit
// values stay exact.
type Request struct {
	Query         string
	OperationName string
	Variables     map[string]any
}

// Stage says how far a request got; the HTTP layer picks its status from it.
type Stage int

const (
	// StageRequest: the request itself was unusable (parse, validation,
	// variables); nothing ran.
	StageRequest Stage = iota
	// StageMethod: a mutation was sent where only queries are allowed.
	StageMethod
	// StageExecuted: the operation ran; errors, if any, are field errors.
	StageExecuted
)

// Response is the result of Execute, ready to be encoded as JSON.
type Response struct {
	Data       any                        `json:"data,omitempty"`
	Errors     []gqlerrors.FormattedError `json:"errors,omitempty"`
	Extensions map[string]any             `json:"extensions,omitempty"`
	Stage      Stage                      `json:"-"`
	// Retryable is set when an error says the request may succeed if sent
	// again (schema changed under it, timeout, lock timeout).
	Retryable bool `json:"-"`

	// op and fragments order the data's keys as the operation selected
	// them.
	op        *ast.OperationDefinition
	fragments map[string]*ast.FragmentDefinition
}

// MarshalJSON writes data only for a request that ran: GraphQL over HTTP
// leaves it out when the request failed before execution and has it (null
// when a non-null root field failed) once execution started. An error
// with no location has no "locations" key: graphql-go would write null,
// which is not the list the GraphQL spec asks for.
//
// The object is written piece by piece rather than through one
// json.Marshal, which would scan the data's bytes again to check them.
func (r *Response) MarshalJSON() ([]byte, error) {
	type errorOut struct {
		Message    string                    `json:"message"`
		Locations  []location.SourceLocation `json:"locations,omitempty"`
		Path       []any                     `json:"path,omitempty"`
		Extensions map[string]any            `json:"extensions,omitempty"`
	}
	buf := bytes.NewBuffer(make([]byte, 0, 512))
	buf.WriteByte('{')
	if r.Stage == StageExecuted {
		buf.WriteString(`"data":`)
		var err error
		if m, ok := r.Data.(map[string]any); ok && r.op != nil {
			o := orderedData{selection: r.op.SelectionSet, fragments: r.fragments}
			err = o.encode(buf, m, []*ast.SelectionSet{o.selection})
		} else {
			err = writeScalar(buf, r.Data)
		}
		if err != nil {
			return nil, err
		}
	}
	field := func(name string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		buf.WriteString(name)
		buf.Write(b)
		return nil
	}
	if len(r.Errors) > 0 {
		errs := make([]errorOut, 0, len(r.Errors))
		for _, e := range r.Errors {
			errs = append(errs, errorOut{e.Message, e.Locations, e.Path, e.Extensions})
		}
		if err := field(`"errors":`, errs); err != nil {
			return nil, err
		}
	}
	if len(r.Extensions) > 0 {
		if err := field(`"extensions":`, r.Extensions); err != nil {
			return nil, err
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// cachedDoc is a parsed and validated document.
type cachedDoc struct {
	doc       *ast.Document
	ops       map[string]*ast.OperationDefinition
	fragments map[string]*ast.FragmentDefinition
}

// docCache keeps parsed and validated documents of one schema by query text,
// so a repeated query is neither parsed nor validated again. It lives and
// dies with its schema, so a new schema never sees documents validated
// against an old one.
type docCache struct {
	mu   sync.RWMutex
	docs map[string]*cachedDoc
}

// NOTE: graphql-go's Enum builds its name and value lookup tables lazily
// and without a lock, on the first ParseValue, ParseLiteral or Serialize.
// Two requests that reach a fresh schema's enum at once (an OrderBy
// argument, the ExtraType of an extra) race; the race detector shows it.
// Every schema's enums are therefore warmed when it is built, before it is
// published, and the introspection enums, which every schema shares, at
// start-up.

func init() {
	warmEnum(graphql.TypeKindEnumType)
	warmEnum(graphql.DirectiveLocationEnumType)
}

// warmEnums fills the lookup tables of every enum of s.
func warmEnums(s *graphql.Schema) {
	for _, t := range s.TypeMap() {
		if e, ok := t.(*graphql.Enum); ok {
			warmEnum(e)
		}
	}
}

func warmEnum(e *graphql.Enum) {
	// A value graphql-go cannot hash panics in Serialize; it would panic
	// the same way when serving, and is no reason to fail here.
	defer func() { recover() }()
	if vals := e.Values(); len(vals) > 0 {
		e.ParseValue(vals[0].Name)
		e.Serialize(vals[0].Value)
	}
}

// maxCachedDocs bounds each schema's document cache; when full it is
// emptied and refilled by use, which is cheap and keeps no bookkeeping.
const maxCachedDocs = 500

func (c *docCache) get(q string) *cachedDoc {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.docs[q]
}

func (c *docCache) put(q string, d *cachedDoc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.docs == nil || len(c.docs) >= maxCachedDocs {
		c.docs = make(map[string]*cachedDoc)
	}
	c.docs[q] = d
}

// requestError is a response for a request that never ran.
func (b *Built) requestError(stage Stage, code, msg string) *Response {
	return &Response{
		Errors:     []gqlerrors.FormattedError{{Message: msg, Extensions: map[string]any{"code": code}}},
		Stage:      stage,
		Extensions: map[string]any{"schemaVersion": b.Version},
	}
}

// prepare parses and validates q, or takes it from the cache.
func (b *Built) prepare(q string) (*cachedDoc, *Response) {
	if d := b.docs.get(q); d != nil {
		return d, nil
	}
	if err := CheckDepth(q, b.opts.maxDepth()); err != nil {
		return nil, b.requestError(StageRequest, CodeParse, err.Error())
	}
	doc, err := parser.Parse(parser.ParseParams{Source: q})
	if err != nil {
		fe := gqlerrors.FormatError(err)
		fe.Extensions = map[string]any{"code": CodeParse}
		return nil, &Response{Errors: []gqlerrors.FormattedError{fe}, Stage: StageRequest,
			Extensions: map[string]any{"schemaVersion": b.Version}}
	}
	if err := checkCost(doc, defaultMaxFields, defaultMaxSameKey); err != nil {
		return nil, b.requestError(StageRequest, CodeValidation, err.Error())
	}
	rules := append(append([]graphql.ValidationRuleFn{}, graphql.SpecifiedRules...), intRangeRule)
	vr := graphql.ValidateDocument(&b.Schema, doc, rules)
	if !vr.IsValid {
		for i := range vr.Errors {
			vr.Errors[i].Extensions = map[string]any{"code": CodeValidation}
		}
		return nil, &Response{Errors: vr.Errors, Stage: StageRequest,
			Extensions: map[string]any{"schemaVersion": b.Version}}
	}
	d := &cachedDoc{doc: doc, ops: map[string]*ast.OperationDefinition{}, fragments: map[string]*ast.FragmentDefinition{}}
	for _, def := range doc.Definitions {
		if f, ok := def.(*ast.FragmentDefinition); ok {
			d.fragments[f.Name.Value] = f
		}
		if op, ok := def.(*ast.OperationDefinition); ok {
			name := ""
			if op.Name != nil {
				name = op.Name.Value
			}
			d.ops[name] = op
		}
	}
	b.docs.put(q, d)
	return d, nil
}

// Execute runs req on this schema on ctx, in one transaction under the
// tenant's search_path with the statement timeout: read-only for a query;
// for a mutation, one that a cancelled or failed request rolls back, so it
// changes nothing and returns no data. (Every table is schema-qualified as
// well, so a query would be safe without the transaction, and measured
// about a fifth faster at one connection for the BEGIN and ROLLBACK round
// trips it saves; the transaction keeps queries read-only and bounded by
// PostgreSQL's own timeout.) A static schema's mutation fields commit one
// by one (NewStatic). allowMutation false refuses mutations (GET).
func (b *Built) Execute(ctx context.Context, db *sqlx.DB, req Request, allowMutation bool) *Response {
	d, resp := b.prepare(req.Query)
	if resp != nil {
		return resp
	}
	var op *ast.OperationDefinition
	switch {
	case req.OperationName != "":
		op = d.ops[req.OperationName]
		if op == nil {
			return b.requestError(StageRequest, CodeBadUserInput, fmt.Sprintf("the document has no operation named %q", req.OperationName))
		}
	case len(d.ops) == 1:
		for _, o := range d.ops {
			op = o
		}
	case len(d.ops) == 0:
		return b.requestError(StageRequest, CodeBadUserInput, "the document has no operation to run")
	default:
		return b.requestError(StageRequest, CodeBadUserInput, "the document has several operations; say which to run in operationName")
	}
	isMutation := op.Operation == ast.OperationTypeMutation
	if op.Operation == ast.OperationTypeSubscription {
		return b.requestError(StageRequest, CodeBadUserInput, "subscriptions are not supported")
	}
	if isMutation && !allowMutation {
		return b.requestError(StageMethod, CodeBadUserInput, "mutations must be sent with POST")
	}
	// Past the request timeout the running statement is cancelled and the
	// transaction rolled back.
	ctx, cancel := context.WithTimeout(ctx, b.opts.requestTimeout())
	defer cancel()
	st := &execState{built: b, rawVars: req.Variables}
	ctx = context.WithValue(ctx, stateKey{}, st)
	if err := b.access.checkIntrospection(ctx, op); err != nil {
		e := classify(err)
		return &Response{Errors: []gqlerrors.FormattedError{b.format(e)}, Stage: StageExecuted,
			Extensions: map[string]any{"schemaVersion": b.Version}}
	}
	vars, err := coerceVariables(&b.Schema, op, req.Variables, b.opts.maxDepth())
	if err != nil {
		return b.requestError(StageRequest, CodeBadUserInput, err.Error())
	}

	var result *graphql.Result
	errRollback := errors.New("rollback")
	atomic := isMutation && !b.fieldCommits
	run := func(ctx context.Context, q tenancy.Querier) error {
		st.tx = q
		result = graphql.Execute(graphql.ExecuteParams{
			Schema:        b.Schema,
			AST:           d.doc,
			OperationName: req.OperationName,
			Args:          vars,
			Context:       ctx,
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if atomic && len(result.Errors) > 0 {
			return errRollback
		}
		return nil
	}
	var txErr error
	if isMutation && !atomic {
		// A static schema's mutation fields provision schemas, create users
		// and tokens, each committing on its own as it runs; they share no
		// transaction, so the response keeps every field that succeeded
		// (a token's secret, say) beside the errors of those that failed.
		txErr = run(ctx, db)
	} else {
		txErr = tenancy.Run(ctx, db, b.Namespace, tenancy.TxOptions{
			ReadOnly:         !isMutation,
			StatementTimeout: b.opts.statementTimeout(),
		}, func(tx tenancy.Querier) error { return run(ctx, tx) })
	}
	resp = &Response{Stage: StageExecuted, Extensions: map[string]any{"schemaVersion": max(b.Version, st.version)},
		op: op, fragments: d.fragments}
	switch {
	case txErr == nil || errors.Is(txErr, errRollback):
		resp.Data = result.Data
		if atomic && txErr != nil {
			resp.Data = nil
		}
		resp.Errors = result.Errors
	default:
		// The transaction failed to begin or commit, or ctx ended.
		resp.Errors = []gqlerrors.FormattedError{b.format(classify(txErr))}
	}
	b.finishErrors(resp)
	return resp
}

// format makes a client error out of e, logging its cause if internal.
func (b *Built) format(e *Error) gqlerrors.FormattedError {
	if e.Code == CodeInternal && e.Err != nil {
		b.opts.logger().Error("request failed", "schema", b.Namespace, "err", e.Err)
	}
	return gqlerrors.FormattedError{Message: e.Message, Extensions: e.Extensions()}
}

// finishErrors gives every error a code, logs internal causes once and
// marks the response retryable when an error is.
func (b *Built) finishErrors(resp *Response) {
	for i := range resp.Errors {
		fe := &resp.Errors[i]
		orig := fe.OriginalError()
		// graphql-go wraps resolver errors in a *gqlerrors.Error that has no
		// Unwrap, so step through it by hand.
		if ge, ok := orig.(*gqlerrors.Error); ok && ge.OriginalError != nil {
			orig = ge.OriginalError
		}
		var e *Error
		if orig != nil && (errors.As(orig, &e) || errors.Is(orig, context.DeadlineExceeded) || errors.Is(orig, context.Canceled)) {
			if e == nil {
				e = classify(orig)
				fe.Message = e.Message
			}
			fe.Extensions = e.Extensions()
			resp.Retryable = resp.Retryable || e.Retryable
			if e.Code == CodeInternal && e.Err != nil {
				b.opts.logger().Error("request failed", "schema", b.Namespace, "path", fe.Path, "err", e.Err)
			}
		}
		if fe.Extensions == nil || fe.Extensions["code"] == nil {
			fe.Extensions = map[string]any{"code": CodeInternal}
			b.opts.logger().Error("request failed", "schema", b.Namespace, "path", fe.Path, "message", fe.Message)
		}
	}
}

func (o *Options) maxDepth() int {
	if o.MaxDepth > 0 {
		return o.MaxDepth
	}
	return 15
}

func (o *Options) requestTimeout() time.Duration {
	if o.RequestTimeout > 0 {
		return o.RequestTimeout
	}
	return defaultRequestTimeout
}

func (o *Options) statementTimeout() time.Duration {
	if o.StatementTimeout > 0 {
		return o.StatementTimeout
	}
	return defaultStatementTimeout
}

// CheckDepth refuses a document whose braces, brackets and parentheses nest
// deeper than max, without parsing it: graphql-go's parser recurses without
// bound and a deep enough document would overflow the stack and kill the
// process. Strings, block strings and comments are skipped.
func CheckDepth(q string, max int) error {
	depth := 0
	for i := 0; i < len(q); i++ {
		switch c := q[i]; c {
		case '#':
			for i < len(q) && q[i] != '\n' && q[i] != '\r' {
				i++
			}
		case '"':
			if i+2 < len(q) && q[i+1] == '"' && q[i+2] == '"' {
				i += 3
				for i < len(q) && !(q[i] == '"' && i+2 < len(q) && q[i+1] == '"' && q[i+2] == '"') {
					if q[i] == '\\' {
						i++
					}
					i++
				}
				i += 2
				continue
			}
			for i++; i < len(q) && q[i] != '"' && q[i] != '\n'; i++ {
				if q[i] == '\\' {
					i++
				}
			}
		case '{', '[', '(':
			depth++
			if depth > max {
				return fmt.Errorf("the document nests deeper than %d levels", max)
			}
		case '}', ']', ')':
			depth--
		}
	}
	return nil
}

// intRangeRule rejects Int literals outside 32 bits. graphql-go parses them
// into a Go int and passes them on unchecked, while the same value in a
// variable is rejected.
func intRangeRule(ctx *graphql.ValidationContext) *graphql.ValidationRuleInstance {
	return &graphql.ValidationRuleInstance{VisitorOpts: &visitor.VisitorOptions{
		KindFuncMap: map[string]visitor.NamedVisitFuncs{
			kinds.IntValue: {Kind: func(p visitor.VisitFuncParams) (string, any) {
				node, ok := p.Node.(*ast.IntValue)
				if !ok || graphql.GetNullable(ctx.InputType()) != graphql.Int {
					return visitor.ActionNoChange, nil
				}
				if n, err := strconv.ParseInt(node.Value, 10, 64); err != nil || n < math.MinInt32 || n > math.MaxInt32 {
					where := "value"
					if arg := ctx.Argument(); arg != nil {
						where = fmt.Sprintf("argument %q", arg.Name())
					}
					ctx.ReportError(gqlerrors.NewError(
						fmt.Sprintf("Int cannot represent %s in %s: Int is 32-bit, from -2147483648 to 2147483647", node.Value, where),
						[]ast.Node{node}, "", nil, []int{}, nil))
				}
				return visitor.ActionNoChange, nil
			}},
		},
	}}
}

// coerceVariables checks and converts the variables of op before graphql-go
// sees them. graphql-go truncates 1.7 to 1 for Int, accepts "12" for Int and
// 12 for String, and knows nothing of json.Number; here Int must be a whole
// number within 32 bits, Float a number, String and ID text (or an integer
// for ID), Boolean a boolean. Other scalars and enums are left to their own
// parsers, with json.Number turned into int64 or float64.
func coerceVariables(s *graphql.Schema, op *ast.OperationDefinition, raw map[string]any, maxDepth int) (map[string]any, error) {
	out := make(map[string]any, len(raw))
	for _, def := range op.VariableDefinitions {
		name := def.Variable.Name.Value
		t := typeFromAST(s, def.Type)
		if t == nil {
			continue
		}
		v, ok := raw[name]
		if !ok {
			// graphql-go would refuse a missing required variable itself,
			// but as an uncoded error after the transaction began.
			if _, required := t.(*graphql.NonNull); required && def.DefaultValue == nil {
				return nil, fmt.Errorf("variable $%s of type %s is required", name, t)
			}
			continue
		}
		cv, err := coerceValue(v, t, "$"+name, maxDepth)
		if err != nil {
			return nil, err
		}
		out[name] = cv
	}
	return out, nil
}

func typeFromAST(s *graphql.Schema, t ast.Type) graphql.Type {
	switch t := t.(type) {
	case *ast.NonNull:
		if inner := typeFromAST(s, t.Type); inner != nil {
			return graphql.NewNonNull(inner)
		}
	case *ast.List:
		if inner := typeFromAST(s, t.Type); inner != nil {
			return graphql.NewList(inner)
		}
	case *ast.Named:
		if named := s.Type(t.Name.Value); named != nil {
			return named
		}
	}
	return nil
}

// coerceValue checks v against t. Lists and objects may nest depth levels
// deep: like a document, a deeply nested variable (a filter of thousands of
// nots) would otherwise reach graphql-go's recursion and the SQL.
func coerceValue(v any, t graphql.Type, path string, depth int) (any, error) {
	if nn, ok := t.(*graphql.NonNull); ok {
		if v == nil {
			return nil, fmt.Errorf("variable %s must not be null: its type is %s", path, t)
		}
		return coerceValue(v, nn.OfType, path, depth)
	}
	if v == nil {
		return nil, nil
	}
	switch t := t.(type) {
	case *graphql.List:
		list, ok := v.([]any)
		if !ok {
			return coerceValue(v, t.OfType, path, depth)
		}
		if depth <= 0 {
			return nil, fmt.Errorf("variable %s nests too deep", path)
		}
		out := make([]any, len(list))
		for i, item := range list {
			cv, err := coerceValue(item, t.OfType, fmt.Sprintf("%s[%d]", path, i), depth-1)
			if err != nil {
				return nil, err
			}
			out[i] = cv
		}
		return out, nil
	case *graphql.InputObject:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("variable %s must be an object of type %s", path, t.Name())
		}
		if depth <= 0 {
			return nil, fmt.Errorf("variable %s nests too deep", path)
		}
		fields := t.Fields()
		out := make(map[string]any, len(obj))
		for k, fv := range obj {
			f, ok := fields[k]
			if !ok {
				return nil, fmt.Errorf("variable %s has no field %q in %s", path, k, t.Name())
			}
			cv, err := coerceValue(fv, f.Type, path+"."+k, depth-1)
			if err != nil {
				return nil, err
			}
			out[k] = cv
		}
		for _, name := range sortedKeys(fields) {
			f := fields[name]
			if _, required := f.Type.(*graphql.NonNull); required && f.DefaultValue == nil {
				if _, given := obj[name]; !given {
					return nil, fmt.Errorf("variable %s lacks field %q, which %s requires", path, name, t.Name())
				}
			}
		}
		return out, nil
	}
	return coerceScalar(v, t, path)
}

func coerceScalar(v any, t graphql.Type, path string) (any, error) {
	num, isNum := v.(json.Number)
	if f, ok := v.(float64); ok {
		num, isNum = json.Number(strconv.FormatFloat(f, 'f', -1, 64)), true
	}
	switch t {
	case graphql.Int:
		if !isNum {
			return nil, fmt.Errorf("variable %s must be an Int, a whole number; got %s", path, describe(v))
		}
		n, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil {
			// JSON does not tell 2.0 or 2e3 from 2 and 2000; graphql-js
			// takes them as Int, and so does this, within range.
			f, ferr := num.Float64()
			if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				return nil, fmt.Errorf("variable %s must be an Int, a whole number; got %s", path, num)
			}
			n = int64(f)
		}
		if n < math.MinInt32 || n > math.MaxInt32 {
			return nil, fmt.Errorf("variable %s: Int is 32-bit, from -2147483648 to 2147483647; got %s (use BigInt for larger values)", path, num)
		}
		return int(n), nil
	case graphql.Float:
		if !isNum {
			return nil, fmt.Errorf("variable %s must be a Float, a number; got %s", path, describe(v))
		}
		f, err := num.Float64()
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("variable %s must be a finite Float; got %s", path, num)
		}
		return f, nil
	case graphql.String:
		if _, ok := v.(string); !ok {
			return nil, fmt.Errorf("variable %s must be a String; got %s", path, describe(v))
		}
	case graphql.Boolean:
		if _, ok := v.(bool); !ok {
			return nil, fmt.Errorf("variable %s must be a Boolean; got %s", path, describe(v))
		}
	case graphql.ID:
		if isNum {
			if _, err := strconv.ParseInt(string(num), 10, 64); err != nil {
				return nil, fmt.Errorf("variable %s must be an ID, a string or a whole number; got %s", path, num)
			}
			return string(num), nil
		}
		if _, ok := v.(string); !ok {
			return nil, fmt.Errorf("variable %s must be an ID, a string or a whole number; got %s", path, describe(v))
		}
	default:
		// Custom scalars parse json.Number themselves (BigInt stays exact);
		// enums and the rest see plain Go numbers.
		if isNum && t != BigInt {
			if n, err := num.Int64(); err == nil {
				v = n
			} else {
				v, _ = num.Float64()
			}
		}
		// Check with the type's own parser now: graphql-go would refuse a
		// value it rejects only once the transaction began, with an
		// uncoded error that prints Go values. The value itself goes on
		// unparsed, as graphql-go parses it again.
		var parsed any
		switch t := t.(type) {
		case *graphql.Scalar:
			parsed = t.ParseValue(v)
		case *graphql.Enum:
			parsed = t.ParseValue(v)
		default:
			return v, nil
		}
		if parsed == nil {
			return nil, fmt.Errorf("variable %s must be %s %s; got %s", path, article(t.Name()), t.Name(), describe(v))
		}
	}
	return v, nil
}

// article is "an" before a type name that starts with a vowel, else "a".
func article(name string) string {
	if name != "" && strings.ContainsRune("AEIOU", rune(name[0])) {
		return "an"
	}
	return "a"
}

// describe names a JSON value's type for an error message.
func describe(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case bool:
		return strconv.FormatBool(v)
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	default:
		return fmt.Sprint(v)
	}
}
