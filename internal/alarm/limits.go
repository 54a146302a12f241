package alarm

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Direction says on which side of its limit a code alarms.
type Direction int8

// Directions: Below alarms when v < limit, Above when v > limit (strict, spec §3.3).
const (
	Below Direction = -1
	Above Direction = 1
)

// Limit is the evaluated configuration of one physiological limit code (spec §9).
type Limit struct {
	Code       Code
	Metrics    []string // source metric keys (reading.LookupMetric) that feed the code
	Dir        Direction
	Value      float64
	Off        bool          // the code is not evaluated (e.g. SPO2_HIGH by default)
	Delay      time.Duration // condition delay (onset)
	Hysteresis float64       // in-band margin for clearing
	ClearDelay time.Duration // duration of an uninterrupted in-band run that clears
	Spot       bool          // spot measurement: no delay, clears on the next in-limit value, no hysteresis
	Decimals   int           // display resolution used for quantisation (half-up)
}

// Override changes some fields of a Limit for one unit or one patient. Nil fields keep the
// lower layer's value.
type Override struct {
	Value      *float64       `json:"value,omitempty"`
	Off        *bool          `json:"off,omitempty"`
	Delay      *time.Duration `json:"delay,omitempty"`
	Hysteresis *float64       `json:"hysteresis,omitempty"`
}

func (o Override) apply(l Limit) Limit {
	if o.Value != nil {
		l.Value = *o.Value
	}
	if o.Off != nil {
		l.Off = *o.Off
	}
	if o.Delay != nil {
		l.Delay = *o.Delay
	}
	if o.Hysteresis != nil {
		l.Hysteresis = *o.Hysteresis
	}
	return l
}

// Limits is the precedence model for physiological limits: a patient override beats a unit
// override, which beats the shipped default (spec §9). Keys of Units and Patients are
// ScopeKey(tenant, id). A Limits value must not be changed while an Evaluator uses it; build a
// new one and call Evaluator.SetLimits from the evaluator's owner.
type Limits struct {
	Defaults map[Code]Limit
	Units    map[string]map[Code]Override
	Patients map[string]map[Code]Override
}

// ScopeKey is the key of a unit or patient in Limits: tenant + "/" + id.
func ScopeKey(tenant, id string) string { return tenant + "/" + id }

// Resolve returns the limit of code for subject in unit of tenant.
func (ls *Limits) Resolve(tenant, unit, subject string, code Code) (Limit, bool) {
	l, ok := ls.Defaults[code]
	if !ok {
		return Limit{}, false
	}
	// The length checks spare a key concatenation per reading where nothing is overridden.
	if unit != "" && len(ls.Units) > 0 {
		if o, ok := ls.Units[ScopeKey(tenant, unit)][code]; ok {
			l = o.apply(l)
		}
	}
	if len(ls.Patients) > 0 {
		if o, ok := ls.Patients[ScopeKey(tenant, subject)][code]; ok {
			l = o.apply(l)
		}
	}
	return l, true
}

