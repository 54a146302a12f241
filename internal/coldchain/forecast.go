package coldchain

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Forecast methods (spec 6).
type Method int

// Forecast methods.
const (
	// Exponential is Newton's law of warming (cooling), T(t) = Ta + (T0 − Ta)·exp(−t/τ), with τ
	// from a least-squares line through ln|Ta − T| (spec 6.1–6.2).
	Exponential Method = iota
	// Linear is the least-squares line through the last readings (spec 6.3), used when the
	// exponential fit is unavailable or poor (R² < MinR2).
	Linear
)

func (m Method) String() string {
	if m == Linear {
		return "linear"
	}
	return "exponential"
}

// Forecast defaults (spec 6.2, 6.3).
const (
	MinR2             = 0.9
	LinearPoints      = 4
	MinAmbientSpacing = 30 * time.Minute
)

// Prediction is a time-to-excursion forecast. It is a prediction only: it never changes a
// record or a budget (spec 6).
type Prediction struct {
	Method  Method
	Reached bool      // false: the limit is never reached (beyond ambient, or not trending toward it)
	At      time.Time // predicted crossing time when Reached
	Tau     time.Duration
	Ambient float64
	// AmbientEstimated says Ambient came from the three-point estimate of spec 6.2.
	AmbientEstimated bool
	R2               float64
	// Fallback says why Linear was used, "" otherwise.
	Fallback string
}

// Remaining returns the time from now to the crossing (negative if already past).
func (p Prediction) Remaining(now time.Time) time.Duration { return p.At.Sub(now) }

// NewtonCrossing returns how long after a reading of t0 °C a passive box with ambient ta and
// time constant tau reaches limit (spec 6.1): tau·ln((ta − t0)/(ta − limit)). ok is false when the
// limit lies beyond the ambient (never reached) or on the far side of t0.
func NewtonCrossing(t0, ta, limit float64, tau time.Duration) (time.Duration, bool) {
	r := (ta - t0) / (ta - limit)
	if !(r >= 1) || math.IsInf(r, 0) {
		return 0, false
	}
	return time.Duration(float64(tau) * math.Log(r)), true
}

// EstimateAmbient estimates the ambient and time constant from three equally spaced readings
// t0, t1, t2 (spacing apart; spec 6.2). It errs when the spacing is under 30 min, the curve is
// not exponential (denominator near zero, non-monotone) or the ambient is implausible
// (outside [−40, 60] °C).
func EstimateAmbient(t0, t1, t2 float64, spacing time.Duration) (ambient float64, tau time.Duration, err error) {
	if spacing < MinAmbientSpacing {
		return 0, 0, fmt.Errorf("coldchain: ambient estimate needs readings ≥ %v apart, got %v", MinAmbientSpacing, spacing)
	}
	den := t0 + t2 - 2*t1
	if math.Abs(den) < 1e-9 {
		return 0, 0, errors.New("coldchain: ambient estimate: readings lie on a line (denominator near zero)")
	}
	ambient = (t0*t2 - t1*t1) / den
	q := (t1 - t0) / (t2 - t1)
	if !(q > 1) {
		return 0, 0, fmt.Errorf("coldchain: ambient estimate: readings %v, %v, %v do not approach an ambient", t0, t1, t2)
	}
	if ambient < -40 || ambient > 60 {
		return 0, 0, fmt.Errorf("coldchain: ambient estimate %.2f °C is outside [−40, 60] °C", ambient)
	}
	return ambient, time.Duration(float64(spacing) / math.Log(q)), nil
}

// line is a least-squares fit y = a + b·x with its R².
func line(xs, ys []float64) (a, b, r2 float64) {
	n := float64(len(xs))
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx, my = mx/n, my/n
	var sxx, sxy, syy float64
	for i := range xs {
		dx, dy := xs[i]-mx, ys[i]-my
		sxx += dx * dx
		sxy += dx * dy
		syy += dy * dy
	}
	b = sxy / sxx
	a = my - b*mx
	r2 = 1.0
	if syy > 0 {
		r2 = sxy * sxy / (sxx * syy)
	}
	return a, b, r2
}

