package coldchainproc

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
)

// BenchmarkProcessReading measures the processor's CPU cost per reading of a live storage unit:
// mapping the reading to its unit, both excursion detectors, the budget charger with one lot
// in custody, the hourly MKT, the forecast and the JSON of the unit's state and status that
// each message commits — everything but the store transaction itself (measured separately by
// BenchmarkCommitSQLite). 1,000 units take turns, one reading per message, as a fleet
// reporting once a minute does.
func BenchmarkProcessReading(b *testing.B) {
	e := benchEnv(b, 1000)
	var msgs [][]reading.Reading
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		u := i % 1000
		at := t0.Add(time.Duration(i/1000) * time.Minute)
		c := 5 + 1.5*math.Sin(float64(i/1000)/30) // in range: the common case
		msgs = append(msgs[:0], one(temp(fmt.Sprintf("u%04d-logger", u), at, c)))
		if _, err := e.svc.proc.process(context.Background(), msgs[0]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkCommitSQLite adds the SQLite transaction (synchronous=FULL, on a file in the test's
// temporary directory, so every commit is synced) to processing, per reading: "per-message"
// commits each message on its own, as the processor did while it read through a durable
// consumer; "batch-N" commits N messages' effects and the checkpoint in one transaction, as
// Run does (at bench-coldchain's 167 readings/s, a 100 ms batch holds about 17). 100 units
// take turns, one reading per message.
func BenchmarkCommitSQLite(b *testing.B) {
	for _, n := range []int{1, 16, 128} {
		name := fmt.Sprintf("batch-%d", n)
		if n == 1 {
			name = "per-message"
		}
		b.Run(name, func(b *testing.B) {
			e := benchEnvAt(b, 100, filepath.Join(b.TempDir(), "vigil.db"))
			ctx := context.Background()
			p := e.svc.proc
			batch := newPending()
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				u := i % 100
				at := t0.Add(time.Duration(i/100) * time.Minute)
				ru, err := p.process(ctx, one(temp(fmt.Sprintf("u%04d-logger", u), at, 5)))
				if err != nil {
					b.Fatal(err)
				}
				i++
				if batch.conflicts(ru) {
					b.Fatal("in-range readings raised conditions")
				}
				batch.add(uint64(i), ru)
				if batch.n == n {
					if err := p.commit(ctx, batch); err != nil {
						b.Fatal(err)
					}
					batch = newPending()
				}
			}
		})
	}
}

func benchEnv(b *testing.B, units int) *env { return benchEnvAt(b, units, ":memory:") }

func benchEnvAt(b *testing.B, units int, path string) *env {
	e := newEnvAt(b, path)
	e.gardasil()
	e.clock.Set(t0.Add(-time.Hour))
	for u := range units {
		id := fmt.Sprintf("u%04d", u)
		e.unit(id, Limits{LowC: 2, HighC: 8, HysteresisC: 0.3, AlarmDelayS: 900, DoorToleranceS: 600, IntervalS: 60})
		e.lot("L"+id, AtUnit, id)
	}
	e.clock.Set(t0)
	return e
}
