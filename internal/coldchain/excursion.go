package coldchain

import (
	"fmt"
	"time"
)

// Direction is the side of the labelled range an excursion leaves by.
type Direction int

// Directions.
const (
	High Direction = iota // above the upper limit U
	Low                   // below the lower limit L
)

func (d Direction) String() string {
	if d == Low {
		return "low"
	}
	return "high"
}

// Defaults of spec 3.2–3.4 (Vigil's decisions).
const (
	DefaultHysteresis      = 0.3 // °C, 2–8 °C storage
	DefaultFridgeDelay     = 15 * time.Minute
	DefaultRoomDelay       = 30 * time.Minute
	DefaultULTDelay        = 0
	DefaultDoorTolerance   = 10 * time.Minute
	DefaultStorageInterval = 5 * time.Minute  // fixed storage and ULT sensors (spec 4.1)
	DefaultLoggerInterval  = 10 * time.Minute // shipment loggers
)

// DetectorConfig configures excursion detection for one sensor and one direction (spec 3.2).
type DetectorConfig struct {
	Direction Direction
	// Limit is U (High) or L (Low); the limit itself is in range.
	Limit float64
	// Hysteresis h ≥ 0: an open excursion ends at the first reading ≤ U − h (High) or ≥ L + h (Low).
	Hysteresis float64
	Timing
	// AlarmDelay is D of the excursion-delay rule (spec 3.4); 0 notifies on the first reading.
	AlarmDelay time.Duration
	// DoorTolerance holds notification of an excursion that starts while the door is open
	// (spec 3.4); 0 disables the hold. It never changes what is recorded.
	DoorTolerance time.Duration
}

func (c DetectorConfig) validate() error {
	if err := c.Timing.validate(); err != nil {
		return err
	}
	if c.Hysteresis < 0 || c.AlarmDelay < 0 || c.DoorTolerance < 0 {
		return fmt.Errorf("coldchain: detector hysteresis %v, alarm delay %v and door tolerance %v must not be negative",
			c.Hysteresis, c.AlarmDelay, c.DoorTolerance)
	}
	if err := validTemp(c.Limit); err != nil {
		return fmt.Errorf("detector limit: %w", err)
	}
	return nil
}

// Excursion is one maximal out-of-range episode of one sensor in one direction, with the
// metrics of spec 3.3.
type Excursion struct {
	Direction Direction
	Limit     float64
	Start     time.Time // first out-of-range reading
	End       time.Time // first reading meeting the exit condition; zero while Ongoing
	// Duration is End − Start, or (last reading + nominal) − Start while Ongoing.
	Duration time.Duration
	Ongoing  bool
	// Peak is the maximum (High) or minimum (Low) reading, first reached at PeakAt.
	Peak   float64
	PeakAt time.Time
	// OutOfRange is the represented time of readings beyond Limit (not those inside the
	// hysteresis band).
	OutOfRange time.Duration
	// DegreeMinutes is Σ |T − Limit| × represented minutes over readings beyond Limit.
	DegreeMinutes float64
	// Covered is the represented time of all readings inside the excursion; Coverage is
	// Covered / Duration.
	Covered  time.Duration
	Coverage float64
	// Gaps inside the excursion; when any, DegreeMinutes and OutOfRange are lower bounds.
	Gaps       []Interval
	LowerBound bool
	// DoorOpen is true when a door signal was open at any time in the excursion.
	DoorOpen bool
	// Notified is when the notification became due (zero if it never did).
	Notified time.Time
}

// EventKind names what a detector reports.
type EventKind int

// Detector events.
const (
	ExcursionStarted EventKind = iota
	ExcursionNotify            // the excursion-delay rule (and door hold) say: notify now
	ExcursionEnded
	DataGap // time not represented by any reading (spec 1.4, 3.7)
)

