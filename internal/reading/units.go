package reading

import (
	"fmt"
	"math"
)

// SenMLUnit is one entry of the SenML units registry (RFC 8428 §12.1 and the RFC 8798
// primary units).
type SenMLUnit struct {
	Symbol         string // case-sensitive, as sent in u/bu
	Description    string
	NotRecommended bool // marked * in the registry: accepted on input, never produced
}

// senmlUnits is the registry; never modified after initialisation.
var senmlUnits = func() map[string]SenMLUnit {
	table := []SenMLUnit{
		// RFC 8428 §12.1
		{"m", "meter", false}, {"kg", "kilogram", false}, {"g", "gram", true}, {"s", "second", false},
		{"A", "ampere", false}, {"K", "kelvin", false}, {"cd", "candela", false}, {"mol", "mole", false},
		{"Hz", "hertz", false}, {"rad", "radian", false}, {"sr", "steradian", false}, {"N", "newton", false},
		{"Pa", "pascal", false}, {"J", "joule", false}, {"W", "watt", false}, {"C", "coulomb", false},
		{"V", "volt", false}, {"F", "farad", false}, {"Ohm", "ohm", false}, {"S", "siemens", false},
		{"Wb", "weber", false}, {"T", "tesla", false}, {"H", "henry", false}, {"Cel", "degrees Celsius", false},
		{"lm", "lumen", false}, {"lx", "lux", false}, {"Bq", "becquerel", false}, {"Gy", "gray", false},
		{"Sv", "sievert", false}, {"kat", "katal", false}, {"m2", "square meter", false},
		{"m3", "cubic meter", false}, {"l", "liter", true}, {"m/s", "meter per second", false},
		{"m/s2", "meter per square second", false}, {"m3/s", "cubic meter per second", false},
		{"l/s", "liter per second", true}, {"W/m2", "watt per square meter", false},
		{"cd/m2", "candela per square meter", false}, {"bit", "bit", false}, {"bit/s", "bit per second", false},
		{"lat", "degrees latitude", false}, {"lon", "degrees longitude", false}, {"pH", "pH value", false},
		{"dB", "decibel", false}, {"dBW", "decibel relative to 1 W", false}, {"Bspl", "bel (sound pressure level)", true},
		{"count", "1 (counter value)", false}, {"/", "1 (ratio)", false}, {"%", "1 (ratio)", true},
		{"%RH", "percentage (relative humidity)", false}, {"%EL", "percentage (remaining battery energy level)", false},
		{"EL", "seconds (remaining battery energy level)", false}, {"1/s", "1 per second (event rate)", false},
		{"1/min", "1 per minute (event rate)", true}, {"beat/min", "1 per minute (heart rate)", true},
		{"beats", "1 (cumulative number of heart beats)", true}, {"S/m", "siemens per meter", false},
		// RFC 8798 §3 primary units
		{"B", "byte", false}, {"VA", "volt-ampere", false}, {"VAs", "volt-ampere second", false},
		{"var", "volt-ampere reactive", false}, {"vars", "volt-ampere-reactive second", false},
		{"J/m", "joule per meter", false}, {"kg/m3", "kilogram per cubic meter", false},
		{"deg", "degree (angle)", true},
	}
	m := make(map[string]SenMLUnit, len(table))
	for _, u := range table {
		m[u.Symbol] = u
	}
	return m
}()

// secondaryUnits are the RFC 8798 §4 secondary units: registered, but not allowed in a
// SenML version 10 pack.
var secondaryUnits = map[string]bool{
	"ms": true, "min": true, "h": true, "MHz": true, "kW": true, "kVA": true, "kvar": true, "Ah": true,
	"Wh": true, "kWh": true, "varh": true, "kvarh": true, "kVAh": true, "Wh/km": true, "KiB": true,
	"GB": true, "Mbit/s": true, "B/s": true, "MB/s": true, "mV": true, "mA": true, "dBm": true,
	"ug/m3": true, "mm/h": true, "m/h": true, "ppm": true, "/100": true, "/1000": true, "hPa": true,
	"mm": true, "cm": true, "km": true, "km/h": true,
}

