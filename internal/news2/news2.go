package news2

import (
	"fmt"
	"math"
)

// Param is one of the seven NEWS2 parameters, in the chart's order.
type Param uint8

// The seven parameters (RCP), in the order the spec lists sub-scores.
const (
	RR        Param = iota // respiration rate, breaths/min
	SpO2                   // oxygen saturation, %
	O2                     // air or supplemental oxygen
	SBP                    // systolic blood pressure, mmHg
	Pulse                  // pulse rate, beats/min
	ACVPU                  // level of consciousness or new confusion
	Temp                   // temperature, °C
	NumParams = 7
)

var paramNames = [NumParams]string{"rr", "spo2", "o2", "sbp", "pulse", "acvpu", "temp"}

// String returns the spec's input code ("rr", "spo2", "o2", "sbp", "pulse", "acvpu", "temp").
func (p Param) String() string {
	if p < NumParams {
		return paramNames[p]
	}
	return fmt.Sprintf("param(%d)", uint8(p))
}

// ParamOf maps a metric key of shared/specs/codes.md to its NEWS2 parameter (spec §2).
// For the pulse keys rank orders the sources (lower wins, spec §2: ECG hr > pr_spo2 > pr_nibp;
// manual entry is rank 3). ok is false for keys that feed no NEWS2 parameter.
func ParamOf(metric string) (p Param, rank int, ok bool) {
	switch metric {
	case "rr":
		return RR, 0, true
	case "spo2":
		return SpO2, 0, true
	case "nibp_sys":
		return SBP, 0, true
	case "hr":
		return Pulse, 0, true
	case "pr_spo2":
		return Pulse, 1, true
	case "pr_nibp":
		return Pulse, 2, true
	case "temp_body":
		return Temp, 0, true
	}
	return 0, 0, false
}

// Params is a set of parameters, one bit per Param.
type Params uint8

// AllParams holds every parameter.
const AllParams Params = 1<<NumParams - 1

// Has reports whether p is in the set.
func (s Params) Has(p Param) bool { return s&(1<<p) != 0 }

// With returns the set with p added.
func (s Params) With(p Param) Params { return s | 1<<p }

// List returns the parameters in the set, in chart order.
func (s Params) List() []Param {
	var out []Param
	for p := Param(0); p < NumParams; p++ {
		if s.Has(p) {
			out = append(out, p)
		}
	}
	return out
}

// String lists the set as "rr,temp".
func (s Params) String() string {
	out := ""
	for _, p := range s.List() {
		if out != "" {
			out += ","
		}
		out += p.String()
	}
	return out
}

// Scale is the SpO2 scoring scale, a patient attribute (spec §4.3). The zero value means Scale 1.
type Scale uint8

// SpO2 scales.
const (
	Scale1 Scale = 1 // default for every patient
	Scale2 Scale = 2 // only for confirmed hypercapnic respiratory failure
)

// Oxygen says whether the patient breathes air or receives supplemental oxygen.
type Oxygen uint8

// Air or oxygen (spec §2, §4.4).
const (
	Air          Oxygen = 1
	Supplemental Oxygen = 2
)

func (o Oxygen) String() string {
	switch o {
	case Air:
		return "AIR"
	case Supplemental:
		return "OXYGEN"
	}
	return fmt.Sprintf("oxygen(%d)", uint8(o))
}

// Consciousness is the ACVPU level (spec §2).
type Consciousness uint8

// ACVPU levels. Confused means new-onset or worsening confusion; long-standing unchanged
// confusion is recorded as Alert.
const (
	Alert        Consciousness = 1 // A
	Confused     Consciousness = 2 // C: new confusion
	Voice        Consciousness = 3 // V
	Pain         Consciousness = 4 // P
	Unresponsive Consciousness = 5 // U
)

func (c Consciousness) String() string {
	if c >= Alert && c <= Unresponsive {
		return string("ACVPU"[c-1])
	}
	return fmt.Sprintf("acvpu(%d)", uint8(c))
}

// ParseConsciousness parses "A", "C", "V", "P" or "U".
func ParseConsciousness(s string) (Consciousness, error) {
	switch s {
	case "A":
		return Alert, nil
	case "C":
		return Confused, nil
	case "V":
		return Voice, nil
	case "P":
		return Pain, nil
	case "U":
		return Unresponsive, nil
	}
	return 0, fmt.Errorf("acvpu %q: want one of A, C, V, P, U", s)
}

