package postgres

import (
	"fmt"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

var benchT0 = time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)

// BenchmarkInsertReadings inserts new readings in batches (20 devices × batch/20 s of 1 Hz data
// each), as the store writer does. Needs VIGIL_TEST_POSTGRES.
func BenchmarkInsertReadings(b *testing.B) {
	for _, batch := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := openURL(b, testSchema(b))
			ctx := b.Context()
			if err := s.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
			if err := s.CreateTenant(ctx, store.Tenant{ID: "acme", Name: "Acme"}); err != nil {
				b.Fatal(err)
			}
			const devices = 20
			per := batch / devices
			next := time.Duration(0)
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				rs := make([]reading.Reading, 0, batch)
				for d := range devices {
					dev := fmt.Sprintf("dev-%02d", d)
					for i := range per {
						m := benchT0.Add(next + time.Duration(i)*time.Second)
						rs = append(rs, reading.Reading{ID: reading.NewID("acme", dev, "hr", m), Tenant: "acme", Device: dev,
							Subject: "P-" + dev, Metric: "hr", Value: 60 + float64(i%40), Unit: "/min", Measured: m, Received: m})
					}
				}
				next += time.Duration(per) * time.Second
				b.StartTimer()
				n, err := s.InsertReadings(ctx, rs)
				if err != nil || n != len(rs) {
					b.Fatalf("InsertReadings = %d, %v; want %d new", n, err, len(rs))
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "readings/s")
		})
	}
}