// notSenMLUnits are units devices send that SenML does not have, with the unit to use instead.
var notSenMLUnits = map[string]string{
	"mmHg": "Pa", "mm[Hg]": "Pa", "kPa": "Pa", "bpm": "beat/min", "%SpO2": "/", "degF": "Cel",
	"[degF]": "Cel", "mg/dL": "kg/m3", "mmol/L": "kg/m3", "lb": "kg", "[lb_av]": "kg",
}

// LookupSenMLUnit returns the registry entry for unit. It does not allocate for a []byte
// converted in the call (LookupSenMLUnit(string(b))).
func LookupSenMLUnit(unit string) (SenMLUnit, bool) {
	u, ok := senmlUnits[unit]
	return u, ok
}

// SenMLUnits returns every unit of the registry, in no particular order.
func SenMLUnits() []SenMLUnit {
	out := make([]SenMLUnit, 0, len(senmlUnits))
	for _, u := range senmlUnits {
		out = append(out, u)
	}
	return out
}

// UnitError reports a unit that cannot be used. Its text is the problem only, as the
// SenML decoder puts it after the record's position.
type UnitError struct {
	Unit   string
	Metric string // metric key, when the problem is specific to a metric
	Reason string
}

func (e *UnitError) Error() string { return e.Reason }

// CheckSenMLUnit reports whether unit may appear in u or bu of a SenML version 10 pack.
func CheckSenMLUnit(unit string) error {
	if _, ok := senmlUnits[unit]; ok {
		return nil
	}
	if hint, ok := notSenMLUnits[unit]; ok {
		return &UnitError{Unit: unit, Reason: fmt.Sprintf("unit %q is not a SenML unit (use %q)", unit, hint)}
	}
	if secondaryUnits[unit] {
		return &UnitError{Unit: unit, Reason: fmt.Sprintf("secondary unit '%s' not allowed in SenML v10", unit)}
	}
	return &UnitError{Unit: unit, Reason: fmt.Sprintf("unit %q is not a SenML unit", unit)}
}

// Conversion maps a value onto a metric's canonical unit: (v − Sub) × Mul ÷ Div.
// The constants are kept exactly as codes.md §4.1 states them.
type Conversion struct {
	Sub, Mul, Div float64
}

// Apply converts v.
func (c Conversion) Apply(v float64) float64 { return (v - c.Sub) * c.Mul / c.Div }

// Linear reports whether the conversion has no offset, so that it also applies to sums
// and differences.
func (c Conversion) Linear() bool { return c.Sub == 0 }

var (
	identity  = Conversion{Mul: 1, Div: 1}
	mul       = func(f float64) Conversion { return Conversion{Mul: f, Div: 1} }
	div       = func(d float64) Conversion { return Conversion{Mul: 1, Div: d} }
	mmHgPa    = 133.322387415 // Pa per mm[Hg]
	glucoseMM = 18.0156       // mg/dL per mmol/L (molar mass 180.156 g/mol)
)

// senmlConversions: metric key → SenML unit → conversion to the metric's canonical unit
// (senml.md §5).
var senmlConversions = func() map[string]map[string]Conversion {
	rate := map[string]Conversion{"beat/min": identity, "1/min": identity, "1/s": mul(60), "Hz": mul(60)}
	ratio := map[string]Conversion{"/": mul(100), "%": mul(100)}
	pressure := map[string]Conversion{"Pa": div(mmHgPa)}
	temp := map[string]Conversion{"Cel": identity, "K": {Sub: 273.15, Mul: 1, Div: 1}}
	ecg := map[string]Conversion{"V": mul(1000)}
	m := map[string]map[string]Conversion{
		"hr": rate, "pr_spo2": rate, "pr_nibp": rate, "rr": rate,
		"spo2": ratio, "pi": ratio,
		"nibp_sys": pressure, "nibp_dia": pressure, "nibp_mean": pressure,
		"temp_body": temp, "temp_ambient": temp,
		"glucose":      {"kg/m3": mul(100)},
		"weight":       {"kg": identity, "g": div(1000)},
		"rh":           {"%RH": identity, "/": mul(100)},
		"battery":      {"%EL": identity},
		"battery_time": {"EL": identity, "s": identity},
		"lat":          {"lat": identity},
		"lon":          {"lon": identity},
	}
	for k, mt := range metrics {
		if mt.Unit == "mV" {
			m[k] = ecg
		}
	}
	return m
}()