// ParseOxygen parses "AIR" or "OXYGEN".
func ParseOxygen(s string) (Oxygen, error) {
	switch s {
	case "AIR":
		return Air, nil
	case "OXYGEN":
		return Supplemental, nil
	}
	return 0, fmt.Errorf("o2 %q: want AIR or OXYGEN", s)
}

// Set is one observation set in canonical units (breaths/min, %, mmHg, beats/min, °C).
// Present says which parameters have a current value; the others are missing.
type Set struct {
	Scale   Scale
	Present Params
	RR      float64
	SpO2    float64
	SBP     float64
	Pulse   float64
	Temp    float64
	O2      Oxygen
	ACVPU   Consciousness
}

// Band is the clinical-risk band (RCP Chart 4), ordered Low < LowMedium < Medium < High.
type Band uint8

// Clinical-risk bands.
const (
	Low       Band = iota // total 0–4, no single 3
	LowMedium             // a single parameter scored 3, total ≤ 4
	Medium                // total 5–6
	High                  // total 7 or more
)

func (b Band) String() string {
	switch b {
	case Low:
		return "LOW"
	case LowMedium:
		return "LOW_MEDIUM"
	case Medium:
		return "MEDIUM"
	case High:
		return "HIGH"
	}
	return fmt.Sprintf("band(%d)", uint8(b))
}

// BandOf is the RCP band rule of spec §5.1.
func BandOf(total int, red bool) Band {
	switch {
	case total >= 7:
		return High
	case total >= 5:
		return Medium
	case red:
		return LowMedium
	}
	return Low
}

// Part is one parameter of a result. Value is the quantised value: an integer for rr, spo2,
// sbp and pulse, tenths of a degree for temp (361 = 36.1 °C), the Oxygen or Consciousness
// code for o2 and acvpu.
type Part struct {
	Present bool
	Value   int
	Score   int
}

// Result is the score of one set. A complete result has a total; an incomplete one carries
// the bounds over every completion (spec §6.4) and says which parameters are missing.
type Result struct {
	Scale    Scale
	Parts    [NumParams]Part
	Complete bool
	Missing  Params
	ScoreMin int // equal to the total when complete
	ScoreMax int
	BandMin  Band // equal to the band when complete
	BandMax  Band
	RedScore bool // a present parameter scored 3
}

// Total returns the aggregate score; ok is false when a parameter is missing, so an
// incomplete set never yields a total.
func (r *Result) Total() (total int, ok bool) {
	if !r.Complete {
		return 0, false
	}
	return r.ScoreMin, true
}

// Band returns the clinical-risk band of a complete result; ok is false when incomplete
// (use BandMin and BandMax).
func (r *Result) Band() (b Band, ok bool) {
	if !r.Complete {
		return 0, false
	}
	return r.BandMin, true
}

// Determinate reports whether the band is known despite missing parameters (BandMin == BandMax).
func (r *Result) Determinate() bool { return r.BandMin == r.BandMax }

// InputError reports a value that cannot be scored.
type InputError struct {
	Param  Param
	Value  float64
	Reason string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("news2: %s = %v: %s", e.Param, e.Value, e.Reason)
}

// guard is the float guard of spec §3.2 option 2.
const guard = 1e-9

// Quantise rounds v half up to whole units (rr, spo2, sbp, pulse), spec §3.2.
func Quantise(v float64) int { return int(math.Floor(v + 0.5 + guard)) }

// QuantiseTenths rounds v half up to tenths and returns tenths (36.05 → 361), spec §3.2.
func QuantiseTenths(v float64) int { return int(math.Floor(v*10 + 0.5 + guard)) }

// FromFahrenheit converts °F to °C (spec §2); quantise after converting.
func FromFahrenheit(f float64) float64 { return (f - 32) * 5 / 9 }

// Sub-scores of spec §4.9, on quantised values.

// ScoreRR scores a quantised respiration rate.
func ScoreRR(v int) int {
	switch {
	case v <= 8:
		return 3
	case v <= 11:
		return 1
	case v <= 20:
		return 0
	case v <= 24:
		return 2
	}
	return 3
}