// DefaultLimits returns the shipped adult defaults of spec §9 (continuous clear delay 10 s).
func DefaultLimits() *Limits {
	hr := []string{"hr", "pr_spo2"}
	const clear = 10 * time.Second
	s := time.Second
	d := map[Code]Limit{
		HRHigh:        {Metrics: hr, Dir: Above, Value: 120, Delay: 10 * s, Hysteresis: 2, ClearDelay: clear},
		HRLow:         {Metrics: hr, Dir: Below, Value: 50, Delay: 10 * s, Hysteresis: 2, ClearDelay: clear},
		HRExtremeHigh: {Metrics: hr, Dir: Above, Value: 150, Delay: 5 * s, Hysteresis: 2, ClearDelay: clear},
		HRExtremeLow:  {Metrics: hr, Dir: Below, Value: 40, Delay: 5 * s, Hysteresis: 2, ClearDelay: clear},
		SpO2Low:       {Metrics: []string{"spo2"}, Dir: Below, Value: 90, Delay: 15 * s, Hysteresis: 1, ClearDelay: clear},
		SpO2Desat:     {Metrics: []string{"spo2"}, Dir: Below, Value: 80, Delay: 0, Hysteresis: 1, ClearDelay: clear},
		SpO2High:      {Metrics: []string{"spo2"}, Dir: Above, Value: 100, Off: true, Delay: 15 * s, Hysteresis: 1, ClearDelay: clear},
		RRHigh:        {Metrics: []string{"rr"}, Dir: Above, Value: 30, Delay: 15 * s, Hysteresis: 1, ClearDelay: clear},
		RRLow:         {Metrics: []string{"rr"}, Dir: Below, Value: 8, Delay: 15 * s, Hysteresis: 1, ClearDelay: clear},
		NIBPSysHigh:   {Metrics: []string{"nibp_sys"}, Dir: Above, Value: 160, Spot: true},
		NIBPSysLow:    {Metrics: []string{"nibp_sys"}, Dir: Below, Value: 90, Spot: true},
		NIBPDiaHigh:   {Metrics: []string{"nibp_dia"}, Dir: Above, Value: 90, Spot: true},
		NIBPDiaLow:    {Metrics: []string{"nibp_dia"}, Dir: Below, Value: 50, Spot: true},
		NIBPMapHigh:   {Metrics: []string{"nibp_mean"}, Dir: Above, Value: 110, Spot: true},
		NIBPMapLow:    {Metrics: []string{"nibp_mean"}, Dir: Below, Value: 60, Spot: true},
		TempHigh:      {Metrics: []string{"temp_body"}, Dir: Above, Value: 39.0, Delay: 60 * s, Hysteresis: 0.1, ClearDelay: clear, Decimals: 1},
		TempLow:       {Metrics: []string{"temp_body"}, Dir: Below, Value: 35.0, Delay: 60 * s, Hysteresis: 0.1, ClearDelay: clear, Decimals: 1},
		GlucoseLowL1:  {Metrics: []string{"glucose"}, Dir: Below, Value: 70, Spot: true},
		GlucoseLowL2:  {Metrics: []string{"glucose"}, Dir: Below, Value: 54, Spot: true},
		GlucoseHigh:   {Metrics: []string{"glucose"}, Dir: Above, Value: 250, Spot: true},
	}
	for c, l := range d {
		l.Code = c
		d[c] = l
	}
	return &Limits{Defaults: d}
}

// hardBounds are the patient-specific limit bounds of spec §9, by source metric.
var hardBounds = map[string][2]float64{
	"hr": {20, 300}, "spo2": {50, 99}, "rr": {2, 80}, "nibp_sys": {40, 300},
	"nibp_dia": {20, 200}, "nibp_mean": {30, 250}, "temp_body": {30.0, 43.0},
}

// ValidateOverride checks an override of code for subject in unit against what it would
// replace: hard bounds (spec §9; the SpO2 high limit "off (100)" is allowed), maximum delays
// (30 s MEDIUM, 5 s HIGH) and, for SPO2_DESAT, not above the patient's SpO2 low limit. Every
// problem is reported.
func (ls *Limits) ValidateOverride(tenant, unit, subject string, code Code, o Override) error {
	def, ok := ls.Resolve(tenant, unit, subject, code)
	if !ok {
		return fmt.Errorf("alarm limit override: unknown code %q", code)
	}
	low, _ := ls.Resolve(tenant, unit, subject, SpO2Low)
	var errs []error
	l := o.apply(def)
	if o.Value != nil && len(l.Metrics) > 0 {
		if b, ok := hardBounds[l.Metrics[0]]; ok && !(code == SpO2High && l.Value == 100) {
			if l.Value < b[0] || l.Value > b[1] {
				errs = append(errs, fmt.Errorf("%s limit %v outside hard bounds %v–%v", code, l.Value, b[0], b[1]))
			}
		}
	}
	info, _ := code.Info()
	maxDelay := 30 * time.Second
	if info.Priority == High {
		maxDelay = 5 * time.Second
	}
	if l.Delay < 0 || l.Delay > maxDelay {
		errs = append(errs, fmt.Errorf("%s delay %v outside 0–%v", code, l.Delay, maxDelay))
	}
	if l.Hysteresis < 0 || math.IsNaN(l.Hysteresis) {
		errs = append(errs, fmt.Errorf("%s hysteresis %v is negative", code, l.Hysteresis))
	}
	if code == SpO2Desat && l.Value > low.Value {
		errs = append(errs, fmt.Errorf("%s limit %v above the SpO2 low limit %v", code, l.Value, low.Value))
	}
	if len(errs) > 0 {
		return fmt.Errorf("alarm limit override: %w", errors.Join(errs...))
	}
	return nil
}

// quantise rounds v half-up to decimals places (display resolution, spec §3.3).
func quantise(v float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Floor(v*p+0.5) / p
}
