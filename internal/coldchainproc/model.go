package coldchainproc

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vigil-iomt/vigil/internal/coldchain"
)

// Meta is the bookkeeping every record carries; the store sets it.
type Meta struct {
	Version int64     `json:"version"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// Site is a place with storage units; with a position and radius it is a geofence.
type Site struct {
	ID              string  `json:"id"`
	Name            string  `json:"name"`
	Timezone        string  `json:"timezone"`
	Lat             float64 `json:"lat"`
	Lon             float64 `json:"lon"`
	GeofenceRadiusM float64 `json:"geofence_radius_m"`
	AmbientC        float64 `json:"ambient_c"`
	Meta
}

// Limits configure excursion detection of a unit or shipment (spec 3.2–3.4, 4.1).
type Limits struct {
	LowC           float64 `json:"low_c"`
	HighC          float64 `json:"high_c"`
	HysteresisC    float64 `json:"hysteresis_c"`
	AlarmDelayS    int64   `json:"alarm_delay_s"`
	DoorToleranceS int64   `json:"door_tolerance_s"`
	IntervalS      int64   `json:"interval_s"`
	MaxGapS        int64   `json:"max_gap_s"`
}

// Sensor is a temperature sensor (a device and its metric) of a unit or shipment.
type Sensor struct {
	Device         string `json:"device"`
	Metric         string `json:"metric,omitempty"`
	CalibrationDue string `json:"calibration_due,omitempty"`
}

// Unit kinds.
const (
	KindFridge        = "fridge"
	KindFreezer       = "freezer"
	KindULTFreezer    = "ult_freezer"
	KindCRTZone       = "crt_zone"
	KindWarehouseZone = "warehouse_zone"
)

// Unit is a storage unit: fridge, freezer, ULT freezer, controlled-room-temperature zone or
// warehouse zone.
type Unit struct {
	ID           string   `json:"id"`
	Site         string   `json:"site"`
	Name         string   `json:"name"`
	Kind         string   `json:"kind"`
	StorageClass string   `json:"storage_class"`
	Limits       Limits   `json:"limits"`
	Sensors      []Sensor `json:"sensors"`
	DoorDevice   string   `json:"door_device,omitempty"`
	Meta
}

// Band is a budget band (spec 3.6), half-open where the flags say.
type Band struct {
	LoC    float64 `json:"lo_c"`
	HiC    float64 `json:"hi_c"`
	LoOpen bool    `json:"lo_open"`
	HiOpen bool    `json:"hi_open"`
}

// BudgetRule is one stability allowance of a product.
type BudgetRule struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"` // coldchain.BudgetKind names: cumulative-in-band, single-period, elapsed-deadline, irreversible-event
	Band   Band   `json:"band"`
	LimitS int64  `json:"limit_s"`
	Strict bool   `json:"strict"`
	After  string `json:"after,omitempty"`
}

// Product risk levels; they set alarm priorities.
const (
	RiskLow    = "low"
	RiskMedium = "medium"
	RiskHigh   = "high"
)

// ProductLimits is a product's labelled storage range.
type ProductLimits struct {
	LowC  float64 `json:"low_c"`
	HighC float64 `json:"high_c"`
}

// Product is a medicinal product with its storage class, limits and stability budget.
type Product struct {
	ID                   string        `json:"id"`
	Name                 string        `json:"name"`
	StorageClass         string        `json:"storage_class"`
	Limits               ProductLimits `json:"limits"`
	Risk                 string        `json:"risk"`
	ActivationEnergyJMol float64       `json:"activation_energy_j_mol"`
	BudgetRules          []BudgetRule  `json:"budget_rules"`
	Warn                 []float64     `json:"warn,omitempty"`
	Meta
}

// Location kinds of a lot's custody.
const (
	AtUnit     = "unit"
	AtShipment = "shipment"
)

// Location is where a lot is now.
type Location struct {
	Kind  string    `json:"kind"`
	ID    string    `json:"id"`
	Since time.Time `json:"since"`
}

// Custody is one stay of a lot at a location; To is nil while it is there.
type Custody struct {
	Kind string     `json:"kind"`
	ID   string     `json:"id"`
	From time.Time  `json:"from"`
	To   *time.Time `json:"to"`
}

// Lot statuses.
const (
	LotAvailable   = "available"
	LotQuarantined = "quarantined"
	LotReleased    = "released"
	LotRejected    = "rejected"
)

