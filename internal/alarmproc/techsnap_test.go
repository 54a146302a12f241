package alarmproc

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

// TestTechStateInCheckpoint: the technical evaluator's state is saved with the alarm
// checkpoint and restored by the next Run (rebased to the restart), so a device that fell
// silent before the restart is still watched although the replayed log holds none of its
// readings.
func TestTechStateInCheckpoint(t *testing.T) {
	st := &fakeStore{alarms: map[string]store.AlarmRecord{}, ids: map[string]bool{}, users: []store.User{
		{ID: "n1", Tenant: "acme", Role: store.Nurse}}}
	run := func() (*Service, *fakeLog, func()) {
		lg := &fakeLog{msgs: make(chan []reading.Reading), acks: make(chan error)}
		svc, err := New(t.Context(), Config{Log: lg, Store: st, CheckEvery: time.Hour, CheckpointEvery: time.Nanosecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- svc.Run(ctx) }()
		waitLeading(t, svc)
		return svc, lg, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	}
	_, lg, stop := run()
	now := time.Now().Add(-10 * time.Second)
	r := reading.Reading{Tenant: "acme", Device: "wear1", Subject: "pat1", Metric: "spo2", Kind: reading.Number,
		Value: 96, Unit: "%", Measured: now, Received: now}
	r.ID = reading.NewID(r.Tenant, r.Device, r.Metric, r.Measured)
	lg.msgs <- []reading.Reading{r}
	if err := <-lg.acks; err != nil {
		t.Fatal(err)
	}
	stop()

	st.mu.Lock()
	raw := st.snapshot
	st.mu.Unlock()
	var cp checkpoint
	if err := json.Unmarshal(raw, &cp); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	if cp.Tech == nil || len(cp.Tech.Signals) != 1 || cp.Tech.Signals[0].Device != "wear1" || !cp.Tech.Signals[0].Last.Equal(now) {
		t.Fatalf("checkpoint tech state = %+v, want wear1's spo2 last seen %v", cp.Tech, now)
	}

	svc, _, stop := run()
	defer stop()
	svc.techMu.Lock()
	ts := svc.tech.Snapshot()
	svc.techMu.Unlock()
	if len(ts.Signals) != 1 || ts.Signals[0].Device != "wear1" || !ts.Signals[0].Last.Equal(now) {
		t.Fatalf("restored tech state = %+v, want wear1's spo2 last seen %v", ts, now)
	}
}
