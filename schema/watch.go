package schema

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"tenantgraph/identity"
	"tenantgraph/tenancy"
)

// Watcher keeps a replica's registry and tenant directory current with
// changes made through other replicas (or `tenant refresh`). It listens on
// tenancy.ChangeChannel and rebuilds a changed tenant it serves as soon as
// it hears of it; after its connection comes back, and every interval as a
// safety net for lost notifications, it compares every tenant's version in
// one query and rebuilds the stale ones.
type Watcher struct {
	Registry  *Registry
	Directory *tenancy.Directory
	// Interval is the period of the full check; zero means 30 seconds.
	Interval time.Duration
	// OnIdentityChange, when set, is called when a replica announces that
	// a token was revoked or a user's roles changed, and after the
	// listener reconnects (a notification may have been missed).
	OnIdentityChange func()
	// OnEvent, when set, is told "notification", "connect", "reconnect" or
	// "check" each time one is handled (metrics and tests).
	OnEvent func(kind string)
}

// Run watches until ctx ends. dsn is the connection string of the database;
// the listener holds one connection of its own.
func (w *Watcher) Run(ctx context.Context, dsn string) error {
	log := w.Registry.opts.logger()
	reconnected := make(chan struct{}, 1)
	l := pq.NewListener(dsn, 10*time.Millisecond, 2*time.Second, func(ev pq.ListenerEventType, err error) {
		switch ev {
		case pq.ListenerEventReconnected:
			select {
			case reconnected <- struct{}{}:
			default:
			}
		case pq.ListenerEventConnectionAttemptFailed, pq.ListenerEventDisconnected:
			log.Warn("change listener connection", "event", ev, "err", err)
		}
	})
	defer l.Close()
	// Listen returns once the listener has a connection, which takes long
	// when the database refuses it; meanwhile the periodic check runs and
	// ctx can end Run (closing the listener ends Listen). Changes made
	// before it listened are caught by a full check once it does.
	listened := make(chan error, 1)
	go func() { listened <- l.Listen(tenancy.ChangeChannel) }()
	interval := w.Interval
	if interval <= 0 {
		interval = 30 * time.Second
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-listened:
			if err != nil {
				return err
			}
			listened = nil
			w.check(ctx)
			w.event("connect")
		case n := <-l.Notify:
			if n == nil {
				// pq sends nil after a reconnect; the reconnect event runs
				// the full check.
				continue
			}
			w.handle(ctx, n.Extra)
			w.event("notification")
		case <-reconnected:
			w.identityChanged()
			w.check(ctx)
			w.event("reconnect")
		case <-tick.C:
			w.check(ctx)
			w.event("check")
		}
	}
}

func (w *Watcher) event(kind string) {
	if w.OnEvent != nil {
		w.OnEvent(kind)
	}
}

func (w *Watcher) identityChanged() {
	if w.OnIdentityChange != nil {
		w.OnIdentityChange()
	}
}

// handle applies one "<tenant id>:<version>" notification, or an identity
// change.
func (w *Watcher) handle(ctx context.Context, payload string) {
	if payload == identity.ChangePayload {
		w.identityChanged()
		return
	}
	idText, vText, ok := strings.Cut(payload, ":")
	id, err1 := strconv.ParseInt(idText, 10, 64)
	if ok && err1 == nil && vText == tenancy.DroppedVersion {
		w.Directory.Forget(id)
		w.Registry.Forget(id)
		return
	}
	v, err2 := strconv.ParseInt(vText, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return
	}
	w.apply(ctx, id, v)
}

// apply records that tenant id is at version v and rebuilds its schema
// now if this replica serves it.
func (w *Watcher) apply(ctx context.Context, id, v int64) {
	w.Directory.SetVersion(id, v)
	w.Registry.Observe(id, v)
	cur, built := w.Registry.Current(id)
	if !built || cur >= v {
		return
	}
	t := w.Directory.Cached(id)
	if t == nil {
		return
	}
	if _, err := w.Registry.Get(ctx, t); err != nil {
		w.Registry.opts.logger().Warn("rebuild after change", "tenant", t.Alias, "err", err)
	}
}

// check compares every tenant's version in one query and rebuilds the
// stale ones.
func (w *Watcher) check(ctx context.Context) {
	versions, err := w.Directory.Sync(ctx)
	if err != nil {
		w.Registry.opts.logger().Warn("schema version check", "err", err)
		return
	}
	w.Registry.mu.Lock()
	var ids []int64
	for id := range w.Registry.entries {
		ids = append(ids, id)
	}
	w.Registry.mu.Unlock()
	for _, id := range ids {
		v, ok := versions[id]
		if !ok {
			w.Registry.Forget(id)
			continue
		}
		w.apply(ctx, id, v)
	}
}
