package reading

import "strings"

// Metric describes one metric key of shared/specs/codes.md §2 and §3: its MDC code, the
// LOINC code the FHIR vital-signs profile requires, its canonical UCUM unit and the range
// outside which a value is kept but flagged Implausible.
type Metric struct {
	Key    string // Vigil's stable short name, [a-z0-9_]
	MDC    uint32 // 32-bit MDC code (partition << 16 | term); 0 when the metric has none
	MDCRef string // MDC reference ID, documentation only
	// MDCUnverified: the MDC code is not confirmed against RTMMS and must not be emitted to
	// third parties (codes.md marks it UNVERIFIED).
	MDCUnverified bool
	LOINC         string   // vital-signs profile LOINC code; "" when the metric is not a vital sign
	LOINCOther    []string // optional extra LOINC codes
	Unit          string   // canonical UCUM unit
	Min, Max      float64  // plausible range, inclusive
	// Fleet: a device-health metric (battery, location), not a clinical or environmental
	// measurement. These keys are Vigil's own (senml.md §4 rule 1); they have no MDC code.
	Fleet bool
	// Flag: a yes/no device status sent as a SenML boolean (vb), stored as 0 or 1 (unit "1").
	Flag bool
	// Server: appended by Vigil itself about a device (its connectivity), never taken from a
	// device's payload: MetricKeys leaves it out, so a decoder keeps a device's record of that
	// name as an Unmapped raw series and no device can speak for the server.
	Server bool
}

// Plausible reports whether v lies inside the metric's plausible range.
func (m Metric) Plausible(v float64) bool { return v >= m.Min && v <= m.Max }

func ecgLead(key, ref string, code uint32, unverified bool) Metric {
	return Metric{Key: key, MDC: code, MDCRef: ref, MDCUnverified: unverified, Unit: "mV", Min: -20, Max: 20}
}

// metrics is the vocabulary of codes.md §2/§3 plus the fleet keys of senml.md §4. It is
// never modified after package initialisation.
var metrics = map[string]Metric{
	"hr": {Key: "hr", MDC: 147842, MDCRef: "MDC_ECG_HEART_RATE", LOINC: "8867-4", Unit: "/min", Min: 0, Max: 350},
	"pr_spo2": {Key: "pr_spo2", MDC: 149530, MDCRef: "MDC_PULS_OXIM_PULS_RATE", LOINC: "8867-4",
		LOINCOther: []string{"8889-8"}, Unit: "/min", Min: 0, Max: 350},
	"pr_nibp": {Key: "pr_nibp", MDC: 149546, MDCRef: "MDC_PULS_RATE_NON_INV", LOINC: "8867-4", Unit: "/min", Min: 0, Max: 350},
	"spo2": {Key: "spo2", MDC: 150456, MDCRef: "MDC_PULS_OXIM_SAT_O2", LOINC: "2708-6",
		LOINCOther: []string{"59408-5"}, Unit: "%", Min: 0, Max: 100},
	"rr":        {Key: "rr", MDC: 151562, MDCRef: "MDC_RESP_RATE", LOINC: "9279-1", Unit: "/min", Min: 0, Max: 150},
	"nibp_sys":  {Key: "nibp_sys", MDC: 150021, MDCRef: "MDC_PRESS_BLD_NONINV_SYS", LOINC: "8480-6", Unit: "mm[Hg]", Min: 0, Max: 300},
	"nibp_dia":  {Key: "nibp_dia", MDC: 150022, MDCRef: "MDC_PRESS_BLD_NONINV_DIA", LOINC: "8462-4", Unit: "mm[Hg]", Min: 0, Max: 300},
	"nibp_mean": {Key: "nibp_mean", MDC: 150023, MDCRef: "MDC_PRESS_BLD_NONINV_MEAN", LOINCOther: []string{"8478-0"}, Unit: "mm[Hg]", Min: 0, Max: 300},
	"temp_body": {Key: "temp_body", MDC: 150364, MDCRef: "MDC_TEMP_BODY", LOINC: "8310-5", Unit: "Cel", Min: 10, Max: 45},
	"glucose": {Key: "glucose", MDC: 160184, MDCRef: "MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD",
		LOINCOther: []string{"2339-0", "15074-8", "41653-7"}, Unit: "mg/dL", Min: 0, Max: 1000},
	"weight":  {Key: "weight", MDC: 188736, MDCRef: "MDC_MASS_BODY_ACTUAL", LOINC: "29463-7", Unit: "kg", Min: 0, Max: 700},
	"ecg_i":   ecgLead("ecg_i", "MDC_ECG_ELEC_POTL_I", 131329, false),
	"ecg_ii":  ecgLead("ecg_ii", "MDC_ECG_ELEC_POTL_II", 131330, false),
	"ecg_iii": ecgLead("ecg_iii", "MDC_ECG_ELEC_POTL_III", 131389, false),
	"ecg_v":   ecgLead("ecg_v", "MDC_ECG_ELEC_POTL_V", 131415, true),
	"ecg_v1":  ecgLead("ecg_v1", "MDC_ECG_ELEC_POTL_V1", 131331, false),
	"ecg_v2":  ecgLead("ecg_v2", "MDC_ECG_ELEC_POTL_V2", 131332, false),
	"ecg_v3":  ecgLead("ecg_v3", "MDC_ECG_ELEC_POTL_V3", 131333, false),
	"ecg_v4":  ecgLead("ecg_v4", "MDC_ECG_ELEC_POTL_V4", 131334, false),
	"ecg_v5":  ecgLead("ecg_v5", "MDC_ECG_ELEC_POTL_V5", 131335, false),
	"ecg_v6":  ecgLead("ecg_v6", "MDC_ECG_ELEC_POTL_V6", 131336, false),
	"ecg_avr": ecgLead("ecg_avr", "MDC_ECG_ELEC_POTL_AVR", 131390, false),
	"ecg_avl": ecgLead("ecg_avl", "MDC_ECG_ELEC_POTL_AVL", 131391, false),
	"ecg_avf": ecgLead("ecg_avf", "MDC_ECG_ELEC_POTL_AVF", 131392, false),
	"pi":      {Key: "pi", MDC: 150448, MDCRef: "MDC_PULS_OXIM_PERF_REL", Unit: "%", Min: 0, Max: 100},
	"temp_ambient": {Key: "temp_ambient", MDC: 188508, MDCRef: "MDC_TEMP_ROOM", LOINCOther: []string{"60832-3"},
		Unit: "Cel", Min: -200, Max: 100},
	"rh": {Key: "rh", MDC: 188804, MDCRef: "MDC_REL_HUMIDITY_AMBIENT", MDCUnverified: true, Unit: "%", Min: 0, Max: 100},

	// Fleet keys (senml.md §4 rule 1: %EL/EL → battery, lat/lon → asset location).
	"battery":      {Key: "battery", Unit: "%", Min: 0, Max: 100, Fleet: true},
	"battery_time": {Key: "battery_time", Unit: "s", Min: 0, Max: 1e9, Fleet: true},
	"lat":          {Key: "lat", Unit: "deg", Min: -90, Max: 90, Fleet: true},
	"lon":          {Key: "lon", Unit: "deg", Min: -180, Max: 180, Fleet: true},
	// Device status flags (alarms.md §8): a heartbeat carries the device's current clock in
	// its time (true; sent live, never from a store-and-forward buffer) and decides
	// CLOCK_SKEW; sensor_off (probe or electrode off the patient) decides SENSOR_OFF.
	"heartbeat":  {Key: "heartbeat", Unit: "1", Min: 0, Max: 1, Fleet: true, Flag: true},
	"sensor_off": {Key: "sensor_off", Unit: "1", Min: 0, Max: 1, Fleet: true, Flag: true},
	// signal_poor: the device flags its readings as low quality (SIGNAL_QUALITY_LOW).
	"signal_poor": {Key: "signal_poor", Unit: "1", Min: 0, Max: 1, Fleet: true, Flag: true},
	// connected: the device's transport session (MQTT) opened (1) or ended (0), appended by
	// the broker (Connectivity); decides DEVICE_OFFLINE.
	MetricConnected: {Key: MetricConnected, Unit: "1", Min: 0, Max: 1, Fleet: true, Flag: true, Server: true},
}

