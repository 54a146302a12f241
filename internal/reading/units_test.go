package reading

import (
	"errors"
	"math"
	"testing"
)

func roundHalfEven(v float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.RoundToEven(v*p) / p
}

func mustMetric(t *testing.T, key string) Metric {
	t.Helper()
	m, ok := LookupMetric(key)
	if !ok {
		t.Fatalf("LookupMetric(%q) not found", key)
	}
	return m
}

// TestUCUMWorkedExamples checks every worked example of codes.md §4.1.
func TestUCUMWorkedExamples(t *testing.T) {
	tests := []struct {
		metric, unit string
		in           float64
		decimals     int
		want         float64
	}{
		{"nibp_sys", "kPa", 16.0, 2, 120.01},
		{"nibp_sys", "Pa", 16000, 2, 120.01},
		{"temp_body", "[degF]", 98.6, 1, 37.0},
		{"temp_body", "[degF]", 101.3, 1, 38.5},
		{"temp_ambient", "K", 277.15, 1, 4.0},
		{"weight", "[lb_av]", 160.4, 3, 72.756},
		{"weight", "g", 72600, 1, 72.6},
		{"glucose", "mmol/L", 5.8, 2, 104.49},
		{"glucose", "kg/L", 0.00105, 0, 105},
		{"glucose", "mol/L", 0.0058, 2, 104.49},
		{"ecg_ii", "V", 0.00105, 2, 1.05},
		{"hr", "/min", 64, 0, 64},
		{"spo2", "%", 97, 0, 97},
	}
	for _, tt := range tests {
		got, err := FromUCUM(mustMetric(t, tt.metric), tt.unit, tt.in)
		if err != nil {
			t.Errorf("FromUCUM(%s, %q, %v): %v", tt.metric, tt.unit, tt.in, err)
			continue
		}
		if r := roundHalfEven(got, tt.decimals); r != tt.want {
			t.Errorf("FromUCUM(%s, %q, %v) = %v (rounded %v), want %v", tt.metric, tt.unit, tt.in, got, r, tt.want)
		}
	}
	// codes.md §5: 16.0 kPa is 120.0099 mm[Hg] to four decimals.
	got, _ := FromUCUM(mustMetric(t, "nibp_sys"), "kPa", 16.0)
	if r := roundHalfEven(got, 4); r != 120.0099 {
		t.Errorf("16.0 kPa = %v mm[Hg], want 120.0099", got)
	}
}

// TestSenMLConversions checks senml.md §5 and the SenML rows of codes.md §4.1.
func TestSenMLConversions(t *testing.T) {
	tests := []struct {
		metric, unit string
		in           float64
		decimals     int
		want         float64
	}{
		{"spo2", "/", 0.94, 2, 94},
		{"spo2", "%", 0.97, 2, 97},
		{"spo2", "%", 1, 2, 100},
		{"pi", "/", 0.0245, 4, 2.45},
		{"pr_spo2", "beat/min", 87, 0, 87},
		{"rr", "1/min", 16, 0, 16},
		{"hr", "1/s", 1.2, 2, 72},
		{"hr", "Hz", 1.5, 2, 90},
		{"nibp_sys", "Pa", 16000, 2, 120.01},
		{"temp_body", "Cel", 36.9, 1, 36.9},
		{"temp_ambient", "K", 277.15, 1, 4.0},
		{"rh", "%RH", 46.5, 1, 46.5},
		{"weight", "kg", 72.6, 1, 72.6},
		{"weight", "g", 72600, 1, 72.6},
		{"glucose", "kg/m3", 1.05, 2, 105},
		{"ecg_i", "V", 0.00105, 2, 1.05},
		{"battery", "%EL", 81, 0, 81},
		{"lat", "lat", 52.5, 1, 52.5},
	}
	for _, tt := range tests {
		got, err := FromSenML(mustMetric(t, tt.metric), tt.unit, tt.in)
		if err != nil {
			t.Errorf("FromSenML(%s, %q, %v): %v", tt.metric, tt.unit, tt.in, err)
			continue
		}
		if r := roundHalfEven(got, tt.decimals); r != tt.want {
			t.Errorf("FromSenML(%s, %q, %v) = %v (rounded %v), want %v", tt.metric, tt.unit, tt.in, got, r, tt.want)
		}
	}
}

