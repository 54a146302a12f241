package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
)

// follower runs l.Follow in the background and keeps what it receives.
type follower struct {
	mu   sync.Mutex // guards the fields below
	seqs []uint64
	msgs [][]reading.Reading
	err  error
	done chan struct{}
}

func startFollow(t *testing.T, l *Log, tenant string, afterSeq uint64) (*follower, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	f := &follower{done: make(chan struct{})}
	go func() {
		defer close(f.done)
		err := l.Follow(ctx, tenant, afterSeq, func(seq uint64, rs []reading.Reading) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.seqs = append(f.seqs, seq)
			f.msgs = append(f.msgs, rs)
			return nil
		})
		f.mu.Lock()
		f.err = err
		f.mu.Unlock()
	}()
	t.Cleanup(func() { cancel(); <-f.done })
	return f, cancel
}

// received returns the (seq, readings) pairs whose readings are not probes.
func (f *follower) received() (seqs []uint64, rs [][]reading.Reading) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, m := range f.msgs {
		if m[0].Device != "probe" {
			seqs = append(seqs, f.seqs[i])
			rs = append(rs, m)
		}
	}
	return seqs, rs
}

func (f *follower) sawProbe() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.msgs {
		if m[0].Device == "probe" {
			return true
		}
	}
	return false
}

// TestFollowDeliversNewMessagesOfOneTenantAndResumes: a follower from sequence 0 sees only what
// is appended after it started, only for its tenant, in order; a follower started after the
// sequence of the first of those messages sees exactly the rest.
func TestFollowDeliversNewMessagesOfOneTenantAndResumes(t *testing.T) {
	forEachServer(t, func(t *testing.T, cfg Config) {
		l := openLog(t, cfg)
		base := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
		old := sampleReadings("acme", "old-dev", 3, base)
		if err := l.Append(t.Context(), "acme", "old-dev", old); err != nil {
			t.Fatal(err)
		}
		f, stop := startFollow(t, l, "acme", 0)
		// The consumer is created asynchronously: append probes until the follower sees one,
		// so that everything appended afterwards must reach it.
		for i := 0; !f.sawProbe(); i++ {
			probe := sampleReadings("acme", "probe", 1, base.Add(time.Duration(i)*time.Hour))
			if err := l.Append(t.Context(), "acme", "probe", probe); err != nil {
				t.Fatal(err)
			}
			if i > 500 {
				t.Fatal("the follower saw no probe after 500 appends")
			}
			time.Sleep(10 * time.Millisecond)
		}
		var want [][]reading.Reading
		for i := range 4 {
			dev := fmt.Sprintf("dev-%d", i)
			rs := sampleReadings("acme", dev, 5, base)
			if err := l.Append(t.Context(), "acme", dev, rs); err != nil {
				t.Fatal(err)
			}
			want = append(want, rs)
			if err := l.Append(t.Context(), "other", dev, sampleReadings("other", dev, 2, base)); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, 10*time.Second, func() error {
			if _, got := f.received(); len(got) < len(want) {
				return fmt.Errorf("follower has %d messages, want %d", len(got), len(want))
			}
			return nil
		})
		time.Sleep(100 * time.Millisecond) // room for a wrongly delivered extra message
		seqs, got := f.received()
		checkMessages(t, seqs, got, want)

		stop()
		<-f.done
		if !errors.Is(f.err, context.Canceled) {
			t.Errorf("Follow returned %v after cancel, want context.Canceled", f.err)
		}

		// Resume after the first message: exactly the other three, with the same sequences.
		g, _ := startFollow(t, l, "acme", seqs[0])
		waitFor(t, 10*time.Second, func() error {
			if _, got := g.received(); len(got) < len(want)-1 {
				return fmt.Errorf("resumed follower has %d messages, want %d", len(got), len(want)-1)
			}
			return nil
		})
		time.Sleep(100 * time.Millisecond)
		gseqs, ggot := g.received()
		checkMessages(t, gseqs, ggot, want[1:])
		for i, s := range gseqs {
			if i+1 < len(seqs) && s != seqs[i+1] {
				t.Errorf("resumed message %d has seq %d, want %d", i, s, seqs[i+1])
			}
		}
	})
}

