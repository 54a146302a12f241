package alarm

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// TechSnapshot is the technical evaluator's state: every signal's last reading, interval and
// open NO_DATA, every device's status timers, and every device session. The alarm processor
// saves it with its checkpoint, so that a device that fell silent (or lost its session) shortly
// before a restart still raises NO_DATA (DEVICE_OFFLINE) after it: the log replayed from the
// checkpoint holds none of its readings, so a fresh evaluator would never learn of it.
type TechSnapshot struct {
	Signals []TechSignal `json:"signals,omitempty"`
	Devices []TechDevice `json:"devices,omitempty"`
	Links   []TechLink   `json:"links,omitempty"`
}

// TechSignal is one signal's NO_DATA state.
type TechSignal struct {
	Tenant      string        `json:"t"`
	Device      string        `json:"d"`
	Subject     string        `json:"s,omitempty"`
	Unit        string        `json:"u,omitempty"`
	Metric      string        `json:"m"`
	Last        time.Time     `json:"last"`
	Expected    time.Duration `json:"every"`
	Configured  bool          `json:"cfg,omitempty"`
	EventDriven bool          `json:"event,omitempty"`
	Open        bool          `json:"open,omitempty"`
}

// TechDevice is one device's status timers (battery, sensor off, clock skew, signal quality).
type TechDevice struct {
	Key        string    `json:"k"` // tenant/device
	BattOpen   bool      `json:"bo,omitempty"`
	BattCrit   bool      `json:"bc,omitempty"`
	OffSince   time.Time `json:"off,omitzero"`
	OffOpen    bool      `json:"oo,omitempty"`
	SkewRun    int       `json:"sr,omitempty"`
	OkRun      int       `json:"or,omitempty"`
	SkewOpen   bool      `json:"so,omitempty"`
	PoorSince  time.Time `json:"poor,omitzero"`
	GoodSince  time.Time `json:"good,omitzero"`
	PoorOpen   bool      `json:"po,omitempty"`
	PoorMedium bool      `json:"pm,omitempty"`
}

// TechLink is one device session's DEVICE_OFFLINE state.
type TechLink struct {
	Tenant  string    `json:"t"`
	Device  string    `json:"d"`
	Subject string    `json:"s,omitempty"`
	Unit    string    `json:"u,omitempty"`
	Home    bool      `json:"home,omitempty"`
	LostAt  time.Time `json:"lost,omitzero"`
	Open    bool      `json:"open,omitempty"`
}

// Snapshot returns the evaluator's state, in key order (equal states give equal snapshots).
func (x *TechEvaluator) Snapshot() TechSnapshot {
	var ts TechSnapshot
	for _, s := range x.signals {
		ts.Signals = append(ts.Signals, TechSignal{Tenant: s.tenant, Device: s.device, Subject: s.subject, Unit: s.unit,
			Metric: s.metric, Last: s.last, Expected: s.expected, Configured: s.configured, EventDriven: s.eventDriven, Open: s.open})
	}
	slices.SortFunc(ts.Signals, func(a, b TechSignal) int {
		return cmp.Or(strings.Compare(a.Tenant, b.Tenant), strings.Compare(a.Device, b.Device), strings.Compare(a.Metric, b.Metric))
	})
	for k, d := range x.devices {
		ts.Devices = append(ts.Devices, TechDevice{Key: k, BattOpen: d.battOpen, BattCrit: d.battCrit, OffSince: d.offSince,
			OffOpen: d.offOpen, SkewRun: d.skewRun, OkRun: d.okRun, SkewOpen: d.skewOpen, PoorSince: d.poorSince,
			GoodSince: d.goodSince, PoorOpen: d.poorOpen, PoorMedium: d.poorMedium})
	}
	slices.SortFunc(ts.Devices, func(a, b TechDevice) int { return strings.Compare(a.Key, b.Key) })
	for _, l := range x.links {
		ts.Links = append(ts.Links, TechLink{Tenant: l.tenant, Device: l.device, Subject: l.subject, Unit: l.unit,
			Home: l.home, LostAt: l.lostAt, Open: l.open})
	}
	slices.SortFunc(ts.Links, func(a, b TechLink) int {
		return cmp.Or(strings.Compare(a.Tenant, b.Tenant), strings.Compare(a.Device, b.Device))
	})
	return ts
}

// Restore replaces the evaluator's state with ts (Intervals is kept).
func (x *TechEvaluator) Restore(ts TechSnapshot) {
	x.signals, x.devices = make(map[string]*signal, len(ts.Signals)), make(map[string]*devState, len(ts.Devices))
	x.links, x.lost = make(map[string]*link, len(ts.Links)), make(map[string]*link)
	for _, s := range ts.Signals {
		x.signals[s.Tenant+"/"+s.Device+"/"+s.Metric] = &signal{tenant: s.Tenant, device: s.Device, subject: s.Subject,
			unit: s.Unit, metric: s.Metric, last: s.Last, expected: s.Expected, configured: s.Configured,
			eventDriven: s.EventDriven, open: s.Open}
	}
	for _, d := range ts.Devices {
		x.devices[d.Key] = &devState{battOpen: d.BattOpen, battCrit: d.BattCrit, offSince: d.OffSince, offOpen: d.OffOpen,
			skewRun: d.SkewRun, okRun: d.OkRun, skewOpen: d.SkewOpen, poorSince: d.PoorSince, goodSince: d.GoodSince,
			poorOpen: d.PoorOpen, poorMedium: d.PoorMedium}
	}
	for _, l := range ts.Links {
		k := l.Tenant + "/" + l.Device
		x.links[k] = &link{tenant: l.Tenant, device: l.Device, subject: l.Subject, unit: l.Unit, home: l.Home, lostAt: l.LostAt, open: l.Open}
		if !l.LostAt.IsZero() && !l.Open {
			x.lost[k] = x.links[k]
		}
	}
}
