package alarmproc

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
)

// BenchmarkConsume is the alarm processor's cost per log message of 30 normal readings
// (threshold and technical evaluation, no alarm), without the log and the store.
func BenchmarkConsume(b *testing.B) {
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	s, err := New(ctx, Config{Store: memStore{}, Log: nil})
	if err != nil {
		b.Fatal(err)
	}
	eng, err := s.start(ctx)
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = eng.Run(ctx) }()
	t0 := time.Now().Add(-time.Hour)
	msgs := make([][]reading.Reading, 1000)
	for i := range msgs {
		dev := fmt.Sprintf("dev-%04d", i)
		for k := range 30 {
			r := reading.Reading{Tenant: "t", Device: dev, Subject: "s" + dev, Metric: "hr", Kind: reading.Number, Value: 70, Unit: "/min",
				Measured: t0.Add(time.Duration(k) * time.Second), Received: t0}
			r.ID = reading.NewID(r.Tenant, r.Device, r.Metric, r.Measured)
			msgs[i] = append(msgs[i], r)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := msgs[i%len(msgs)]
		for k := range m {
			m[k].Measured = m[k].Measured.Add(30 * time.Second)
		}
		if err := s.consume(ctx, uint64(i+1), m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*30)/b.Elapsed().Seconds(), "readings/s")
}
