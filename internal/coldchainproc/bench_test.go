package coldchainproc

import (
	"context"
	"fmt"
	"math"
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

// BenchmarkCommitSQLite adds the SQLite transaction of each message (embedded store).
func BenchmarkCommitSQLite(b *testing.B) {
	e := benchEnv(b, 100)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		u := i % 100
		at := t0.Add(time.Duration(i/100) * time.Minute)
		if err := e.svc.proc.consume(context.Background(), 0, one(temp(fmt.Sprintf("u%04d-logger", u), at, 5))); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func benchEnv(b *testing.B, units int) *env {
	e := newEnv(b)
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
