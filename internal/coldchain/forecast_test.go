package coldchain

import (
	"math"
	"testing"
	"time"
)

// newton returns the true F1 reading at minute m.
func newton(t0, ta, tau, m float64) float64 { return ta + (t0-ta)*math.Exp(-m/tau) }

func samplesAt(mins []float64, temps []float64) []Sample {
	s := make([]Sample, len(mins))
	for i := range mins {
		s[i] = Sample{At: t0.Add(time.Duration(mins[i] * float64(time.Minute))), Celsius: temps[i]}
	}
	return s
}

func minutesOf(p Prediction) float64 { return p.At.Sub(t0).Minutes() }

func TestForecastExampleF1(t *testing.T) {
	const ft = 0.01 // min, spec 7 tolerance on crossing times from exact inputs
	exact := func(ms ...float64) []Sample {
		temps := make([]float64, len(ms))
		for i, m := range ms {
			temps[i] = newton(4, 25, 300, m)
		}
		return samplesAt(ms, temps)
	}
	if got := exact(10, 20, 30, 60); !near(got[0].Celsius, 4.6885, 5e-5) || !near(got[1].Celsius, 5.3544, 5e-5) ||
		!near(got[2].Celsius, 5.9984, 5e-5) || !near(got[3].Celsius, 7.8067, 5e-5) {
		t.Fatalf("F1 true readings = %v", got)
	}
	if d, ok := NewtonCrossing(4, 25, 8, 300*time.Minute); !ok || !near(d.Minutes(), 63.39, ft) || !near(d.Minutes(), 300*math.Log(21.0/17), 1e-6) {
		t.Errorf("F1 true crossing = %v %v, want 63.39 min", d, ok)
	}
	tests := []struct {
		name    string
		s       []Sample
		ambient float64
		method  Method
		tau     float64 // 0: not checked
		want    float64
		eps     float64
	}{
		{"log-linear, exact", exact(0, 10, 20, 30), 25, Exponential, 300, 63.39, ft},
		{"log-linear, logger values", samplesAt([]float64{0, 10, 20, 30}, []float64{4.0, 4.7, 5.4, 6.0}), 25, Exponential, 298.20, 62.88, 0.005},
		{"3-point ambient t=0,10,20", exact(0, 10, 20), math.NaN(), Linear, 0, 0, 0}, // spacing < 30 min: refused
		{"3-point ambient t=0,30,60", exact(0, 30, 60), math.NaN(), Exponential, 300, 63.39, ft},
		{"two readings: linear", exact(0, 10, 20, 30)[2:], 25, Linear, 0, 0, 0},
	}
	for _, tt := range tests {
		p, err := ForecastCrossing(tt.s, 8, tt.ambient)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if p.Method != tt.method {
			t.Errorf("%s: method %v (fallback %q), want %v", tt.name, p.Method, p.Fallback, tt.method)
			continue
		}
		if tt.want == 0 {
			continue
		}
		if !p.Reached || !near(minutesOf(p), tt.want, tt.eps) || (tt.tau != 0 && !near(p.Tau.Minutes(), tt.tau, 0.005)) {
			t.Errorf("%s: crossing %.4f min τ %.4f min (reached %v), want %.2f min τ %.2f", tt.name, minutesOf(p), p.Tau.Minutes(), p.Reached, tt.want, tt.tau)
		}
	}
	// The 3-point estimate itself, at 10-min spacing (the spec computes it; Vigil refuses
	// spacing under 30 min for real data but the formula is exact).
	ex := exact(0, 10, 20)
	if _, _, err := EstimateAmbient(ex[0].Celsius, ex[1].Celsius, ex[2].Celsius, 10*time.Minute); err == nil {
		t.Errorf("EstimateAmbient at 10-min spacing: nil error, want refusal (spec: spacing ≥ 30 min)")
	}
	ex = exact(0, 30, 60)
	ta, tau, err := EstimateAmbient(ex[0].Celsius, ex[1].Celsius, ex[2].Celsius, 30*time.Minute)
	if err != nil || !near(ta, 25, 1e-6) || !near(tau.Minutes(), 300, 1e-4) {
		t.Errorf("EstimateAmbient(t=0,30,60) = %v, %v, %v; want 25, 300 min", ta, tau, err)
	}
	// Linear fallback: least squares over the 4 points → 59.88 min (the fitted line's crossing).
	lin := exact(0, 10, 20, 30)
	for i := range lin {
		lin[i].Celsius += []float64{0, 0.8, -0.4, 0}[i] // breaks the exponential fit (R² < 0.9)
	}
	a, b, _ := line([]float64{0, 10, 20, 30}, []float64{4, newton(4, 25, 300, 10), newton(4, 25, 300, 20), newton(4, 25, 300, 30)})
	if got := (8 - a) / b; !near(got, 59.88, 0.005) {
		t.Errorf("F1 linear least squares crossing = %.4f, want 59.88", got)
	}
	if got := 30 + (8-newton(4, 25, 300, 30))/((newton(4, 25, 300, 30)-4)/30); !near(got, 60.05, 0.005) {
		t.Errorf("F1 linear endpoints crossing = %.4f, want 60.05", got)
	}
	lp, _ := ForecastCrossing(lin, 8, 25)
	if lp.Method != Linear || lp.Fallback == "" || !lp.Reached {
		t.Errorf("noisy readings: %+v; want linear fallback with its reason, reached", lp)
	}
}

func TestForecastExampleF2AndNotReached(t *testing.T) {
	if d, ok := NewtonCrossing(-80, 22, -60, 600*time.Minute); !ok || !near(d.Minutes(), 130.95, 0.01) {
		t.Errorf("F2 = %v %v, want 130.95 min", d, ok)
	}
	ms := []float64{0, 10, 20, 30}
	temps := make([]float64, 4)
	for i, m := range ms {
		temps[i] = newton(-80, 22, 600, m)
	}
	p, err := ForecastCrossing(samplesAt(ms, temps), -60, 22)
	if err != nil || !p.Reached || !near(minutesOf(p), 130.95, 0.01) {
		t.Errorf("F2 fitted = %+v %v, want 130.95 min", p, err)
	}
	if _, ok := NewtonCrossing(4, 25, 25, time.Hour); ok {
		t.Errorf("limit equal to ambient: reached, want not reached")
	}
	for i, m := range ms {
		temps[i] = newton(4, 25, 300, m)
	}
	if p, _ := ForecastCrossing(samplesAt(ms, temps), 30, 25); p.Reached || p.Method != Exponential {
		t.Errorf("limit 30 above ambient 25: %+v, want exponential, not reached", p)
	}
	// Cooling toward a cold ambient (winter truck) crosses a lower limit.
	for i, m := range ms {
		temps[i] = newton(5, -10, 200, m)
	}
	want := 200 * math.Log(15.0/12)
	if p, _ := ForecastCrossing(samplesAt(ms, temps), 2, -10); !p.Reached || !near(minutesOf(p), want, 0.01) {
		t.Errorf("cooling to 2 °C = %+v, want %.2f min", p, want)
	}
	if _, err := ForecastCrossing(samplesAt([]float64{0}, []float64{4}), 8, 25); err == nil {
		t.Errorf("one reading: nil error, want one")
	}
}