func TestSenMLConversionErrors(t *testing.T) {
	tests := []struct {
		metric, unit string
		in           float64
		want         string
	}{
		{"spo2", "", 97, "unit required for metric 'spo2'"},
		{"spo2", "%", 97, "unit '%' is a ratio in SenML (0–1); send 0.97 for 97 %"},
		{"spo2", "%", 1.0001, "unit '%' is a ratio in SenML (0–1); send 0.97 for 97 %"},
		{"spo2", "Cel", 0.9, `unit "Cel" is not valid for metric 'spo2'`},
		{"hr", "%RH", 60, `unit "%RH" is not valid for metric 'hr'`},
	}
	for _, tt := range tests {
		_, err := FromSenML(mustMetric(t, tt.metric), tt.unit, tt.in)
		var ue *UnitError
		if !errors.As(err, &ue) || err.Error() != tt.want {
			t.Errorf("FromSenML(%s, %q, %v) error = %v, want %q", tt.metric, tt.unit, tt.in, err, tt.want)
		}
	}
}

func TestCheckSenMLUnit(t *testing.T) {
	tests := []struct {
		unit, want string // want "" = accepted
	}{
		{"Cel", ""}, {"/", ""}, {"%", ""}, {"beat/min", ""}, {"1/min", ""}, {"%RH", ""}, {"%EL", ""},
		{"kg/m3", ""}, {"B", ""}, {"deg", ""}, {"S/m", ""}, {"lat", ""}, {"count", ""},
		{"cel", `unit "cel" is not a SenML unit`},
		{"mmHg", `unit "mmHg" is not a SenML unit (use "Pa")`},
		{"mm[Hg]", `unit "mm[Hg]" is not a SenML unit (use "Pa")`},
		{"bpm", `unit "bpm" is not a SenML unit (use "beat/min")`},
		{"%SpO2", `unit "%SpO2" is not a SenML unit (use "/")`},
		{"degF", `unit "degF" is not a SenML unit (use "Cel")`},
		{"mg/dL", `unit "mg/dL" is not a SenML unit (use "kg/m3")`},
		{"mmol/L", `unit "mmol/L" is not a SenML unit (use "kg/m3")`},
		{"lb", `unit "lb" is not a SenML unit (use "kg")`},
		{"kPa", `unit "kPa" is not a SenML unit (use "Pa")`},
		{"hPa", "secondary unit 'hPa' not allowed in SenML v10"},
		{"ms", "secondary unit 'ms' not allowed in SenML v10"},
		{"min", "secondary unit 'min' not allowed in SenML v10"},
		{"/100", "secondary unit '/100' not allowed in SenML v10"},
	}
	for _, tt := range tests {
		err := CheckSenMLUnit(tt.unit)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("CheckSenMLUnit(%q) = %q, want %q", tt.unit, got, tt.want)
		}
	}
}

// TestEverySenMLConversionUsesRegisteredUnit guards the tables against each other.
func TestEverySenMLConversionUsesRegisteredUnit(t *testing.T) {
	for key, units := range senmlConversions {
		if _, ok := LookupMetric(key); !ok {
			t.Errorf("conversion for unknown metric %q", key)
		}
		for u := range units {
			if err := CheckSenMLUnit(u); err != nil {
				t.Errorf("metric %s converts from %q: %v", key, u, err)
			}
		}
	}
	for key, m := range metrics {
		if _, ok := senmlConversions[key]; !ok && !m.Flag { // flags are SenML booleans, unitless
			t.Errorf("metric %q has no SenML unit", key)
		}
	}
}