// ForecastCrossing predicts when readings (since the trigger, time order, at least two) reach
// limit (spec 6.2, 6.3). ambient is the known ambient (ambient sensor or site setting); pass
// NaN to estimate it from the first, middle and last reading, which must be equally spaced
// and ≥ 30 min apart. With fewer than 3 readings, no usable ambient, or R² < 0.9 it falls back
// to the least-squares line through the last 4 readings and says why in Fallback.
func ForecastCrossing(readings []Sample, limit, ambient float64) (Prediction, error) {
	if len(readings) < 2 {
		return Prediction{}, fmt.Errorf("coldchain: forecast needs at least 2 readings, got %d", len(readings))
	}
	for i, s := range readings {
		if s.Invalid || validTemp(s.Celsius) != nil {
			return Prediction{}, fmt.Errorf("coldchain: forecast reading %d at %v is not a valid temperature", i, s.At)
		}
		if i > 0 && !s.At.After(readings[i-1].At) {
			return Prediction{}, fmt.Errorf("coldchain: forecast reading %d at %v is not after the previous one", i, s.At)
		}
	}
	first := readings[0].At
	mins := func(t time.Time) float64 { return t.Sub(first).Minutes() }
	p := Prediction{Method: Exponential, Ambient: ambient}
	var why string
	switch {
	case len(readings) < 3:
		why = "fewer than 3 readings"
	case math.IsNaN(ambient):
		n := len(readings) - 1
		if n%2 == 1 {
			n-- // the middle of an odd count of steps is not a reading
		}
		a, b, c := readings[0], readings[n/2], readings[n]
		if b.At.Sub(a.At) != c.At.Sub(b.At) {
			why = "no ambient and no equally spaced readings to estimate it"
			break
		}
		ta, _, err := EstimateAmbient(a.Celsius, b.Celsius, c.Celsius, b.At.Sub(a.At))
		if err != nil {
			why = "no ambient: " + err.Error()
			break
		}
		p.Ambient, p.AmbientEstimated = ta, true
	}
	if why == "" {
		xs := make([]float64, 0, len(readings))
		ys := make([]float64, 0, len(readings))
		for _, s := range readings {
			d := math.Abs(p.Ambient - s.Celsius)
			if d == 0 {
				why = "a reading equals the ambient"
				break
			}
			xs = append(xs, mins(s.At))
			ys = append(ys, math.Log(d))
		}
		if why == "" {
			a, b, r2 := line(xs, ys)
			p.R2 = r2
			switch {
			case r2 < MinR2:
				why = fmt.Sprintf("exponential fit R² %.3f < %.1f", r2, MinR2)
			case !(b < 0):
				why = "readings move away from the ambient"
			default:
				p.Tau = time.Duration(-1 / b * float64(time.Minute))
				// The curve crosses limit only if it lies between the start and the ambient.
				t0 := readings[0].Celsius
				if (p.Ambient-limit)*(p.Ambient-t0) <= 0 || math.Abs(p.Ambient-limit) >= math.Abs(p.Ambient-t0) {
					return p, nil
				}
				t := (math.Log(math.Abs(p.Ambient-limit)) - a) / b
				p.Reached, p.At = true, first.Add(time.Duration(t*float64(time.Minute)))
				return p, nil
			}
		}
	}
	// Linear fallback over the last LinearPoints readings.
	p = Prediction{Method: Linear, Fallback: why, Ambient: ambient}
	tail := readings[max(0, len(readings)-LinearPoints):]
	xs := make([]float64, len(tail))
	ys := make([]float64, len(tail))
	for i, s := range tail {
		xs[i], ys[i] = mins(s.At), s.Celsius
	}
	a, b, r2 := line(xs, ys)
	p.R2 = r2
	last := tail[len(tail)-1]
	if b == 0 || (limit-last.Celsius)*b < 0 {
		return p, nil // flat, or moving away from the limit
	}
	t := (limit - a) / b
	p.Reached, p.At = true, first.Add(time.Duration(t*float64(time.Minute)))
	return p, nil
}
