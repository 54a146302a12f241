package clinical_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/clinical"
	"github.com/vigil-iomt/vigil/internal/news2"
)

// FuzzObservationInput: the entry form's validation never panics, rejects with a typed error
// naming a field, and what it accepts is plausible for manual entry and scores without error.
func FuzzObservationInput(f *testing.F) {
	f.Add(16.0, 97.0, 125.0, 72.0, 36.8, "AIR", "A", false, false, int64(0))
	f.Add(-1.0, 101.0, 30.0, 400.0, 19.0, "air", "C", true, false, int64(-600))
	f.Add(math.NaN(), math.Inf(1), 0.0, 0.0, 45.0, "OXYGEN", "U", true, true, int64(3600))
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, rr, spo2, sbp, pulse, temp float64, o2, acvpu string, confusion, confirmed bool, offset int64) {
		at := now.Add(time.Duration(offset) * time.Second)
		in := clinical.ObservationInput{RR: &rr, SpO2: &spo2, SBP: &sbp, Pulse: &pulse, Temp: &temp, O2: o2, ACVPU: acvpu,
			NewConfusionConfirmed: confusion, Confirmed: confirmed, At: &at}
		o, err := in.Validate(now)
		if err != nil {
			var ie *clinical.InputError
			if !errors.As(err, &ie) || ie.Error() == "" {
				t.Fatalf("error %v is not an *InputError", err)
			}
			return
		}
		set := news2.Set{Scale: news2.Scale1, RR: *o.RR, SpO2: *o.SpO2, SBP: *o.SBP, Pulse: *o.Pulse, Temp: *o.Temp}
		set.Present = news2.AllParams &^ (1 << news2.O2) &^ (1 << news2.ACVPU)
		for p, v := range map[news2.Param]float64{news2.RR: rr, news2.SpO2: spo2, news2.SBP: sbp, news2.Pulse: pulse, news2.Temp: temp} {
			if !news2.Plausible(p, v, true) {
				t.Fatalf("accepted %s = %v outside the manual range", p, v)
			}
		}
		if _, err := news2.Score(set); err != nil {
			t.Fatalf("accepted values do not score: %v", err)
		}
	})
}
