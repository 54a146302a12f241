package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Leases: some processors keep state that must live in one place (the alarm engine, the
// notification outbox, per-patient NEWS2 and per-lot budgets). Scaled out, every node runs the
// same binary; a lease in a JetStream key-value bucket decides which node runs them. No home-made
// consensus: the bucket's compare-and-set (create only if absent, update only at the revision
// last written) and its TTL do the work.

// DefaultLeaseTTL is how long a lease outlives its holder's last renewal. A holder renews every
// TTL/3; a node that dies is replaced after at most TTL.
const DefaultLeaseTTL = 10 * time.Second

func (l *Log) leaseBucket() string { return "LEASES_" + l.cfg.StreamName }

func (l *Log) leases(ctx context.Context, ttl time.Duration) (jetstream.KeyValue, error) {
	kv, err := l.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      l.leaseBucket(),
		Description: "Vigil processor leases",
		TTL:         ttl,
		History:     1,
		Replicas:    l.cfg.Replicas,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("stream: lease bucket %s: %w", l.leaseBucket(), err)
	}
	return kv, nil
}

// RunLeased runs run while this node (holder names it in logs and in the bucket) holds the
// lease name, until ctx is done; then it returns nil. holder must be stable across restarts of
// one node and distinct between nodes (host and data directory): a node restarted after a
// crash takes its own lease back at once. Not holding it, it stands by and tries
// again every ttl/3. run's context is cancelled when the lease is lost (a renewal failed or
// found another holder) and run is started again once it is regained; an error from run is
// logged and the lease released, so that another node may take over. ttl 0 means
// DefaultLeaseTTL; all nodes must use the same ttl. held, if not nil, is told about changes.
func (l *Log) RunLeased(ctx context.Context, name, holder string, ttl time.Duration, run func(ctx context.Context) error, held func(bool)) error {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	if held == nil {
		held = func(bool) {}
	}
	key := strings.ReplaceAll(name, ".", "_")
	var kv jetstream.KeyValue
	standby := false
	for {
		if kv == nil {
			var err error
			if kv, err = l.leases(ctx, ttl); err != nil {
				l.log.Warn("lease bucket unavailable; retrying", "lease", name, "err", err)
			}
		}
		if kv != nil {
			rev, err := kv.Create(ctx, key, []byte(holder))
			if errors.Is(err, jetstream.ErrKeyExists) {
				// Our own lease from before a crash (holder names the node and its data):
				// take it back now rather than wait for the TTL.
				if e, gerr := kv.Get(ctx, key); gerr == nil && string(e.Value()) == holder {
					rev, err = kv.Update(ctx, key, []byte(holder), e.Revision())
				}
			}
			switch {
			case err == nil:
				l.log.Info("lease acquired", "lease", name, "holder", holder)
				standby = false
				l.holdLease(ctx, kv, name, key, holder, rev, ttl, run, held)
			case errors.Is(err, jetstream.ErrKeyExists):
				if !standby {
					cur := ""
					if e, gerr := kv.Get(ctx, key); gerr == nil {
						cur = string(e.Value())
					}
					l.log.Info("lease held by another node; standing by", "lease", name, "holder", cur)
					standby = true
				}
			case ctx.Err() == nil:
				l.log.Warn("lease: acquire failed; retrying", "lease", name, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(ttl / 3):
		}
	}
}

// holdLease runs run and renews the lease until ctx ends, the renewal fails or run returns.
func (l *Log) holdLease(ctx context.Context, kv jetstream.KeyValue, name, key, holder string, rev uint64, ttl time.Duration,
	run func(ctx context.Context) error, held func(bool)) {
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	held(true)
	go func() { done <- run(rctx) }()
	tick := time.NewTicker(ttl / 3)
	defer tick.Stop()
	release := func() {
		cancel()
		err := <-done
		held(false)
		if err != nil && !errors.Is(err, context.Canceled) {
			l.log.Error("leased processor failed; releasing the lease", "lease", name, "err", err)
		}
		// Hand over at once rather than after the TTL (only if it is still ours).
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer dcancel()
		if err := kv.Delete(dctx, key, jetstream.LastRevision(rev)); err != nil {
			// A renewal cut short may have been applied without this node learning its
			// revision: delete the key if it still names this holder.
			if e, gerr := kv.Get(dctx, key); gerr == nil && string(e.Value()) == holder {
				_ = kv.Delete(dctx, key, jetstream.LastRevision(e.Revision()))
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			release()
			return
		case err := <-done:
			done <- err
			release()
			return
		case <-tick.C:
			// Not cut short by ctx: a renewal applied on the server must come back with its
			// revision, or the release that follows a stop could not delete the key.
			uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), ttl/3)
			next, err := kv.Update(uctx, key, []byte(holder), rev)
			ucancel()
			if err == nil {
				rev = next
			}
			if ctx.Err() != nil {
				release()
				return
			}
			if err != nil {
				l.log.Error("lease lost; stopping its processors", "lease", name, "err", err)
				cancel()
				<-done
				held(false)
				return
			}
		}
	}
}
