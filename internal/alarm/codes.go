package alarm

// Code is a stable upper-snake alarm code (spec §3.1), such as SPO2_LOW or NO_DATA.
type Code string

// Codes with defaults in spec §8 and §9 (and §7 for NEWS2).
const (
	HRHigh         Code = "HR_HIGH"
	HRLow          Code = "HR_LOW"
	HRExtremeHigh  Code = "HR_EXTREME_HIGH"
	HRExtremeLow   Code = "HR_EXTREME_LOW"
	SpO2Low        Code = "SPO2_LOW"
	SpO2Desat      Code = "SPO2_DESAT"
	SpO2High       Code = "SPO2_HIGH"
	RRHigh         Code = "RR_HIGH"
	RRLow          Code = "RR_LOW"
	Apnea          Code = "APNEA"
	NIBPSysHigh    Code = "NIBP_SYS_HIGH"
	NIBPSysLow     Code = "NIBP_SYS_LOW"
	NIBPDiaHigh    Code = "NIBP_DIA_HIGH"
	NIBPDiaLow     Code = "NIBP_DIA_LOW"
	NIBPMapHigh    Code = "NIBP_MAP_HIGH"
	NIBPMapLow     Code = "NIBP_MAP_LOW"
	TempHigh       Code = "TEMP_HIGH"
	TempLow        Code = "TEMP_LOW"
	ECGAsystole    Code = "ECG_ASYSTOLE"
	ECGVFib        Code = "ECG_VFIB"
	ECGVTach       Code = "ECG_VTACH"
	ECGAFib        Code = "ECG_AFIB"
	GlucoseLowL1   Code = "GLUCOSE_LOW_L1"
	GlucoseLowL2   Code = "GLUCOSE_LOW_L2"
	GlucoseHigh    Code = "GLUCOSE_HIGH"
	NoData         Code = "NO_DATA"
	SensorOff      Code = "SENSOR_OFF"
	SignalQuality  Code = "SIGNAL_QUALITY_LOW"
	BatteryLow     Code = "BATTERY_LOW"
	BatteryCrit    Code = "BATTERY_CRITICAL"
	ClockSkew      Code = "CLOCK_SKEW"
	NoRecipient    Code = "NO_RECIPIENT"
	NEWS2RedScore  Code = "NEWS2_RED_SCORE"
	NEWS2Medium    Code = "NEWS2_MEDIUM"
	NEWS2High      Code = "NEWS2_HIGH"
	DeviceOffline  Code = "DEVICE_OFFLINE"
	ImplausibleVal Code = "IMPLAUSIBLE_VALUE"
)

// Cold-chain codes (shared/specs/cold-chain.md 3.4, 3.6, 3.7, 4.5, 6). They are technical (an
// operator, as biomed, may acknowledge them); the processor sets each condition's priority from
// the risk of the products concerned, and the catalogue priority is the default.
const (
	ExcursionHigh      Code = "EXCURSION_HIGH"      // excursion-delay rule fired, above the upper limit
	ExcursionLow       Code = "EXCURSION_LOW"       // … below the lower limit
	ExcursionPredicted Code = "EXCURSION_PREDICTED" // forecast crossing within the warning horizon (spec 6)
	DoorOpen           Code = "DOOR_OPEN"           // door left open beyond the door tolerance
	BudgetWarning      Code = "BUDGET_WARNING"      // a stability budget passed a warning fraction
	BudgetExhausted    Code = "BUDGET_EXHAUSTED"    // a budget is used up, a deadline or single period passed: lot quarantined
	OutsideAllowance   Code = "OUTSIDE_ALLOWANCE"   // outside every allowance or an irreversible event: lot quarantined
	ColdDataGap        Code = "DATA_GAP"            // time with no reading from a cold-chain sensor
	GeofenceArrival    Code = "GEOFENCE_ARRIVAL"    // a shipment arrived at a site
	GeofenceDeparture  Code = "GEOFENCE_DEPARTURE"  // a shipment left a site
)

// NEWS2ObsOverdue: an observation set is overdue (shared/specs/news2.md §5.2), raised by the
// clinical processor.
const NEWS2ObsOverdue Code = "NEWS2_OBS_OVERDUE"

// NEWS2 advisories raised by the clinical processor: NEWS2Rising is rpm.md §6.6 (a complete
// score ≥ 3 after a 72-h median ≤ 2); NEWS2MonitorRequired is news2.md §5.2 (HIGH band without a
// continuous monitoring device assigned).
const (
	NEWS2Rising          Code = "NEWS2_RISING"
	NEWS2MonitorRequired Code = "NEWS2_CONTINUOUS_MONITORING_REQUIRED"
)

// CodeInfo is the catalogue entry of a code: its dedup group, kind, default priority and
// whether it latches (spec §4.3, §8, §9, §11).
type CodeInfo struct {
	Group    string
	Kind     Kind
	Priority Priority
	Latching bool
}

