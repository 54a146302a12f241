package baseline

import (
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/news2"
)

// BenchmarkScoreAndBaseline: one op = NEWS2 scoring of one complete observation set plus one
// baseline update (a heart-rate reading into the patient's PBM; a day closes every 96 readings,
// i.e. 15-minute sets, so the day-close cost is amortised as in service).
func BenchmarkScoreAndBaseline(b *testing.B) {
	b.ReportAllocs()
	m := mustNew(b, RestingHR)
	sets := [4]news2.Set{
		{Scale: 1, Present: news2.AllParams, RR: 16, SpO2: 97, O2: news2.Air, SBP: 125, Pulse: 72, ACVPU: news2.Alert, Temp: 36.8},
		{Scale: 2, Present: news2.AllParams, RR: 24.5, SpO2: 95.5, O2: news2.Supplemental, SBP: 219.5, Pulse: 50.4, ACVPU: news2.Alert, Temp: 36.05},
		{Scale: 1, Present: news2.AllParams &^ (1 << news2.Temp), RR: 22, SpO2: 95, O2: news2.Air, SBP: 105, Pulse: 95, ACVPU: news2.Alert},
		{Scale: 1, Present: news2.AllParams, RR: 8, SpO2: 91, O2: news2.Supplemental, SBP: 90, Pulse: 40, ACVPU: news2.Unresponsive, Temp: 35},
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	i, sum := 0, 0
	for b.Loop() {
		s := sets[i&3]
		r, err := news2.Score(s)
		if err != nil {
			b.Fatal(err)
		}
		sum += r.ScoreMax
		day := day0 + Day(i/96)
		m.Add(start.Add(time.Duration(i)*15*time.Minute), day, 70+float64(i%7))
		i++
	}
	if sum == 0 {
		b.Fatal("no scores")
	}
}