func (k EventKind) String() string {
	switch k {
	case ExcursionStarted:
		return "EXCURSION_STARTED"
	case ExcursionNotify:
		return "EXCURSION_NOTIFY"
	case ExcursionEnded:
		return "EXCURSION_ENDED"
	case DataGap:
		return "DATA_GAP"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one detector output. Excursion is a snapshot (Gaps copied) for excursion events;
// Gap is set for DataGap.
type Event struct {
	Kind      EventKind
	At        time.Time
	Excursion Excursion
	Gap       Interval
}

// Detector finds excursions in one sensor's readings as they arrive, in device-time order
// (spec 3.2, 3.3, 3.4). It keeps O(1) state besides the open excursion's gaps. Not safe for
// concurrent use.
type Detector struct {
	cfg       DetectorConfig
	prev      Sample
	havePrev  bool
	open      bool
	ex        Excursion
	doorOpen  bool
	heldUntil time.Time // notification hold from the door tolerance
}

// NewDetector returns a detector for cfg.
func NewDetector(cfg DetectorConfig) (*Detector, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Detector{cfg: cfg}, nil
}

// beyond reports whether c is out of range (strictly past the limit).
func (d *Detector) beyond(c float64) bool {
	if d.cfg.Direction == Low {
		return c < d.cfg.Limit
	}
	return c > d.cfg.Limit
}

// exits reports whether c meets the exit condition (limit minus hysteresis, inclusive).
func (d *Detector) exits(c float64) bool {
	if d.cfg.Direction == Low {
		return c >= d.cfg.Limit+d.cfg.Hysteresis
	}
	return c <= d.cfg.Limit-d.cfg.Hysteresis
}

func (d *Detector) excess(c float64) float64 {
	if d.cfg.Direction == Low {
		return max(0, d.cfg.Limit-c)
	}
	return max(0, c-d.cfg.Limit)
}

// Door records a door signal at time at (open or closed). Call it in time order with Observe.
func (d *Detector) Door(at time.Time, open bool) {
	d.doorOpen = open
	if open && d.open {
		d.ex.DoorOpen = true
	}
}

// represent returns the represented time of the previous reading given the next timestamp,
// and the gap after it (zero when none).
func represent(prev, next time.Time, tm Timing) (time.Duration, Interval) {
	step := next.Sub(prev)
	if step <= tm.maxGap() {
		return step, Interval{}
	}
	return tm.Nominal, Interval{prev.Add(tm.Nominal), next}
}

// Observe feeds the next reading and appends the resulting events to dst. Readings must come
// in strictly increasing device time; an exact repeat of the previous reading is ignored.
func (d *Detector) Observe(dst []Event, s Sample) ([]Event, error) {
	if d.havePrev {
		if s.At.Equal(d.prev.At) && s.Celsius == d.prev.Celsius && s.Invalid == d.prev.Invalid {
			return dst, nil
		}
		if !s.At.After(d.prev.At) {
			return dst, fmt.Errorf("coldchain: reading at %v is not after the previous one at %v", s.At, d.prev.At)
		}
		dst = d.settle(dst, s.At)
	}
	if !s.Invalid {
		if err := validTemp(s.Celsius); err != nil {
			return dst, fmt.Errorf("reading at %v: %w", s.At, err)
		}
	}
	d.prev, d.havePrev = s, true
	if s.Invalid {
		return dst, nil
	}
	switch {
	case !d.open && d.beyond(s.Celsius):
		d.open = true
		d.ex = Excursion{Direction: d.cfg.Direction, Limit: d.cfg.Limit, Start: s.At, Peak: s.Celsius,
			PeakAt: s.At, DoorOpen: d.doorOpen}
		d.heldUntil = time.Time{}
		if d.doorOpen && d.cfg.DoorTolerance > 0 {
			d.heldUntil = s.At.Add(d.cfg.DoorTolerance)
		}
		dst = append(dst, Event{Kind: ExcursionStarted, At: s.At, Excursion: d.snapshot(s.At)})
	case d.open && d.exits(s.Celsius):
		d.ex.End = s.At
		d.ex.Duration = s.At.Sub(d.ex.Start)
		d.ex.Coverage = float64(d.ex.Covered) / float64(d.ex.Duration)
		d.open = false
		dst = append(dst, Event{Kind: ExcursionEnded, At: s.At, Excursion: d.snapshot(s.At)})
		return dst, nil
	case d.open:
		if (d.cfg.Direction == High && s.Celsius > d.ex.Peak) || (d.cfg.Direction == Low && s.Celsius < d.ex.Peak) {
			d.ex.Peak, d.ex.PeakAt = s.Celsius, s.At
		}
	default:
		return dst, nil
	}
	if d.ex.Notified.IsZero() && s.At.Sub(d.ex.Start)+d.cfg.Nominal >= d.cfg.AlarmDelay && !s.At.Before(d.heldUntil) {
		d.ex.Notified = s.At
		dst = append(dst, Event{Kind: ExcursionNotify, At: s.At, Excursion: d.snapshot(s.At)})
	}
	return dst, nil
}

// settle charges the previous reading's represented interval, which ends at next.
func (d *Detector) settle(dst []Event, next time.Time) []Event {
	p := d.prev
	if p.Invalid {
		gap := Interval{p.At, next}
		if d.open {
			d.ex.Gaps = append(d.ex.Gaps, gap)
			d.ex.LowerBound = true
		}
		return append(dst, Event{Kind: DataGap, At: next, Gap: gap})
	}
	rep, gap := represent(p.At, next, d.cfg.Timing)
	if d.open {
		d.ex.Covered += rep
		if d.beyond(p.Celsius) {
			d.ex.OutOfRange += rep
			d.ex.DegreeMinutes += d.excess(p.Celsius) * rep.Minutes()
		}
	}
	if gap.To.After(gap.From) {
		if d.open {
			d.ex.Gaps = append(d.ex.Gaps, gap)
			d.ex.LowerBound = true
		}
		dst = append(dst, Event{Kind: DataGap, At: next, Gap: gap})
	}
	return dst
}

// snapshot returns a copy of the open or just-closed excursion safe to hand out.
func (d *Detector) snapshot(last time.Time) Excursion {
	e := d.ex
	e.Gaps = append([]Interval(nil), d.ex.Gaps...)
	if d.open {
		e.Ongoing = true
		e.End = time.Time{}
		e.Duration = last.Add(d.cfg.Nominal).Sub(e.Start)
	}
	return e
}

// Current returns the open excursion, if any, with the newest reading provisionally
// representing one nominal interval (spec 3.2: ongoing, duration = t_last + Δ − start).
func (d *Detector) Current() (Excursion, bool) {
	if !d.open {
		return Excursion{}, false
	}
	e := d.snapshot(d.prev.At)
	if !d.prev.Invalid {
		e.Covered += d.cfg.Nominal
		if d.beyond(d.prev.Celsius) {
			e.OutOfRange += d.cfg.Nominal
			e.DegreeMinutes += d.excess(d.prev.Celsius) * d.cfg.Nominal.Minutes()
		}
	}
	e.Coverage = float64(e.Covered) / float64(e.Duration)
	return e, true
}
