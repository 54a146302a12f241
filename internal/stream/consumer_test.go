package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigil-iomt/vigil/internal/reading"
)

// TestRunConsumerInOrderAcrossRestart: a processor sees every message once, in stream order;
// after it stops and starts again on the same durable consumer, it sees only what is new.
func TestRunConsumerInOrderAcrossRestart(t *testing.T) {
	forEachServer(t, func(t *testing.T, cfg Config) {
		if cfg.URL != "" {
			// nats-server 2.9.10 hands messages to a stopped consumer's still-open pull requests;
			// with one message in flight each then waits out the ack wait, which makes timing
			// here unreliable. The embedded server is what the alarm processor runs on in tests.
			t.Skip("single-in-flight consumer restart timing is unreliable on nats-server 2.9.10")
		}
		cfg.WriterAckWait = 2 * time.Second
		l := openLog(t, cfg)
		base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
		var (
			mu   sync.Mutex
			seqs []uint64
			n    int
		)
		run := func() (stop func()) {
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() {
				done <- l.RunConsumer(ctx, "test-proc", func(_ context.Context, seq uint64, rs []reading.Reading) error {
					mu.Lock()
					defer mu.Unlock()
					seqs = append(seqs, seq)
					n += len(rs)
					return nil
				})
			}()
			return func() {
				cancel()
				if err := <-done; !errors.Is(err, context.Canceled) {
					t.Errorf("RunConsumer returned %v, want context.Canceled", err)
				}
			}
		}
		count := func() (int, int) {
			mu.Lock()
			defer mu.Unlock()
			return len(seqs), n
		}
		stop := run()
		for i := range 300 {
			if err := l.Append(t.Context(), "acme", fmt.Sprintf("dev-%d", i), sampleReadings("acme", fmt.Sprintf("dev-%d", i), 2, base)); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, 20*time.Second, func() error {
			if _, got := count(); got != 600 {
				return fmt.Errorf("%d of 600 readings handled", got)
			}
			return nil
		})
		stop()
		if err := l.Append(t.Context(), "acme", "dev-x", sampleReadings("acme", "dev-x", 3, base)); err != nil {
			t.Fatal(err)
		}
		stop = run()
		defer stop()
		waitFor(t, 20*time.Second, func() error {
			if _, got := count(); got != 603 {
				return fmt.Errorf("%d of 603 readings handled", got)
			}
			return nil
		})
		time.Sleep(100 * time.Millisecond)
		msgs, got := count()
		if got != 603 {
			t.Fatalf("%d readings handled, want 603 (nothing twice)", got)
		}
		mu.Lock()
		defer mu.Unlock()
		for i := 1; i < msgs; i++ {
			if seqs[i] <= seqs[i-1] {
				t.Fatalf("message %d has stream sequence %d after %d: out of order or repeated", i, seqs[i], seqs[i-1])
			}
		}
	})
}

func TestRemoveConsumer(t *testing.T) {
	l := openLog(t, Config{DataDir: t.TempDir()})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- l.RunConsumer(ctx, "old", func(context.Context, uint64, []reading.Reading) error { return nil })
	}()
	waitFor(t, 10*time.Second, func() error {
		_, err := l.js.Consumer(t.Context(), l.cfg.StreamName, "old")
		return err
	})
	cancel()
	<-done
	if err := l.RemoveConsumer(t.Context(), "old"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.js.Consumer(t.Context(), l.cfg.StreamName, "old"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("after RemoveConsumer: %v, want not found", err)
	}
	if err := l.RemoveConsumer(t.Context(), "old"); err != nil {
		t.Errorf("removing it again: %v, want nil", err)
	}
}