// QuarantineReason says why a lot was quarantined automatically.
type QuarantineReason struct {
	Kind string    `json:"kind"`
	Rule string    `json:"rule,omitempty"`
	At   time.Time `json:"at"`
}

// Lot is a quantity of one product, in one place at a time.
type Lot struct {
	ID         string             `json:"id"`
	Number     string             `json:"number"`
	Product    string             `json:"product"`
	Quantity   float64            `json:"quantity"`
	UOM        string             `json:"uom"`
	Expiry     string             `json:"expiry"`
	Status     string             `json:"status"`
	Location   Location           `json:"location"`
	Locations  []Custody          `json:"locations"`
	Quarantine []QuarantineReason `json:"quarantine"`
	Meta
}

// Lane is a qualified route (spec 4.4).
type Lane struct {
	ID                 string `json:"id"`
	Origin             string `json:"origin"`
	Destination        string `json:"destination"`
	Mode               string `json:"mode"`
	Packaging          string `json:"packaging"`
	QualifiedDurationS int64  `json:"qualified_duration_s"`
	ExpectedTransitS   int64  `json:"expected_transit_s"`
}

// Leg is one leg of a shipment with planned and actual times.
type Leg struct {
	FromSite         string     `json:"from_site"`
	ToSite           string     `json:"to_site"`
	PlannedDeparture *time.Time `json:"planned_departure"`
	PlannedArrival   *time.Time `json:"planned_arrival"`
	ActualDeparture  *time.Time `json:"actual_departure"`
	ActualArrival    *time.Time `json:"actual_arrival"`
}

// Transition is one audited lifecycle step of a shipment.
type Transition struct {
	From   coldchain.ShipmentState  `json:"from"`
	To     coldchain.ShipmentState  `json:"to"`
	Action coldchain.ShipmentAction `json:"action"`
	At     time.Time                `json:"at"`
	Actor  string                   `json:"actor"`
	Reason string                   `json:"reason"`
}

// Shipment is a transport of lots along a lane (spec 4.5).
type Shipment struct {
	ID          string                  `json:"id"`
	Carrier     string                  `json:"carrier"`
	Lane        Lane                    `json:"lane"`
	Limits      Limits                  `json:"limits"`
	Loggers     []Sensor                `json:"loggers"`
	Lots        []string                `json:"lots"`
	Legs        []Leg                   `json:"legs"`
	State       coldchain.ShipmentState `json:"state"`
	Transitions []Transition            `json:"transitions"`
	Meta
}

// Position is a point in space of a mapping logger, in metres from a corner of the unit.
type Position struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	Z float64 `json:"z"`
}

// MapReading is one mapping-logger reading.
type MapReading struct {
	At time.Time `json:"at"`
	C  float64   `json:"c"`
}

// MapLogger is one logger of a mapping study.
type MapLogger struct {
	Label       string       `json:"label"`
	Position    Position     `json:"position"`
	Calibration string       `json:"calibration"`
	Readings    []MapReading `json:"readings"`
}

// MappingStudy is a temperature-mapping study of a unit (spec 5).
type MappingStudy struct {
	ID          string        `json:"id"`
	Unit        string        `json:"unit"`
	ProtocolRef string        `json:"protocol_ref"`
	IntervalS   int64         `json:"interval_s"`
	Start       time.Time     `json:"start"`
	End         time.Time     `json:"end"`
	LoadState   string        `json:"load_state"`
	Season      string        `json:"season"`
	Limits      ProductLimits `json:"limits"`
	Loggers     []MapLogger   `json:"loggers"`
	Statistics  *MapStats     `json:"statistics,omitempty"`
	Meta
}

// Ack is the acknowledgement of an excursion (audited, not a signature).
type Ack struct {
	By        string    `json:"by"`
	At        time.Time `json:"at"`
	Comment   string    `json:"comment"`
	RootCause string    `json:"root_cause"`
}

