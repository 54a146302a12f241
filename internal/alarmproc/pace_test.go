package alarmproc

import (
	"context"
	"testing"
	"time"
)

// setProgress plays the consumer: readings received up to recv are evaluated.
func (s *Service) setProgress(recv time.Time) {
	s.clockMu.Lock()
	defer s.clockMu.Unlock()
	s.lastRecv, s.lastWall = recv, time.Now()
	s.advanced()
}

// TestPace: an acknowledgement waits while the engine has not evaluated readings received
// within PaceBound before the pack, and goes as soon as it has; without an engine (or with one
// not heard from) nothing waits; no wait outlasts ctx.
func TestPace(t *testing.T) {
	s := &Service{}
	t0 := time.Now()
	start := time.Now()
	s.Pace(t.Context(), t0.Add(time.Hour)) // not leading, no remote progress: no pacing
	if time.Since(start) > 100*time.Millisecond {
		t.Fatal("a node without an engine paced")
	}

	s.leading.Store(true)
	s.setProgress(t0)
	start = time.Now()
	s.Pace(t.Context(), t0.Add(PaceBound))
	if time.Since(start) > 50*time.Millisecond {
		t.Fatal("paced a pack within the bound")
	}

	done := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		s.Pace(t.Context(), t0.Add(time.Second))
		done <- time.Since(start)
	}()
	time.Sleep(100 * time.Millisecond)
	s.setProgress(t0.Add(500 * time.Millisecond)) // not far enough
	select {
	case <-done:
		t.Fatal("released before the engine reached the pack")
	case <-time.After(100 * time.Millisecond):
	}
	s.setProgress(t0.Add(time.Second - PaceBound))
	select {
	case d := <-done:
		if d < 200*time.Millisecond {
			t.Errorf("waited %v, want until the second progress (≥ 200 ms)", d)
		}
	case <-time.After(time.Second):
		t.Fatal("not released when the engine reached the pack")
	}

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	s.Pace(ctx, t0.Add(time.Hour))
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("a cancelled wait took %v", d)
	}

	// A standby node paces by the engine node's broadcast progress while it is fresh.
	sb := &Service{node: "b"}
	sb.heardProgress([]byte(`{"origin":"a","recv":"` + t0.Format(time.RFC3339Nano) + `"}`))
	go func() {
		time.Sleep(100 * time.Millisecond)
		sb.heardProgress([]byte(`{"origin":"a","recv":"` + t0.Add(time.Second).Format(time.RFC3339Nano) + `"}`))
	}()
	start = time.Now()
	sb.Pace(t.Context(), t0.Add(time.Second))
	if d := time.Since(start); d < 80*time.Millisecond || d > time.Second {
		t.Errorf("standby paced %v, want until the second broadcast (~100 ms)", d)
	}
}
