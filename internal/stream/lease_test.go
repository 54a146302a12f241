package stream

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

type leaseRun struct {
	holding atomic.Bool
	starts  atomic.Int32
	stop    context.CancelFunc
	done    chan struct{}
}

func runLease(t *testing.T, l *Log, holder string, ttl time.Duration) *leaseRun {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	r := &leaseRun{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		_ = l.RunLeased(ctx, "alarms", holder, ttl, func(ctx context.Context) error {
			r.starts.Add(1)
			<-ctx.Done()
			return ctx.Err()
		}, func(h bool) { r.holding.Store(h) })
	}()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

// TestLeaseOneHolderAndHandOver: of two nodes one runs the leased work; when it stops, the
// other takes over at once (the lease is released, not left to expire); a holder that dies
// without releasing is replaced once the TTL has run out.
func TestLeaseOneHolderAndHandOver(t *testing.T) {
	forEachServer(t, func(t *testing.T, cfg Config) {
		l := openLog(t, cfg)
		const ttl = 1500 * time.Millisecond
		a := runLease(t, l, "node-a", ttl)
		waitFor(t, 5*time.Second, func() error {
			if !a.holding.Load() {
				return errors.New("node-a does not hold the lease")
			}
			return nil
		})
		b := runLease(t, l, "node-b", ttl)
		time.Sleep(2 * ttl) // several renewals: b must stay on standby
		if !a.holding.Load() || b.holding.Load() || a.starts.Load() != 1 || b.starts.Load() != 0 {
			t.Fatalf("a holds %v (%d starts), b holds %v (%d starts); want a only, started once",
				a.holding.Load(), a.starts.Load(), b.holding.Load(), b.starts.Load())
		}
		a.stop()
		<-a.done
		// A stopping holder releases the lease (deletes the key) rather than let it expire.
		kvA, err := l.leases(t.Context(), ttl)
		if err != nil {
			t.Fatal(err)
		}
		if e, err := kvA.Get(t.Context(), "alarms"); err == nil && string(e.Value()) == "node-a" {
			t.Errorf("node-a stopped but its lease is still there (revision %d)", e.Revision())
		}
		waitFor(t, 5*time.Second, func() error {
			if !b.holding.Load() {
				return errors.New("node-b has not taken over")
			}
			return nil
		})

		// A dead holder: take the lease by hand and never renew it.
		b.stop()
		<-b.done
		kv, err := l.leases(t.Context(), ttl)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, func() error {
			_, err := kv.Create(t.Context(), "alarms", []byte("dead-node"))
			return err
		})
		taken := time.Now()
		c := runLease(t, l, "node-c", ttl)
		waitFor(t, 10*time.Second, func() error {
			if !c.holding.Load() {
				return errors.New("node-c has not taken over from the dead node")
			}
			return nil
		})
		if took := time.Since(taken); took < ttl-200*time.Millisecond {
			t.Errorf("node-c took a live lease after %v, before the TTL (%v) ran out", took, ttl)
		}

		// node-c "crashes" (its lease stays) and restarts under the same name: it takes its
		// own lease back at once.
		kv2, _ := l.leases(t.Context(), ttl)
		c.stop()
		<-c.done
		if _, err := kv2.Create(t.Context(), "alarms", []byte("node-c")); err != nil {
			t.Fatal(err)
		}
		restarted := time.Now()
		c2 := runLease(t, l, "node-c", ttl)
		waitFor(t, 5*time.Second, func() error {
			if !c2.holding.Load() {
				return errors.New("restarted node-c has not taken its lease back")
			}
			return nil
		})
		if took := time.Since(restarted); took > ttl/2 {
			t.Errorf("taking its own lease back took %v", took)
		}
	})
}
