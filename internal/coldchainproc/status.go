package coldchainproc

import (
	"math"
	"time"

	"github.com/vigil-iomt/vigil/internal/coldchain"
)

// Live states of a unit or shipment.
const (
	StateInRange   = "in_range"
	StateExcursion = "excursion"
	StateNoData    = "no_data"
)

// Status is the live status of a unit or shipment, kept by the processor.
type Status struct {
	State          string          `json:"state"`
	TemperatureC   *float64        `json:"temperature_c"`
	At             *time.Time      `json:"at"`
	DoorOpen       bool            `json:"door_open"`
	DoorOpenSince  *time.Time      `json:"door_open_since"`
	Excursion      *ExcursionBrief `json:"excursion"`
	MKT24hC        *float64        `json:"mkt_24h_c"`
	MKT24hCoverage float64         `json:"mkt_24h_coverage"`
	Forecast       *Forecast       `json:"forecast"`
	Lots           int             `json:"lots"`
	Risk           string          `json:"risk"`
	Position       *Fix            `json:"position,omitempty"`
}

// ExcursionBrief is the open excursion in a status.
type ExcursionBrief struct {
	ID            string    `json:"id"`
	Direction     string    `json:"direction"`
	Start         time.Time `json:"start"`
	PeakC         float64   `json:"peak_c"`
	DegreeMinutes float64   `json:"degree_minutes"`
	Notified      bool      `json:"notified"`
}

// Forecast is a time-to-excursion prediction (spec 6); a prediction only.
type Forecast struct {
	MinutesToExcursion float64   `json:"minutes_to_excursion"`
	LimitC             float64   `json:"limit_c"`
	At                 time.Time `json:"at"`
	Method             string    `json:"method"`
	R2                 float64   `json:"r2"`
	Fallback           string    `json:"fallback"`
}

// Fix is a GPS position.
type Fix struct {
	At  time.Time `json:"at"`
	Lat float64   `json:"lat"`
	Lon float64   `json:"lon"`
}

// hourMKT is the sample-and-hold Boltzmann sum of one clock hour, in log space
// (cold-chain spec 1.2 rule 3): Σ w·exp(x) = S·exp(M), x = −(ΔH/R)/T.
type hourMKT struct {
	Hour int64   `json:"h"` // Unix hour
	W    float64 `json:"w"` // seconds
	M    float64 `json:"m"`
	S    float64 `json:"s"`
}

const mktRatio = coldchain.DefaultActivationEnergy / coldchain.GasConstant

func (h *hourMKT) add(c, w float64) {
	x := -mktRatio / (c + coldchain.KelvinOffset)
	switch {
	case h.W == 0:
		h.M, h.S = x, w
	case x > h.M:
		h.S = h.S*math.Exp(h.M-x) + w
		h.M = x
	default:
		h.S += w * math.Exp(x-h.M)
	}
	h.W += w
}

// addExposure spreads a held reading over the clock hours it covers and keeps the last 25.
func addExposure(hs []hourMKT, from, to time.Time, c float64) []hourMKT {
	for from.Before(to) {
		h := from.Unix() / 3600
		end := time.Unix((h+1)*3600, 0)
		if end.After(to) {
			end = to
		}
		i := len(hs) - 1
		if i < 0 || hs[i].Hour != h {
			if i >= 0 && hs[i].Hour > h { // an older hour: find it or drop the exposure
				for j := range hs {
					if hs[j].Hour == h {
						hs[j].add(c, end.Sub(from).Seconds())
					}
				}
				from = end
				continue
			}
			hs = append(hs, hourMKT{Hour: h})
			i = len(hs) - 1
		}
		hs[i].add(c, end.Sub(from).Seconds())
		from = end
	}
	if len(hs) > 25 {
		hs = append(hs[:0], hs[len(hs)-25:]...)
	}
	return hs
}

// mkt24 returns the MKT of the hours within 24 h before now's hour end, and its coverage.
func mkt24(hs []hourMKT, now time.Time) (float64, float64, bool) {
	cur := now.Unix() / 3600
	var w, m, s float64
	m = math.Inf(-1)
	for _, h := range hs {
		if h.Hour <= cur-24 || h.W == 0 {
			continue
		}
		if h.M > m {
			s = s*math.Exp(m-h.M) + h.S
			m = h.M
		} else {
			s += h.S * math.Exp(h.M-m)
		}
		w += h.W
	}
	if w == 0 {
		return 0, 0, false
	}
	l := m + math.Log(s) - math.Log(w)
	return -mktRatio/l - coldchain.KelvinOffset, min(1, w/86400), true
}