var catalogue = map[Code]CodeInfo{
	HRHigh:         {"HR_HIGH_GROUP", Physiological, Medium, false},
	HRExtremeHigh:  {"HR_HIGH_GROUP", Physiological, High, true},
	HRLow:          {"HR_LOW_GROUP", Physiological, Medium, false},
	HRExtremeLow:   {"HR_LOW_GROUP", Physiological, High, true},
	SpO2Low:        {"SPO2_LOW_GROUP", Physiological, Medium, false},
	SpO2Desat:      {"SPO2_LOW_GROUP", Physiological, High, true},
	SpO2High:       {"SPO2_HIGH", Physiological, Low, false},
	RRHigh:         {"RR_HIGH", Physiological, Medium, false},
	RRLow:          {"RR_LOW", Physiological, Medium, false},
	Apnea:          {"APNEA", Physiological, High, true},
	NIBPSysHigh:    {"NIBP_SYS_HIGH", Physiological, Medium, false},
	NIBPSysLow:     {"NIBP_SYS_LOW", Physiological, Medium, false},
	NIBPDiaHigh:    {"NIBP_DIA_HIGH", Physiological, Low, false},
	NIBPDiaLow:     {"NIBP_DIA_LOW", Physiological, Low, false},
	NIBPMapHigh:    {"NIBP_MAP_HIGH", Physiological, Low, false},
	NIBPMapLow:     {"NIBP_MAP_LOW", Physiological, Medium, false},
	TempHigh:       {"TEMP_HIGH", Physiological, Low, false},
	TempLow:        {"TEMP_LOW", Physiological, Low, false},
	ECGAsystole:    {"ECG_ASYSTOLE", Physiological, High, true},
	ECGVFib:        {"ECG_VFIB", Physiological, High, true},
	ECGVTach:       {"ECG_VTACH", Physiological, High, true},
	ECGAFib:        {"ECG_AFIB", Physiological, Low, false},
	GlucoseLowL1:   {"GLUCOSE_LOW", Physiological, Medium, false},
	GlucoseLowL2:   {"GLUCOSE_LOW", Physiological, High, false},
	GlucoseHigh:    {"GLUCOSE_HIGH", Physiological, Low, false},
	NoData:         {"NO_DATA", Technical, Medium, false},
	SensorOff:      {"SENSOR_OFF", Technical, Medium, false},
	SignalQuality:  {"SIGNAL_QUALITY_LOW", Technical, Low, false},
	BatteryLow:     {"BATTERY", Technical, Low, false},
	BatteryCrit:    {"BATTERY", Technical, Medium, false},
	ClockSkew:      {"CLOCK_SKEW", Technical, Low, false},
	NoRecipient:    {"NO_RECIPIENT", Technical, High, false},
	DeviceOffline:  {"DEVICE_OFFLINE", Technical, Medium, false},
	ImplausibleVal: {"IMPLAUSIBLE_VALUE", Technical, Low, false},
	NEWS2RedScore:  {"NEWS2", Advisory, Medium, true},
	NEWS2Medium:    {"NEWS2", Advisory, Medium, true},
	NEWS2High:      {"NEWS2", Advisory, High, true},

	NEWS2ObsOverdue:      {"NEWS2_OBS_OVERDUE", Advisory, Low, false},
	NEWS2Rising:          {"NEWS2_RISING", Advisory, Low, false},
	NEWS2MonitorRequired: {"NEWS2_CONTINUOUS_MONITORING_REQUIRED", Advisory, Low, false},

	ExcursionHigh:      {"EXCURSION_HIGH", Technical, High, true},
	ExcursionLow:       {"EXCURSION_LOW", Technical, High, true},
	ExcursionPredicted: {"EXCURSION_PREDICTED", Technical, Medium, false},
	DoorOpen:           {"DOOR_OPEN", Technical, Medium, false},
	BudgetWarning:      {"BUDGET", Technical, Low, false},
	BudgetExhausted:    {"BUDGET", Technical, High, true},
	OutsideAllowance:   {"OUTSIDE_ALLOWANCE", Technical, High, true},
	ColdDataGap:        {"DATA_GAP", Technical, Low, false},
	GeofenceArrival:    {"GEOFENCE", Technical, Low, false},
	GeofenceDeparture:  {"GEOFENCE", Technical, Low, false},
}

// Info returns the catalogue entry of c. An unknown code is its own group, physiological,
// LOW and non-latching; ok is false.
func (c Code) Info() (info CodeInfo, ok bool) {
	info, ok = catalogue[c]
	if !ok {
		return CodeInfo{Group: string(c), Kind: Physiological, Priority: Low}, false
	}
	return info, true
}

// Group returns c's dedup group (spec §11).
func (c Code) Group() string {
	info, _ := c.Info()
	return info.Group
}