// Excursion is a recorded excursion (spec 3.3), as stored by the processor.
type Excursion struct {
	ID              string     `json:"id"`
	SourceKind      string     `json:"source_kind"`
	Source          string     `json:"source"`
	Sensor          string     `json:"sensor"`
	Direction       string     `json:"direction"`
	LimitC          float64    `json:"limit_c"`
	Start           time.Time  `json:"start"`
	End             *time.Time `json:"end"`
	Ongoing         bool       `json:"ongoing"`
	DurationS       float64    `json:"duration_s"`
	PeakC           float64    `json:"peak_c"`
	PeakAt          time.Time  `json:"peak_at"`
	TimeOutOfRangeS float64    `json:"time_out_of_range_s"`
	DegreeMinutes   float64    `json:"degree_minutes"`
	Coverage        float64    `json:"coverage"`
	LowerBound      bool       `json:"lower_bound"`
	DoorOpen        bool       `json:"door_open"`
	NotifiedAt      *time.Time `json:"notified_at"`
	Ack             *Ack       `json:"ack"`
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// fieldErrors collects validation problems, each naming its field.
type fieldErrors []error

func (f *fieldErrors) add(field, format string, a ...any) {
	*f = append(*f, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...)))
}

func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return invalidf("%v", errors.Join(f...))
}