// metricsByMDC indexes metrics by MDC code, built once from metrics.
var metricsByMDC = func() map[uint32]Metric {
	m := make(map[uint32]Metric, len(metrics))
	for _, mt := range metrics {
		if mt.MDC != 0 {
			m[mt.MDC] = mt
		}
	}
	return m
}()

// LookupMetric returns the metric with the given key. Keys are case-sensitive lower case.
func LookupMetric(key string) (Metric, bool) {
	m, ok := metrics[key]
	return m, ok
}

// LookupMDC returns the metric whose MDC code is code (codes.md §6 rule 1). Private codes
// (low 16 bits ≥ 0xF000) and unknown codes are not found.
func LookupMDC(code uint32) (Metric, bool) {
	if code&0xFFFF >= 0xF000 {
		return Metric{}, false
	}
	m, ok := metricsByMDC[code]
	return m, ok
}

// MetricKeys returns every metric key a device may send, in no particular order: all but the
// Server metrics, which only Vigil appends.
func MetricKeys() []string {
	keys := make([]string, 0, len(metrics))
	for k, m := range metrics {
		if !m.Server {
			keys = append(keys, k)
		}
	}
	return keys
}

// IsECGKey reports whether key is an ECG lead key (ecg_i, ecg_v1, ...).
func IsECGKey(key string) bool {
	return strings.HasPrefix(key, "ecg_") && metrics[key].Key == key
}

// FlagImplausible sets the Implausible flag on r when r is a numeric reading of a known
// metric whose value is outside the metric's plausible range, and clears it otherwise.
func FlagImplausible(r *Reading) {
	r.Flags &^= Implausible
	if r.Kind != Number || r.Flags&Unmapped != 0 {
		return
	}
	if m, ok := metrics[r.Metric]; ok && !m.Plausible(r.Value) {
		r.Flags |= Implausible
	}
}
