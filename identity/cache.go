package identity

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
)

// ChangeChannel and ChangePayload announce, on the channel replicas already
// listen to for schema changes, that a token was revoked or a user's roles
// or active flag changed, so every replica drops the principals it keeps.
const (
	ChangeChannel = "tenantgraph_schema_changed"
	ChangePayload = "identity"
)

// maxCached bounds each map of the cache; past it the map starts afresh.
const maxCached = 10000

// principalCache keeps principals for a short time, so a busy token or
// session does not cost a query for its roles on every request. Changes
// made through a Store clear it at once and notify the other replicas,
// which clear theirs when they hear it; the time limit covers a missed
// notification.
type principalCache struct {
	ttl    time.Duration
	mu     sync.Mutex
	tokens map[[32]byte]cachedPrincipal
	users  map[int64]cachedPrincipal
}

type cachedPrincipal struct {
	p     *Principal
	until time.Time
}

func (c *principalCache) token(secret string) *Principal {
	if c == nil {
		return nil
	}
	key := sha256.Sum256([]byte(secret))
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.tokens[key]; ok && time.Now().Before(e.until) {
		return e.p
	}
	return nil
}

// putToken keeps p for the token, never past the token's expiry.
func (c *principalCache) putToken(secret string, p *Principal, expires sql.NullTime) {
	if c == nil {
		return
	}
	until := time.Now().Add(c.ttl)
	if expires.Valid && expires.Time.Before(until) {
		until = expires.Time
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tokens == nil || len(c.tokens) >= maxCached {
		c.tokens = map[[32]byte]cachedPrincipal{}
	}
	c.tokens[sha256.Sum256([]byte(secret))] = cachedPrincipal{p, until}
}

func (c *principalCache) user(id int64) *Principal {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.users[id]; ok && time.Now().Before(e.until) {
		return e.p
	}
	return nil
}

func (c *principalCache) putUser(id int64, p *Principal) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.users == nil || len(c.users) >= maxCached {
		c.users = map[int64]cachedPrincipal{}
	}
	c.users[id] = cachedPrincipal{p, time.Now().Add(c.ttl)}
}

func (c *principalCache) clear() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tokens, c.users = nil, nil
}

// EnableCache makes the store keep principals for ttl. Principals it
// returns are then shared: callers must not change them.
func (s *Store) EnableCache(ttl time.Duration) {
	if ttl > 0 {
		s.cache = &principalCache{ttl: ttl}
	}
}

// ClearCache drops every kept principal; the change listener calls it when
// another replica announces an identity change.
func (s *Store) ClearCache() { s.cache.clear() }

// changed clears this replica's cache and tells the others, after a change
// that can take a role or a credential away.
func (s *Store) changed(ctx context.Context, q sqlx.ExecerContext) error {
	s.cache.clear()
	_, err := q.ExecContext(ctx, `SELECT pg_notify($1, $2)`, ChangeChannel, ChangePayload)
	return err
}
