package coldchain

import (
	"fmt"
	"math"
	"time"
)

// EarthRadius is the mean Earth radius in metres (IUGG R1) used by Haversine.
const EarthRadius = 6371008.8

// Haversine returns the great-circle distance in metres between two points in degrees.
func Haversine(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	dLat, dLon := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * EarthRadius * math.Asin(math.Min(1, math.Sqrt(a)))
}

// Fix is one GPS position at device time.
type Fix struct {
	At       time.Time
	Lat, Lon float64 // degrees
}

// GeofenceConfig is a circular site fence. The spec gives no geofence rule; these are Vigil's:
// a fix is inside at distance ≤ Radius and outside beyond Radius + Margin (between the two,
// the fence keeps its state, so GPS jitter at the edge does not flap), and a change counts only
// once consecutive fixes agree for at least Dwell.
type GeofenceConfig struct {
	Lat, Lon float64 // centre, degrees
	Radius   float64 // metres, > 0
	Margin   float64 // metres ≥ 0; DefaultGeofenceMargin is a sensible value
	Dwell    time.Duration
}

// Geofence defaults (Vigil's decisions).
const (
	DefaultGeofenceMargin = 50.0
	DefaultGeofenceDwell  = 2 * time.Minute
)

// GeofenceEvent is an arrival (Arrived true) or a departure, dated by the first fix of the run
// that confirmed it.
type GeofenceEvent struct {
	Arrived bool
	At      time.Time
}

// Geofence tracks whether one asset is at one site. Not safe for concurrent use.
type Geofence struct {
	cfg       GeofenceConfig
	inside    bool
	known     bool
	candidate int // +1 pending inside, −1 pending outside, 0 none
	since     time.Time
}

// NewGeofence returns a fence; the state is unknown until the first confirmed run.
func NewGeofence(cfg GeofenceConfig) (*Geofence, error) {
	if !(cfg.Radius > 0) || cfg.Margin < 0 || cfg.Dwell < 0 || math.Abs(cfg.Lat) > 90 || math.Abs(cfg.Lon) > 180 {
		return nil, fmt.Errorf("coldchain: invalid geofence %+v", cfg)
	}
	return &Geofence{cfg: cfg}, nil
}

// Inside reports the confirmed state (false while unknown) and whether it is known.
func (g *Geofence) Inside() (inside, known bool) { return g.inside, g.known }

// Observe feeds the next fix (time order) and returns an event when an arrival or departure
// is confirmed. The first confirmed state is not an event: a shipment that starts at its origin
// has not "arrived" there.
func (g *Geofence) Observe(f Fix) (GeofenceEvent, bool) {
	d := Haversine(g.cfg.Lat, g.cfg.Lon, f.Lat, f.Lon)
	side := 0
	switch {
	case d <= g.cfg.Radius:
		side = 1
	case d > g.cfg.Radius+g.cfg.Margin:
		side = -1
	}
	if side == 0 || (g.known && (side == 1) == g.inside) {
		if side != 0 {
			g.candidate = 0
		}
		return GeofenceEvent{}, false
	}
	if g.candidate != side {
		g.candidate, g.since = side, f.At
	}
	if f.At.Sub(g.since) < g.cfg.Dwell {
		return GeofenceEvent{}, false
	}
	wasKnown := g.known
	g.inside, g.known, g.candidate = side == 1, true, 0
	if !wasKnown {
		return GeofenceEvent{}, false
	}
	return GeofenceEvent{Arrived: g.inside, At: g.since}, true
}

// DoorEventKind names a door monitor output.
type DoorEventKind int

// Door events.
const (
	DoorOpened DoorEventKind = iota
	DoorClosed
	DoorLeftOpen
)

func (k DoorEventKind) String() string {
	return [...]string{"DOOR_OPENED", "DOOR_CLOSED", "DOOR_LEFT_OPEN"}[k]
}

// DoorEvent is one door monitor output; Open is how long the door had been open.
type DoorEvent struct {
	Kind DoorEventKind
	At   time.Time
	Open time.Duration
}

// DoorMonitor turns a door contact's readings into openings and a "left open" warning once an
// opening lasts LeftOpenAfter (Vigil's rule; the spec only defines the door tolerance of
// excursion notifications, which Detector applies). Not safe for concurrent use.
type DoorMonitor struct {
	LeftOpenAfter time.Duration // 0 means DefaultDoorTolerance
	open          bool
	since         time.Time
	warned        bool
}

func (m *DoorMonitor) limit() time.Duration {
	if m.LeftOpenAfter > 0 {
		return m.LeftOpenAfter
	}
	return DefaultDoorTolerance
}

// Observe feeds a door contact reading (open or closed) in time order and appends events.
// Repeated readings of the same state only advance the clock.
func (m *DoorMonitor) Observe(dst []DoorEvent, at time.Time, open bool) []DoorEvent {
	switch {
	case open && !m.open:
		m.open, m.since, m.warned = true, at, false
		return append(dst, DoorEvent{Kind: DoorOpened, At: at})
	case !open && m.open:
		m.open = false
		return append(dst, DoorEvent{Kind: DoorClosed, At: at, Open: at.Sub(m.since)})
	}
	return m.Check(dst, at)
}

// Check appends DoorLeftOpen once per opening when the door has been open for the limit as
// of now (call it from a timer as well, since a stuck contact may stop reporting).
func (m *DoorMonitor) Check(dst []DoorEvent, now time.Time) []DoorEvent {
	if m.open && !m.warned && now.Sub(m.since) >= m.limit() {
		m.warned = true
		return append(dst, DoorEvent{Kind: DoorLeftOpen, At: m.since.Add(m.limit()), Open: now.Sub(m.since)})
	}
	return dst
}
