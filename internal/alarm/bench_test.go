package alarm

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkEvaluateThresholds: one 1-Hz SpO2 + HR stream per patient for 100 patients.
func BenchmarkEvaluateThresholds(b *testing.B) {
	ev := NewEvaluator(nil)
	const patients = 100
	rs := make([]Sample, 0, 2*patients*60)
	for s := range 60 {
		ts := noon.Add(time.Duration(s) * time.Second)
		for p := range patients {
			subj := fmt.Sprintf("pat%d", p)
			spo2, hr := mkReading("t1", "d"+subj, subj, "spo2", float64(85+s%10), ts), mkReading("t1", "d"+subj, subj, "hr", float64(110+s%20), ts)
			rs = append(rs, Sample{Reading: &spo2}, Sample{Reading: &hr})
		}
	}
	out := make([]Condition, 0, 64)
	b.ReportAllocs()
	n, round := 0, 0
	for b.Loop() {
		smp := rs[n%len(rs)]
		if n%len(rs) == 0 && n > 0 { // shift time forward so every pass is new data
			round++
		}
		r := *smp.Reading
		r.Measured = r.Measured.Add(time.Duration(round) * time.Minute)
		out = ev.Evaluate(Sample{Reading: &r}, out[:0])
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "readings/s")
}

// BenchmarkListActive lists one tenant's 10,000 active alarms, ordered.
func BenchmarkListActive(b *testing.B) {
	c := newCore(nil, dir{}, nil)
	ctx := context.Background()
	for i := range 10000 {
		at := noon.Add(time.Duration(i) * time.Millisecond)
		cond := highCond(at)
		cond.Subject = fmt.Sprintf("pat%d", i)
		cond.Priority = Priority(1 + i%3)
		c.onCondition(ctx, cond)
	}
	c.take()
	b.ReportAllocs()
	for b.Loop() {
		if got := c.list(Filter{Tenant: "t1"}); len(got) != 10000 {
			b.Fatalf("list = %d alarms, want 10000", len(got))
		}
	}
}
