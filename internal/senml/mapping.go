package senml

import (
	"fmt"
	"strings"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
)

// Device kinds that change how SenML names map onto metric keys (senml.md §4). Any other
// kind is a patient device.
const (
	KindEnvironment = "environment" // temperatures are temp_ambient
	KindOximeter    = "oximeter"    // pr/pulse is pr_spo2
	KindBPMonitor   = "bp_monitor"  // pr/pulse is pr_nibp
)

// Device is the authenticated device a pack came from.
type Device struct {
	Tenant  string
	ID      string
	Kind    string // KindEnvironment, KindOximeter, KindBPMonitor, or another (patient) kind
	Subject string // patient or asset the device is bound to now
	// BaseNames are the device's registered SenML base names (a gateway's include its
	// children's). The device ID is always one, whether listed or not.
	BaseNames []string
}

// metricNames maps lower-case SenML metric names to keys; "pr", "temp" and the
// kind-dependent names are handled in metricKey.
var metricNames = func() map[string]string {
	m := map[string]string{
		"hr": "hr", "heart-rate": "hr",
		"spo2": "spo2",
		"rr":   "rr", "resp-rate": "rr",
		"sys": "nibp_sys", "dia": "nibp_dia", "map": "nibp_mean",
		"glucose": "glucose", "weight": "weight", "pi": "pi",
		"rh": "rh", "humidity": "rh",
		"sensor-off": "sensor_off", "signal-poor": "signal_poor",
	}
	for _, k := range reading.MetricKeys() {
		m[k] = k
		if strings.HasPrefix(k, "ecg_") {
			m[strings.ReplaceAll(k, "_", "-")] = k // ecg-ii → ecg_ii
		}
	}
	return m
}()

// metricKey maps a SenML metric name (case-insensitive) to a metric key for a device of
// the given kind.
func metricKey(name, kind string) (string, bool) {
	lower := strings.ToLower(name)
	switch lower {
	case "pr", "pulse":
		switch kind {
		case KindOximeter:
			return "pr_spo2", true
		case KindBPMonitor:
			return "pr_nibp", true
		}
		return "hr", true
	case "temp", "temperature":
		return tempKey(kind), true
	}
	k, ok := metricNames[lower]
	return k, ok
}

func tempKey(kind string) string {
	if kind == KindEnvironment {
		return "temp_ambient"
	}
	return "temp_body"
}

// unitKey is the metric of a record named exactly as a base name: "the sensor itself"
// (senml.md §4 rule 1); "" when the unit says nothing (unmapped).
func unitKey(unit, kind string) string {
	switch unit {
	case "%RH":
		return "rh"
	case "Cel", "K":
		return tempKey(kind)
	case "lat":
		return "lat"
	case "lon":
		return "lon"
	case "%EL":
		return "battery"
	case "EL":
		return "battery_time"
	}
	return ""
}

// resolveMetric finds the metric key of a resolved name for dev: the key, or "" for an
// unmapped raw series, or an error when the name is not the device's.
func resolveMetric(i int, rec *Record, dev *Device) (string, *Error) {
	name := rec.Name
	if k, ok := metricKey(name, dev.Kind); ok {
		return k, nil // a bare metric name: the device itself
	}
	best, rest := -1, ""
	consider := func(base string) {
		if base == "" || !strings.HasPrefix(name, base) || len(base) <= best {
			return
		}
		r := name[len(base):]
		switch {
		case r == "":
		case strings.HasSuffix(base, ":") || strings.HasSuffix(base, "/"):
		case r[0] == ':' || r[0] == '/':
			r = r[1:]
		default:
			return
		}
		best, rest = len(base), r
	}
	consider(dev.ID)
	for _, b := range dev.BaseNames {
		consider(b)
	}
	switch {
	case best < 0:
		return "", recErr(i, "n", fmt.Sprintf("name '%s' does not belong to device %s", name, dev.ID))
	case rest == "":
		if rec.Kind != Number {
			return "", nil
		}
		return unitKey(rec.Unit, dev.Kind), nil
	}
	k, _ := metricKey(rest, dev.Kind)
	return k, nil
}

// ToReadings maps resolved records of one pack from dev onto readings (senml.md §4, §5),
// received at received. Known metrics need a unit, which is converted to the metric's
// canonical unit; unknown names become Unmapped raw series under the full resolved name.
// The pack is rejected whole: the first failing record yields an *Error naming it.
func ToReadings(recs []Record, dev Device, received time.Time) ([]reading.Reading, error) {
	out := make([]reading.Reading, len(recs))
	received = received.UTC()
	for i := range recs {
		rec := &recs[i]
		key, err := resolveMetric(i, rec, &dev)
		if err != nil {
			return nil, err
		}
		r := &out[i]
		r.Tenant, r.Device, r.Subject = dev.Tenant, dev.ID, dev.Subject
		r.Measured, r.Received = rec.Time, received
		if rec.TimeRelative {
			r.Flags |= reading.TimeRelative
		}
		m, known := reading.LookupMetric(key)
		if !known {
			r.Metric = rec.Name
			r.Flags |= reading.Unmapped
			r.Sum, r.HasSum = rec.Sum, rec.HasSum
			switch rec.Kind {
			case Number, NoValue:
				r.Kind, r.Value, r.Unit = reading.Number, rec.Value, rec.Unit
			case String:
				r.Kind, r.Text = reading.String, rec.StringValue
			case Bool:
				r.Kind = reading.Bool
				if rec.BoolValue {
					r.Value = 1
				}
			case Data:
				r.Kind, r.Text = reading.Data, string(rec.DataValue)
			}
		} else if m.Flag {
			if rec.Kind != Bool {
				return nil, recErr(i, rec.Kind.String(), fmt.Sprintf("metric '%s' needs a boolean value (vb)", key))
			}
			r.Metric, r.Kind, r.Unit = key, reading.Bool, m.Unit
			if rec.BoolValue {
				r.Value = 1
			}
		} else {
			if rec.Kind != Number {
				return nil, recErr(i, rec.Kind.String(), fmt.Sprintf("metric '%s' needs a numeric value (v)", key))
			}
			v, uerr := reading.FromSenML(m, rec.Unit, rec.Value)
			if uerr != nil {
				return nil, recErr(i, "u", uerr.Error())
			}
			r.Metric, r.Kind, r.Value, r.Unit = key, reading.Number, v, m.Unit
			if rec.HasSum {
				// A sum converts by the same factor; an offset (K → Cel) makes it meaningless.
				if c, _ := reading.SenMLConversion(m, rec.Unit); c.Linear() {
					r.Sum, r.HasSum = c.Apply(rec.Sum), true
				}
			}
			reading.FlagImplausible(r)
		}
		r.ID = reading.NewID(r.Tenant, r.Device, r.Metric, r.Measured)
	}
	return out, nil
}
