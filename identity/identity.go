// Package identity owns who a caller is: users and their passwords,
// memberships that give roles per country, API tokens, and the Principal a
// request runs as. It knows nothing about HTTP or GraphQL.
package identity

import (
	"context"
	"errors"
)

// Role is what a principal may do. admin is global; editor and viewer hold
// for one country through a membership.
type Role string

// The roles, weakest first.
const (
	RoleViewer Role = "viewer"
	RoleEditor Role = "editor"
	RoleAdmin  Role = "admin"
)

// rank orders roles: a role includes every role of lower rank.
func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleEditor:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// Sentinel errors callers branch on.
var (
	ErrInvalid      = errors.New("invalid")
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrBadPassword  = errors.New("wrong email or password")
	ErrInactive     = errors.New("user is deactivated")
	ErrBadToken     = errors.New("invalid, expired or revoked API token")
	ErrUnauthorized = errors.New("not signed in")
	// ErrLastAdmin refuses a change that would leave no active user with
	// the admin role: nobody could then manage countries and users, or make
	// anyone admin again, through the API.
	ErrLastAdmin = errors.New("last active admin")
)

// Principal is the user a request runs as, with every role they hold.
type Principal struct {
	UserID int64
	Email  string
	Name   string
	Admin  bool
	// Countries maps a country id to the role held there.
	Countries map[int64]Role
	// TokenID is the API token the request came with, or 0 for a session.
	TokenID int64
}

// Can reports whether p holds need, or a stronger role, in country
// countryID; countryID 0 asks for a global role, which only admin is. A
// need that is not one of the three roles is never held.
func (p *Principal) Can(countryID int64, need Role) bool {
	if p == nil || !need.Valid() {
		return false
	}
	if p.Admin {
		return true
	}
	if countryID == 0 || need == RoleAdmin {
		return false
	}
	return p.Countries[countryID].rank() >= need.rank()
}

type ctxKey struct{}

// NewContext returns a copy of ctx carrying p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal carried by ctx, or nil when anonymous.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}

// UserIDOrZero returns p's user id, or 0 for a nil principal.
func (p *Principal) UserIDOrZero() int64 {
	if p == nil {
		return 0
	}
	return p.UserID
}