// ScoreSpO2 scores a quantised saturation on the given scale; onOxygen matters on Scale 2 only.
func ScoreSpO2(v int, scale Scale, onOxygen bool) int {
	if scale != Scale2 {
		switch {
		case v <= 91:
			return 3
		case v <= 93:
			return 2
		case v <= 95:
			return 1
		}
		return 0
	}
	switch {
	case v <= 83:
		return 3
	case v <= 85:
		return 2
	case v <= 87:
		return 1
	case v <= 92:
		return 0
	}
	if !onOxygen {
		return 0
	}
	switch {
	case v <= 94:
		return 1
	case v <= 96:
		return 2
	}
	return 3
}

// ScoreOxygen scores air (0) or supplemental oxygen (2).
func ScoreOxygen(o Oxygen) int {
	if o == Supplemental {
		return 2
	}
	return 0
}

// ScoreSBP scores a quantised systolic pressure.
func ScoreSBP(v int) int {
	switch {
	case v <= 90:
		return 3
	case v <= 100:
		return 2
	case v <= 110:
		return 1
	case v <= 219:
		return 0
	}
	return 3
}

// ScorePulse scores a quantised pulse rate.
func ScorePulse(v int) int {
	switch {
	case v <= 40:
		return 3
	case v <= 50:
		return 1
	case v <= 90:
		return 0
	case v <= 110:
		return 1
	case v <= 130:
		return 2
	}
	return 3
}

// ScoreConsciousness scores ACVPU: A 0, anything else (including new confusion) 3.
func ScoreConsciousness(c Consciousness) int {
	if c == Alert {
		return 0
	}
	return 3
}

// ScoreTemp scores a temperature quantised to tenths of a degree (361 = 36.1 °C).
func ScoreTemp(t10 int) int {
	switch {
	case t10 <= 350:
		return 3
	case t10 <= 360:
		return 1
	case t10 <= 380:
		return 0
	case t10 <= 390:
		return 1
	}
	return 2
}

func checkNumber(p Param, v, max float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return &InputError{Param: p, Value: v, Reason: "not a number"}
	}
	if v < 0 {
		return &InputError{Param: p, Value: v, Reason: "negative"}
	}
	if v > max {
		return &InputError{Param: p, Value: v, Reason: fmt.Sprintf("above %v", max)}
	}
	return nil
}

// Score scores s (spec §3–§6.4). Values are quantised first. It returns an *InputError for a
// value no chart can score (NaN, negative, SpO2 above 100, an unknown enum or scale);
// plausibility ranges (spec §2.1) are the caller's job, see Plausible.
func Score(s Set) (Result, error) {
	var r Result
	scale := s.Scale
	if scale == 0 {
		scale = Scale1
	}
	if scale != Scale1 && scale != Scale2 {
		return r, &InputError{Param: SpO2, Value: float64(s.Scale), Reason: "scale must be 1 or 2"}
	}
	r.Scale = scale
	known := 0
	if s.Present.Has(RR) {
		if err := checkNumber(RR, s.RR, 1000); err != nil {
			return r, err
		}
		v := Quantise(s.RR)
		r.Parts[RR] = Part{Present: true, Value: v, Score: ScoreRR(v)}
	}
	if s.Present.Has(O2) {
		if s.O2 != Air && s.O2 != Supplemental {
			return r, &InputError{Param: O2, Value: float64(s.O2), Reason: "want AIR or OXYGEN"}
		}
		r.Parts[O2] = Part{Present: true, Value: int(s.O2), Score: ScoreOxygen(s.O2)}
	}
	if s.Present.Has(SpO2) {
		if err := checkNumber(SpO2, s.SpO2, 100); err != nil {
			return r, err
		}
		v := Quantise(s.SpO2)
		r.Parts[SpO2] = Part{Present: true, Value: v}
		if s.Present.Has(O2) {
			r.Parts[SpO2].Score = ScoreSpO2(v, scale, s.O2 == Supplemental)
		} else {
			// Placeholder until the bounds below: the score on air, the lower of the two.
			r.Parts[SpO2].Score = ScoreSpO2(v, scale, false)
		}
	}
	if s.Present.Has(SBP) {
		if err := checkNumber(SBP, s.SBP, 1000); err != nil {
			return r, err
		}
		v := Quantise(s.SBP)
		r.Parts[SBP] = Part{Present: true, Value: v, Score: ScoreSBP(v)}
	}
	if s.Present.Has(Pulse) {
		if err := checkNumber(Pulse, s.Pulse, 1000); err != nil {
			return r, err
		}
		v := Quantise(s.Pulse)
		r.Parts[Pulse] = Part{Present: true, Value: v, Score: ScorePulse(v)}
	}
	if s.Present.Has(ACVPU) {
		if s.ACVPU < Alert || s.ACVPU > Unresponsive {
			return r, &InputError{Param: ACVPU, Value: float64(s.ACVPU), Reason: "want A, C, V, P or U"}
		}
		r.Parts[ACVPU] = Part{Present: true, Value: int(s.ACVPU), Score: ScoreConsciousness(s.ACVPU)}
	}
	if s.Present.Has(Temp) {
		if err := checkNumber(Temp, s.Temp, 100); err != nil {
			return r, err
		}
		v := QuantiseTenths(s.Temp)
		r.Parts[Temp] = Part{Present: true, Value: v, Score: ScoreTemp(v)}
	}
	r.Missing = AllParams &^ s.Present
	r.Complete = r.Missing == 0
	for p := range r.Parts {
		if r.Parts[p].Present {
			known += r.Parts[p].Score
			if r.Parts[p].Score == 3 {
				r.RedScore = true
			}
		}
	}
	if r.Complete {
		r.ScoreMin, r.ScoreMax = known, known
		r.BandMin = BandOf(known, r.RedScore)
		r.BandMax = r.BandMin
		return r, nil
	}
	r.bounds()
	return r, nil
}

