package clinical

import (
	"maps"
	"slices"
	"time"

	"github.com/vigil-iomt/vigil/internal/news2"
)

// Sources of an observation set.
const (
	SourceDevice = "device"
	SourceManual = "manual"
	// SourceScaleChange: the current set re-scored after the patient's SpO2 scale changed
	// (news2.md §4.3); Supersedes names the set it re-scores.
	SourceScaleChange = "scale_change"
)

const tagComplete = "complete"

// Settings of a set (news2.md §7): on a ward (the patient has an open bed stay) or at home.
const (
	SettingWard      = "WARD"
	SettingCommunity = "COMMUNITY"
)

// SetDoc is a stored observation set with its NEWS2 result (news2.md §7); it is the JSON of the
// API and of the store record.
type SetDoc struct {
	ID                string             `json:"id"`
	Patient           string             `json:"patient"`
	EvaluatedAt       time.Time          `json:"evaluated_at"`
	SetTime           time.Time          `json:"set_time"`
	Source            string             `json:"source"`
	Scale             int                `json:"scale"`
	Complete          bool               `json:"complete"`
	Total             *int               `json:"total"`
	Band              *string            `json:"band"`
	BandMin           string             `json:"band_min"`
	BandMax           string             `json:"band_max"`
	ScoreMin          int                `json:"score_min"`
	ScoreMax          int                `json:"score_max"`
	RedScore          bool               `json:"red_score"`
	Missing           []string           `json:"missing"`
	Scores            map[string]int     `json:"scores"`
	Parts             map[string]PartDoc `json:"parts"`
	NextDue           *time.Time         `json:"next_due"`
	ManualObservation string             `json:"manual_observation,omitempty"`
	// Supersedes is the id of the set a scale-change set re-scores (news2.md §7: results are
	// immutable; a correction is a new result referencing the superseded one).
	Supersedes string `json:"supersedes,omitempty"`
	// MonitorRequired: the band is HIGH and no continuous monitoring device was assigned at
	// the set's time; advisory NEWS2_CONTINUOUS_MONITORING_REQUIRED (news2.md §5.2).
	MonitorRequired bool `json:"monitor_required,omitempty"`
	// Rising: a complete score ≥ 3 after a 72-h median ≤ 2, advisory NEWS2_RISING (rpm.md §6.6).
	Rising bool `json:"rising,omitempty"`
	// Setting is WARD or COMMUNITY (home: decision support only, no NEWS2 alerts).
	Setting string `json:"setting"`
	// EligibilityUnverified: age or pregnancy unknown (news2.md §1.1); scored anyway.
	EligibilityUnverified bool `json:"eligibility_unverified"`
}

// PartDoc is one parameter of a set: its quantised value (a number, or AIR/OXYGEN, or an
// ACVPU letter), score, effective time and source kind.
type PartDoc struct {
	Value  any       `json:"value"`
	Score  int       `json:"score"`
	T      time.Time `json:"t"`
	Source string    `json:"source"`
}

func newSetDoc(patient string, t, setTime time.Time, source string, r *news2.Result, from [news2.NumParams]news2.Contributor, due news2.Due) *SetDoc {
	d := &SetDoc{Patient: patient, EvaluatedAt: t.UTC(), SetTime: setTime.UTC(), Source: source, Scale: int(r.Scale),
		Complete: r.Complete, BandMin: r.BandMin.String(), BandMax: r.BandMax.String(), ScoreMin: r.ScoreMin, ScoreMax: r.ScoreMax,
		RedScore: r.RedScore, Missing: []string{}, Scores: map[string]int{}, Parts: map[string]PartDoc{}}
	if total, ok := r.Total(); ok {
		d.Total = &total
		b := r.BandMin.String()
		d.Band = &b
	}
	for p := news2.Param(0); p < news2.NumParams; p++ {
		part := r.Parts[p]
		if !part.Present {
			d.Missing = append(d.Missing, p.String())
			continue
		}
		d.Scores[p.String()] = part.Score
		var v any = part.Value
		switch p {
		case news2.Temp:
			v = float64(part.Value) / 10
		case news2.O2:
			v = news2.Oxygen(part.Value).String()
		case news2.ACVPU:
			v = news2.Consciousness(part.Value).String()
		}
		d.Parts[p.String()] = PartDoc{Value: v, Score: part.Score, T: from[p].At.UTC(), Source: from[p].Source.String()}
	}
	if !due.At.IsZero() {
		at := due.At.UTC()
		d.NextDue = &at
	}
	return d
}

// differs reports whether d scores differently from o: presence, per-parameter scores, band
// bounds, completeness, scale or whether a continuous monitor is missing.
func (d *SetDoc) differs(o *SetDoc) bool {
	return d.Complete != o.Complete || d.Scale != o.Scale || d.BandMin != o.BandMin || d.BandMax != o.BandMax ||
		d.MonitorRequired != o.MonitorRequired ||
		d.ScoreMin != o.ScoreMin || d.ScoreMax != o.ScoreMax || !slices.Equal(d.Missing, o.Missing) || !maps.Equal(d.Scores, o.Scores)
}

func parseBand(s string) news2.Band {
	for _, b := range []news2.Band{news2.Low, news2.LowMedium, news2.Medium, news2.High} {
		if b.String() == s {
			return b
		}
	}
	return news2.Low
}
