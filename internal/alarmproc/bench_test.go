package alarmproc

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/store"
)

// memStore is an in-memory Store for benchmarks: it keeps nothing but the snapshot.
type memStore struct{ Store }

func (memStore) SaveAlarmBatch(context.Context, store.AlarmBatch) error        { return nil }
func (memStore) AlarmSnapshot(context.Context) ([]byte, error)                 { return nil, nil }
func (memStore) AlarmPolicies(context.Context) ([]store.AlarmPolicyDoc, error) { return nil, nil }
func (memStore) CareAssignments(context.Context, string, time.Time) ([]store.CareAssignment, error) {
	return nil, nil
}
func (memStore) OnCall(context.Context, string, time.Time) ([]store.OnCallShift, error) {
	return nil, nil
}
func (memStore) Users(_ context.Context, tenant string) ([]store.User, error) {
	return []store.User{{ID: "n1", Tenant: tenant, Role: store.Nurse}}, nil
}

// BenchmarkActive10k lists (and encodes as the API does) a tenant's 10,000 active HIGH alarms.
func BenchmarkActive10k(b *testing.B) {
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	s, err := New(ctx, Config{Store: memStore{}})
	if err != nil {
		b.Fatal(err)
	}
	eng, err := alarm.New(alarm.Config{Directory: directory{st: memStore{}, now: time.Now}, Emit: func(context.Context, alarm.Batch) error { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	s.eng.Store(eng)
	s.leading.Store(true)
	go func() { _ = eng.Run(ctx) }()
	t0 := time.Now().Add(-time.Minute)
	conds := make([]alarm.Condition, 0, 10000)
	for i := range 10000 {
		conds = append(conds, alarm.Condition{Tenant: "t1", Subject: fmt.Sprintf("p%05d", i), Device: "d", Metric: "hr",
			Code: alarm.HRExtremeHigh, Kind: alarm.Physiological, Priority: alarm.High, Status: alarm.StatusPresent,
			At: t0.Add(time.Duration(i) * time.Millisecond), Onset: t0, Value: 180, Limit: 150, UCUM: "/min"})
	}
	if err := s.eng.Load().Apply(ctx, conds); err != nil {
		b.Fatal(err)
	}
	if vs, _ := s.Active(ctx, "t1", "", 0, 10000); len(vs) != 10000 {
		b.Fatalf("%d active alarms, want 10000", len(vs))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		vs, err := s.Active(ctx, "t1", "", 0, 10000)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(map[string]any{"alarms": vs}); err != nil {
			b.Fatal(err)
		}
	}
}