// bounds fills ScoreMin..BandMax of an incomplete result (spec §6.4). Every sub-score and
// the band rule are non-decreasing in each sub-score, so the minimum completion (each missing
// numeric at 0, acvpu A) and the maximum completion (3 each, acvpu non-A) give the extremes
// for each air/oxygen choice; the test suite checks this against full enumeration.
func (r *Result) bounds() {
	base, red := 0, false
	for p := Param(0); p < NumParams; p++ {
		if p == SpO2 || p == O2 || !r.Parts[p].Present {
			continue
		}
		base += r.Parts[p].Score
		red = red || r.Parts[p].Score == 3
	}
	nMissing := 0 // missing parameters other than o2 and spo2 handled below, each 0..3
	for p := Param(0); p < NumParams; p++ {
		if p != O2 && p != SpO2 && r.Missing.Has(p) {
			nMissing++
		}
	}
	o2s := [2]Oxygen{Air, Supplemental}
	opts := o2s[:]
	if r.Parts[O2].Present {
		opts = o2s[r.Parts[O2].Value-1 : r.Parts[O2].Value]
	}
	first := true
	for _, o := range opts {
		lo, hi := base+ScoreOxygen(o), base+ScoreOxygen(o)
		redLo := red
		if r.Parts[SpO2].Present {
			sc := ScoreSpO2(r.Parts[SpO2].Value, r.Scale, o == Supplemental)
			lo += sc
			hi += sc
			redLo = redLo || sc == 3
		} else {
			hi += 3
		}
		hi += 3 * nMissing
		redHi := redLo || nMissing > 0 || !r.Parts[SpO2].Present
		bLo, bHi := BandOf(lo, redLo), BandOf(hi, redHi)
		if first || lo < r.ScoreMin {
			r.ScoreMin = lo
		}
		if first || hi > r.ScoreMax {
			r.ScoreMax = hi
		}
		if first || bLo < r.BandMin {
			r.BandMin = bLo
		}
		if first || bHi > r.BandMax {
			r.BandMax = bHi
		}
		first = false
	}
	// A present Scale 2 SpO2 with o2 missing has no single score; keep the air score (the
	// lower) in Parts and flag nothing red from it unless it is 3 on air.
	if r.Parts[SpO2].Present && r.Parts[SpO2].Score == 3 {
		r.RedScore = true
	}
}

// Plausible reports whether v is inside the plausible range of spec §2.1 for p (o2 and acvpu
// are always plausible). manual selects the manual-entry range; such values outside the
// device range need an explicit confirmation from the user.
func Plausible(p Param, v float64, manual bool) bool {
	if math.IsNaN(v) || v < 0 {
		return false
	}
	var lo, hi, mlo float64
	switch p {
	case RR:
		lo, hi, mlo = 2, 80, 0
	case SpO2:
		lo, hi, mlo = 50, 100, 0
	case SBP:
		lo, hi, mlo = 40, 300, 0
	case Pulse:
		lo, hi, mlo = 20, 300, 0
	case Temp:
		lo, hi, mlo = 25, 45, 20
	default:
		return true
	}
	if manual {
		lo = mlo
	}
	return v >= lo && v <= hi
}
