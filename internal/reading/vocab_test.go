package reading

import (
	"regexp"
	"testing"
)

// TestMetricCodes checks the code table of codes.md §3 and its MDC arithmetic (§1).
func TestMetricCodes(t *testing.T) {
	tests := []struct {
		key         string
		part, term  uint32
		code        uint32
		loinc, unit string
	}{
		{"hr", 2, 16770, 147842, "8867-4", "/min"},
		{"pr_spo2", 2, 18458, 149530, "8867-4", "/min"},
		{"pr_nibp", 2, 18474, 149546, "8867-4", "/min"},
		{"spo2", 2, 19384, 150456, "2708-6", "%"},
		{"rr", 2, 20490, 151562, "9279-1", "/min"},
		{"nibp_sys", 2, 18949, 150021, "8480-6", "mm[Hg]"},
		{"nibp_dia", 2, 18950, 150022, "8462-4", "mm[Hg]"},
		{"nibp_mean", 2, 18951, 150023, "", "mm[Hg]"},
		{"temp_body", 2, 19292, 150364, "8310-5", "Cel"},
		{"glucose", 2, 29112, 160184, "", "mg/dL"},
		{"weight", 2, 57664, 188736, "29463-7", "kg"},
		{"ecg_i", 2, 257, 131329, "", "mV"},
		{"ecg_ii", 2, 258, 131330, "", "mV"},
		{"ecg_iii", 2, 317, 131389, "", "mV"},
		{"ecg_v", 2, 343, 131415, "", "mV"},
		{"ecg_v1", 2, 259, 131331, "", "mV"},
		{"ecg_v6", 2, 264, 131336, "", "mV"},
		{"ecg_avr", 2, 318, 131390, "", "mV"},
		{"ecg_avl", 2, 319, 131391, "", "mV"},
		{"ecg_avf", 2, 320, 131392, "", "mV"},
		{"pi", 2, 19376, 150448, "", "%"},
		{"temp_ambient", 2, 57436, 188508, "", "Cel"},
		{"rh", 2, 57732, 188804, "", "%"},
	}
	for _, tt := range tests {
		m := mustMetric(t, tt.key)
		if got := tt.part<<16 | tt.term; got != tt.code {
			t.Fatalf("table error: %d::%d = %d, not %d", tt.part, tt.term, got, tt.code)
		}
		if m.MDC != tt.code || m.LOINC != tt.loinc || m.Unit != tt.unit {
			t.Errorf("LookupMetric(%q) = MDC %d LOINC %q unit %q, want %d %q %q",
				tt.key, m.MDC, m.LOINC, m.Unit, tt.code, tt.loinc, tt.unit)
		}
		if back, ok := LookupMDC(tt.code); !ok || back.Key != tt.key {
			t.Errorf("LookupMDC(%d) = %q, %v; want %q", tt.code, back.Key, ok, tt.key)
		}
	}
	for _, key := range []string{"rh", "ecg_v"} {
		if !mustMetric(t, key).MDCUnverified {
			t.Errorf("%s: MDC code must be marked unverified", key)
		}
	}
	if _, ok := LookupMDC(2<<16 | 0xF001); ok {
		t.Error("LookupMDC found a private code")
	}
	if _, ok := LookupMDC(151712); ok {
		t.Error("LookupMDC(151712 MDC_CONC_AWAY_CO2_EXP) found a metric; want unmapped")
	}
}

func TestMetricKeysAreWellFormed(t *testing.T) {
	re := regexp.MustCompile(`^[a-z0-9_]+$`)
	for _, k := range MetricKeys() {
		m := mustMetric(t, k)
		if !re.MatchString(k) || m.Key != k || m.Min >= m.Max || m.Unit == "" {
			t.Errorf("metric %q malformed: %+v", k, m)
		}
	}
}

func TestFlagImplausible(t *testing.T) {
	tests := []struct {
		metric string
		kind   Kind
		flags  Flags
		v      float64
		want   bool
	}{
		{"spo2", Number, 0, 100, false},
		{"spo2", Number, 0, 100.01, true},
		{"spo2", Number, 0, -0.1, true},
		{"temp_body", Number, 0, 10, false},
		{"temp_body", Number, 0, 9.9, true},
		{"temp_body", Number, 0, 45.1, true},
		{"temp_ambient", Number, 0, -80, false},
		{"rr", Number, 0, 151, true},
		{"hr", Number, 0, 350, false},
		{"hr", Number, 0, 351, true},
		{"ecg_ii", Number, 0, -20.5, true},
		{"door-open", Bool, Unmapped, 1, false},
		{"hr", String, 0, 999, false},
		{"unknown", Number, Unmapped, 1e9, false},
	}
	for _, tt := range tests {
		r := Reading{Metric: tt.metric, Kind: tt.kind, Value: tt.v, Flags: tt.flags | Implausible}
		FlagImplausible(&r)
		if got := r.Flags&Implausible != 0; got != tt.want {
			t.Errorf("FlagImplausible(%s %v) = %v, want %v", tt.metric, tt.v, got, tt.want)
		}
	}
}