func checkMessages(t *testing.T, seqs []uint64, got, want [][]reading.Reading) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if i > 0 && seqs[i] <= seqs[i-1] {
			t.Errorf("seq %d after %d: not increasing", seqs[i], seqs[i-1])
		}
		if len(got[i]) != len(want[i]) {
			t.Errorf("message %d has %d readings, want %d", i, len(got[i]), len(want[i]))
			continue
		}
		for j := range want[i] {
			if d := readingDiff(got[i][j], want[i][j]); d != "" {
				t.Errorf("message %d reading %d: %s", i, j, d)
			}
		}
	}
}

func TestFollowRejectsBadTenant(t *testing.T) {
	l := openLog(t, Config{DataDir: t.TempDir()})
	err := l.Follow(t.Context(), "a.b", 0, func(uint64, []reading.Reading) error { return nil })
	if err == nil {
		t.Fatal("Follow with tenant \"a.b\" succeeded, want an error")
	}
}

func TestFollowReturnsCallbackErrorAndStartsAfterSeq(t *testing.T) {
	l := openLog(t, Config{DataDir: t.TempDir()})
	base := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	for _, dev := range []string{"d1", "d2"} {
		if err := l.Append(t.Context(), "acme", dev, sampleReadings("acme", dev, 1, base)); err != nil {
			t.Fatal(err)
		}
	}
	enough := errors.New("enough")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var gotSeq uint64
	var gotDev string
	err := l.Follow(ctx, "acme", 1, func(seq uint64, rs []reading.Reading) error {
		gotSeq, gotDev = seq, rs[0].Device
		return enough
	})
	if !errors.Is(err, enough) {
		t.Fatalf("Follow returned %v, want the callback's error", err)
	}
	if gotSeq != 2 || gotDev != "d2" {
		t.Errorf("first message after seq 1: seq %d device %q, want seq 2 device d2", gotSeq, gotDev)
	}
}

// TestReplayFromCheckpoint: Replay delivers every tenant's messages in stream order, from the
// oldest (afterSeq 0) or after a given sequence, on both servers.
func TestReplayFromCheckpoint(t *testing.T) {
	forEachServer(t, func(t *testing.T, cfg Config) {
		l := openLog(t, cfg)
		base := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
		for i, tenant := range []string{"acme", "other", "acme", "globex"} {
			dev := fmt.Sprintf("d%d", i)
			if err := l.Append(t.Context(), tenant, dev, sampleReadings(tenant, dev, 2, base)); err != nil {
				t.Fatal(err)
			}
		}
		collect := func(after uint64, n int) ([]uint64, []string) {
			t.Helper()
			enough := errors.New("enough")
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			var seqs []uint64
			var devs []string
			err := l.Replay(ctx, after, func(seq uint64, rs []reading.Reading) error {
				seqs = append(seqs, seq)
				devs = append(devs, rs[0].Tenant+"/"+rs[0].Device)
				if len(seqs) == n {
					return enough
				}
				return nil
			})
			if !errors.Is(err, enough) {
				t.Fatalf("Replay after %d: %v, want the callback's error after %d messages (got %v)", after, err, n, devs)
			}
			return seqs, devs
		}
		seqs, devs := collect(0, 4)
		if fmt.Sprint(devs) != "[acme/d0 other/d1 acme/d2 globex/d3]" {
			t.Fatalf("Replay from the start: %v", devs)
		}
		for i := 1; i < len(seqs); i++ {
			if seqs[i] <= seqs[i-1] {
				t.Fatalf("sequences not increasing: %v", seqs)
			}
		}
		_, devs = collect(seqs[1], 2)
		if fmt.Sprint(devs) != "[acme/d2 globex/d3]" {
			t.Errorf("Replay after seq %d: %v, want the last two", seqs[1], devs)
		}
	})
}