// ucumConversions: canonical UCUM unit → UCUM unit received → conversion (codes.md §4.1),
// for decoders that receive UCUM or MDC units (HL7, FHIR, BLE).
var ucumConversions = map[string]map[string]Conversion{
	"/min": {"/min": identity, "1/min": identity, "{beat}/min": identity, "{beats}/min": identity,
		"{breaths}/min": identity, "{Breaths}/min": identity, "/s": mul(60), "Hz": mul(60)},
	"%":      {"%": identity},
	"mm[Hg]": {"mm[Hg]": identity, "kPa": mul(7.500615758), "Pa": div(mmHgPa)},
	"Cel":    {"Cel": identity, "[degF]": {Sub: 32, Mul: 5, Div: 9}, "K": {Sub: 273.15, Mul: 1, Div: 1}},
	"kg":     {"kg": identity, "g": div(1000), "[lb_av]": mul(0.45359237)},
	"mg/dL": {"mg/dL": identity, "mmol/L": mul(glucoseMM), "kg/L": mul(100000),
		"mol/L": {Mul: 1000 * glucoseMM, Div: 1}, "g/L": mul(100), "kg/m3": mul(100)},
	"mV":  {"mV": identity, "V": mul(1000), "uV": div(1000)},
	"s":   {"s": identity},
	"deg": {"deg": identity},
}

// SenMLConversion returns how a value of metric m sent in SenML unit converts to m.Unit.
func SenMLConversion(m Metric, unit string) (Conversion, error) {
	if unit == "" {
		return Conversion{}, &UnitError{Metric: m.Key, Reason: fmt.Sprintf("unit required for metric '%s'", m.Key)}
	}
	c, ok := senmlConversions[m.Key][unit]
	if !ok {
		return Conversion{}, &UnitError{Unit: unit, Metric: m.Key,
			Reason: fmt.Sprintf("unit %q is not valid for metric '%s'", unit, m.Key)}
	}
	return c, nil
}

// FromSenML converts v, sent in SenML unit for metric m, to m's canonical unit. It applies
// the ratio rule of senml.md §5: '%' is a ratio (0–1) in SenML, so a value above 1 is an
// error rather than a percentage.
func FromSenML(m Metric, unit string, v float64) (float64, error) {
	c, err := SenMLConversion(m, unit)
	if err != nil {
		return 0, err
	}
	if unit == "%" && v > 1 {
		return 0, &UnitError{Unit: unit, Metric: m.Key, Reason: "unit '%' is a ratio in SenML (0–1); send 0.97 for 97 %"}
	}
	out := c.Apply(v)
	if math.IsInf(out, 0) || math.IsNaN(out) {
		return 0, &UnitError{Unit: unit, Metric: m.Key, Reason: fmt.Sprintf("value out of range for metric '%s'", m.Key)}
	}
	return out, nil
}

// UCUMConversion returns how a value of metric m in UCUM unit converts to m.Unit.
func UCUMConversion(m Metric, unit string) (Conversion, error) {
	if unit == "" {
		return Conversion{}, &UnitError{Metric: m.Key, Reason: fmt.Sprintf("unit required for metric '%s'", m.Key)}
	}
	c, ok := ucumConversions[m.Unit][unit]
	if !ok {
		return Conversion{}, &UnitError{Unit: unit, Metric: m.Key,
			Reason: fmt.Sprintf("unit %q is not valid for metric '%s'", unit, m.Key)}
	}
	return c, nil
}

// FromUCUM converts v, in UCUM unit, to metric m's canonical unit.
func FromUCUM(m Metric, unit string, v float64) (float64, error) {
	c, err := UCUMConversion(m, unit)
	if err != nil {
		return 0, err
	}
	return c.Apply(v), nil
}
