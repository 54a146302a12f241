package sqlite

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

var benchT0 = time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)

// series returns n readings of metric for subject from device, one per second from benchT0+offset.
func series(tenant, device, subject, metric string, offset time.Duration, n int) []reading.Reading {
	rs := make([]reading.Reading, n)
	for i := range rs {
		m := benchT0.Add(offset + time.Duration(i)*time.Second)
		rs[i] = reading.Reading{ID: reading.NewID(tenant, device, metric, m), Tenant: tenant, Device: device,
			Subject: subject, Metric: metric, Value: 60 + float64(i%40), Unit: "/min", Measured: m, Received: m}
	}
	return rs
}

func benchStore(b *testing.B) *Store {
	b.Helper()
	s := openFile(b, filepath.Join(b.TempDir(), "bench.db"))
	if err := s.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	if err := s.CreateTenant(b.Context(), store.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		b.Fatal(err)
	}
	return s
}

func insertAll(b *testing.B, s *Store, rs []reading.Reading, batch int) {
	b.Helper()
	for start := 0; start < len(rs); start += batch {
		if _, err := s.InsertReadings(b.Context(), rs[start:min(start+batch, len(rs))]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInsertReadings inserts new readings in batches of 1,000 and 5,000 (20 devices × 50
// or 250 s of 1 Hz data for one metric each), as the store writer does, into a file with
// synchronous=FULL.
func BenchmarkInsertReadings(b *testing.B) {
	// 20 devices: few series, many rows per series per batch. 1,000 devices: the MQTT
	// benchmark's shape, where each batch touches a leaf page per series, so bigger batches
	// write fewer pages per reading.
	for _, c := range []struct{ batch, devices int }{{1000, 20}, {5000, 20}, {5000, 1000}, {20000, 1000}} {
		b.Run(fmt.Sprintf("batch=%d/devices=%d", c.batch, c.devices), func(b *testing.B) {
			s := benchStore(b)
			per := c.batch / c.devices
			next := time.Duration(0)
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				var rs []reading.Reading
				for d := range c.devices {
					dev := fmt.Sprintf("dev-%d", d)
					rs = append(rs, series("acme", dev, "P-"+dev, "hr", next, per)...)
				}
				next += time.Duration(per) * time.Second
				b.StartTimer()
				n, err := s.InsertReadings(b.Context(), rs)
				if err != nil || n != len(rs) {
					b.Fatalf("InsertReadings = %d, %v; want %d new", n, err, len(rs))
				}
			}
			b.ReportMetric(float64(b.N*c.batch)/b.Elapsed().Seconds(), "readings/s")
		})
	}
}

// BenchmarkBuckets24h asks for 24 h of 1 Hz heart rate (86,400 points) as 1-minute buckets,
// with three other series of the same size in the table.
func BenchmarkBuckets24h(b *testing.B) {
	s := benchStore(b)
	insertAll(b, s, series("acme", "mon-1", "P-1", "hr", 0, 86_400), 5000)
	insertAll(b, s, series("acme", "mon-1", "P-1", "spo2", 0, 86_400), 5000)
	insertAll(b, s, series("acme", "mon-2", "P-2", "hr", 0, 86_400), 5000)
	insertAll(b, s, series("acme", "mon-0", "P-0", "hr", 0, 86_400), 5000)
	q := store.ReadingQuery{Tenant: "acme", Subject: "P-1", Metric: "hr", From: benchT0, To: benchT0.Add(24 * time.Hour)}
	b.ReportAllocs()
	for b.Loop() {
		bs, err := s.Buckets(b.Context(), q, time.Minute)
		if err != nil || len(bs) != 1440 {
			b.Fatalf("Buckets = %d buckets, %v; want 1440", len(bs), err)
		}
	}
}