func checkID(f *fieldErrors, field, id string) {
	if !idPattern.MatchString(id) {
		f.add(field, "%q must be 1–64 characters of A–Z, a–z, 0–9, '.', '_', ':' or '-'", id)
	}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func checkTemp(f *fieldErrors, field string, c float64) {
	if !finite(c) || c <= -coldchain.KelvinOffset || c > 200 {
		f.add(field, "%v is not a plausible temperature in °C", c)
	}
}

func (l Limits) validate(f *fieldErrors, field string) {
	checkTemp(f, field+".low_c", l.LowC)
	checkTemp(f, field+".high_c", l.HighC)
	if !(l.LowC < l.HighC) {
		f.add(field, "low_c %v must be below high_c %v", l.LowC, l.HighC)
	}
	if !finite(l.HysteresisC) || l.HysteresisC < 0 || l.HysteresisC >= l.HighC-l.LowC {
		f.add(field+".hysteresis_c", "%v must be ≥ 0 and smaller than the range", l.HysteresisC)
	}
	if l.AlarmDelayS < 0 || l.AlarmDelayS > 7*86400 {
		f.add(field+".alarm_delay_s", "%d must be between 0 and 604800", l.AlarmDelayS)
	}
	if l.DoorToleranceS < 0 || l.DoorToleranceS > 86400 {
		f.add(field+".door_tolerance_s", "%d must be between 0 and 86400", l.DoorToleranceS)
	}
	if l.IntervalS <= 0 || l.IntervalS > 86400 {
		f.add(field+".interval_s", "%d must be between 1 and 86400", l.IntervalS)
	}
	if l.MaxGapS < 0 || (l.MaxGapS > 0 && l.MaxGapS < l.IntervalS) {
		f.add(field+".max_gap_s", "%d must be 0 (2 × interval) or at least interval_s", l.MaxGapS)
	}
}

func (l Limits) timing() coldchain.Timing {
	return coldchain.Timing{Nominal: time.Duration(l.IntervalS) * time.Second, MaxGap: time.Duration(l.MaxGapS) * time.Second}
}

func validateSensors(f *fieldErrors, field string, ss []Sensor, required bool) {
	if required && len(ss) == 0 {
		f.add(field, "at least one sensor is required")
	}
	for i, s := range ss {
		checkID(f, fmt.Sprintf("%s[%d].device", field, i), s.Device)
		if s.CalibrationDue != "" {
			if _, err := time.Parse(time.DateOnly, s.CalibrationDue); err != nil {
				f.add(fmt.Sprintf("%s[%d].calibration_due", field, i), "%q is not a date (YYYY-MM-DD)", s.CalibrationDue)
			}
		}
	}
}

func (s *Site) validate() error {
	var f fieldErrors
	checkID(&f, "id", s.ID)
	if strings.TrimSpace(s.Name) == "" {
		f.add("name", "required")
	}
	if s.Timezone == "" {
		s.Timezone = "UTC"
	}
	if _, err := time.LoadLocation(s.Timezone); err != nil {
		f.add("timezone", "%q is not an IANA time zone", s.Timezone)
	}
	if !finite(s.Lat) || math.Abs(s.Lat) > 90 {
		f.add("lat", "%v must be between -90 and 90", s.Lat)
	}
	if !finite(s.Lon) || math.Abs(s.Lon) > 180 {
		f.add("lon", "%v must be between -180 and 180", s.Lon)
	}
	if !finite(s.GeofenceRadiusM) || s.GeofenceRadiusM < 0 || s.GeofenceRadiusM > 100000 {
		f.add("geofence_radius_m", "%v must be between 0 and 100000", s.GeofenceRadiusM)
	}
	if s.AmbientC != 0 {
		checkTemp(&f, "ambient_c", s.AmbientC)
	}
	return f.err()
}

var unitKinds = []string{KindFridge, KindFreezer, KindULTFreezer, KindCRTZone, KindWarehouseZone}

func (u *Unit) validate() error {
	var f fieldErrors
	checkID(&f, "id", u.ID)
	checkID(&f, "site", u.Site)
	if strings.TrimSpace(u.Name) == "" {
		f.add("name", "required")
	}
	if !slices.Contains(unitKinds, u.Kind) {
		f.add("kind", "%q is not one of %s", u.Kind, strings.Join(unitKinds, ", "))
	}
	u.Limits.validate(&f, "limits")
	validateSensors(&f, "sensors", u.Sensors, true)
	for i := range u.Sensors {
		if u.Sensors[i].Metric == "" {
			u.Sensors[i].Metric = "temp_ambient"
		}
	}
	if u.DoorDevice != "" {
		checkID(&f, "door_device", u.DoorDevice)
	}
	return f.err()
}

func (p *Product) validate() error {
	var f fieldErrors
	checkID(&f, "id", p.ID)
	if strings.TrimSpace(p.Name) == "" {
		f.add("name", "required")
	}
	checkTemp(&f, "limits.low_c", p.Limits.LowC)
	checkTemp(&f, "limits.high_c", p.Limits.HighC)
	if !(p.Limits.LowC < p.Limits.HighC) {
		f.add("limits", "low_c %v must be below high_c %v", p.Limits.LowC, p.Limits.HighC)
	}
	if p.Risk == "" {
		p.Risk = RiskMedium
	}
	if !slices.Contains([]string{RiskLow, RiskMedium, RiskHigh}, p.Risk) {
		f.add("risk", "%q is not low, medium or high", p.Risk)
	}
	if p.ActivationEnergyJMol == 0 {
		p.ActivationEnergyJMol = coldchain.DefaultActivationEnergy
	}
	if !finite(p.ActivationEnergyJMol) || p.ActivationEnergyJMol <= 0 || p.ActivationEnergyJMol > 1e6 {
		f.add("activation_energy_j_mol", "%v must be positive (default 83144)", p.ActivationEnergyJMol)
	}
	for i, w := range p.Warn {
		if !finite(w) || w <= 0 || w >= 1 {
			f.add(fmt.Sprintf("warn[%d]", i), "%v must be between 0 and 1", w)
		}
	}
	ids := map[string]bool{}
	for i, r := range p.BudgetRules {
		field := fmt.Sprintf("budget_rules[%d]", i)
		checkID(&f, field+".id", r.ID)
		if ids[r.ID] {
			f.add(field+".id", "%q is used twice", r.ID)
		}
		ids[r.ID] = true
		if _, ok := budgetKind(r.Kind); !ok {
			f.add(field+".kind", "%q is not cumulative-in-band, single-period, elapsed-deadline or irreversible-event", r.Kind)
		}
		checkTemp(&f, field+".band.lo_c", r.Band.LoC)
		checkTemp(&f, field+".band.hi_c", r.Band.HiC)
		if !(r.Band.LoC <= r.Band.HiC) {
			f.add(field+".band", "lo_c %v must not be above hi_c %v", r.Band.LoC, r.Band.HiC)
		}
		if kind := kindOf(r.Kind); (kind != coldchain.IrreversibleEvent && r.LimitS <= 0) || r.LimitS < 0 {
			f.add(field+".limit_s", "%d must be positive", r.LimitS)
		}
		if r.After != "" && kindOf(r.Kind) != coldchain.IrreversibleEvent {
			f.add(field+".after", "only irreversible-event rules have an after rule")
		}
	}
	for i, r := range p.BudgetRules {
		if r.After != "" && !ids[r.After] {
			f.add(fmt.Sprintf("budget_rules[%d].after", i), "%q is not a rule of this product", r.After)
		}
	}
	return f.err()
}

func kindOf(name string) coldchain.BudgetKind { v, _ := budgetKind(name); return v }

func budgetKind(name string) (coldchain.BudgetKind, bool) {
	for _, k := range []coldchain.BudgetKind{coldchain.CumulativeInBand, coldchain.SinglePeriod, coldchain.ElapsedDeadline, coldchain.IrreversibleEvent} {
		if k.String() == name {
			return k, true
		}
	}
	return 0, false
}

// profile converts p to the budget profile of package coldchain.
func (p Product) profile() coldchain.Profile {
	prof := coldchain.Profile{Labelled: coldchain.Ranges{{Lo: p.Limits.LowC, Hi: p.Limits.HighC}}, Warn: p.Warn}
	for _, r := range p.BudgetRules {
		prof.Rules = append(prof.Rules, coldchain.BudgetRule{ID: r.ID, Kind: kindOf(r.Kind),
			Band:  coldchain.Band{Lo: r.Band.LoC, Hi: r.Band.HiC, LoOpen: r.Band.LoOpen, HiOpen: r.Band.HiOpen},
			Limit: time.Duration(r.LimitS) * time.Second, Strict: r.Strict, After: r.After})
	}
	return prof
}

func (l *Lot) validate() error {
	var f fieldErrors
	checkID(&f, "id", l.ID)
	checkID(&f, "product", l.Product)
	if strings.TrimSpace(l.Number) == "" {
		f.add("number", "required")
	}
	if !finite(l.Quantity) || l.Quantity < 0 {
		f.add("quantity", "%v must be a number ≥ 0", l.Quantity)
	}
	if l.Expiry != "" {
		if _, err := time.Parse(time.DateOnly, l.Expiry); err != nil {
			f.add("expiry", "%q is not a date (YYYY-MM-DD)", l.Expiry)
		}
	}
	return f.err()
}

func (s *Shipment) validate() error {
	var f fieldErrors
	checkID(&f, "id", s.ID)
	if s.Lane.ID != "" {
		checkID(&f, "lane.id", s.Lane.ID)
	}
	checkID(&f, "lane.origin", s.Lane.Origin)
	checkID(&f, "lane.destination", s.Lane.Destination)
	if s.Lane.QualifiedDurationS < 0 || s.Lane.ExpectedTransitS < 0 {
		f.add("lane", "durations must not be negative")
	}
	s.Limits.validate(&f, "limits")
	validateSensors(&f, "loggers", s.Loggers, false)
	for i := range s.Loggers {
		if s.Loggers[i].Metric == "" {
			s.Loggers[i].Metric = "temp_ambient"
		}
	}
	for i, l := range s.Lots {
		checkID(&f, fmt.Sprintf("lots[%d]", i), l)
	}
	return f.err()
}

func (m *MappingStudy) validate() error {
	var f fieldErrors
	checkID(&f, "id", m.ID)
	checkID(&f, "unit", m.Unit)
	if m.IntervalS <= 0 {
		f.add("interval_s", "%d must be positive", m.IntervalS)
	}
	checkTemp(&f, "limits.low_c", m.Limits.LowC)
	checkTemp(&f, "limits.high_c", m.Limits.HighC)
	if !(m.Limits.LowC < m.Limits.HighC) {
		f.add("limits", "low_c must be below high_c")
	}
	if len(m.Loggers) == 0 || len(m.Loggers) > 500 {
		f.add("loggers", "%d loggers, want 1 to 500", len(m.Loggers))
	}
	labels := map[string]bool{}
	for i, lg := range m.Loggers {
		field := fmt.Sprintf("loggers[%d]", i)
		if strings.TrimSpace(lg.Label) == "" || labels[lg.Label] {
			f.add(field+".label", "%q is empty or used twice", lg.Label)
		}
		labels[lg.Label] = true
		if len(lg.Readings) == 0 || len(lg.Readings) > 100000 {
			f.add(field+".readings", "%d readings, want 1 to 100000", len(lg.Readings))
		}
		for j, r := range lg.Readings {
			checkTemp(&f, fmt.Sprintf("%s.readings[%d].c", field, j), r.C)
			if j > 0 && !r.At.After(lg.Readings[j-1].At) {
				f.add(fmt.Sprintf("%s.readings[%d].at", field, j), "not after the previous reading")
			}
		}
		if len(f) > 20 {
			break
		}
	}
	return f.err()
}
