package coldchainproc

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vigil-iomt/vigil/internal/coldchain"
	"github.com/vigil-iomt/vigil/internal/store"
)

// MKTEvaluation is the USP <1079.2> evaluation of one excursion (spec 1.5): the MKT of the
// window ending at the excursion's end and of the one starting at its start; the higher is
// reported. Window is 24 h for controlled cold (2–8 °C) and 30 days for controlled room
// temperature (15–25/30 °C) sources; other classes get no evaluation (MKT is information only).
type MKTEvaluation struct {
	Class         string  `json:"class"` // "CCT" or "CRT"
	WindowS       int64   `json:"window_s"`
	LimitC        float64 `json:"limit_c"` // the class's MKT limit: 8 (CCT) or 25 (CRT)
	EndAnchored   MKT     `json:"end_anchored"`
	StartAnchored MKT     `json:"start_anchored"`
	Celsius       float64 `json:"celsius"`
	Met           bool    `json:"met"` // reported MKT ≤ the class limit
	Provisional   bool    `json:"provisional"`
}

// ExcursionDetail is an excursion with its MKT evaluation.
type ExcursionDetail struct {
	Excursion
	MKT *MKTEvaluation `json:"mkt"`
}

// classOf picks the USP <1079.2> class of a source's limits.
func classOf(l Limits) (string, time.Duration, float64) {
	switch {
	case l.LowC >= 0 && l.HighC <= 8:
		return "CCT", 24 * time.Hour, 8
	case l.LowC >= 15 && l.HighC <= 30:
		return "CRT", 30 * 24 * time.Hour, 25
	}
	return "", 0, 0
}

// Excursion returns one excursion with its acknowledgement and MKT evaluation.
func (s *Service) Excursion(ctx context.Context, tenant, id string) (ExcursionDetail, error) {
	rec, err := s.cfg.Store.ColdRecord(ctx, tenant, store.ColdExcursion, id)
	if err != nil {
		return ExcursionDetail{}, err
	}
	var e Excursion
	if err := json.Unmarshal(rec.JSON, &e); err != nil {
		return ExcursionDetail{}, fmt.Errorf("decode excursion %s: %w", id, err)
	}
	if e.Ack, err = s.ack(ctx, tenant, id); err != nil {
		return ExcursionDetail{}, err
	}
	d := ExcursionDetail{Excursion: e}
	now := s.now().UTC()
	end := now
	if e.End != nil {
		end = *e.End
	}
	var limits Limits
	switch e.SourceKind {
	case AtUnit:
		u, _, err := load[Unit](ctx, s.cfg.Store, tenant, store.ColdUnit, e.Source)
		if err != nil {
			return d, err
		}
		limits = u.Limits
	case AtShipment:
		sh, _, err := load[Shipment](ctx, s.cfg.Store, tenant, store.ColdShipment, e.Source)
		if err != nil {
			return d, err
		}
		limits = sh.Limits
	}
	class, w, limit := classOf(limits)
	if class == "" {
		return d, nil
	}
	seg, err := s.sourceSeries(ctx, tenant, e.SourceKind, e.Source, end.Add(-w), minTime(e.Start.Add(w), now))
	if err != nil {
		return d, err
	}
	ev, err := coldchain.EvaluateExcursionMKT(seg.samples, e.Start, end, w, now, coldchain.WindowOptions{Timing: limits.timing()})
	if err != nil {
		return d, fmt.Errorf("excursion %s: %w", id, err)
	}
	conv := func(r coldchain.WindowResult) MKT {
		m := MKT{From: r.From, To: r.To, Coverage: r.Coverage, CoveredS: r.Covered.Seconds(), Status: r.Status.String(),
			ActivationEnergyJMol: r.ActivationEnergy}
		if r.Status != coldchain.StatusNoData {
			c := r.Celsius
			m.Celsius = &c
		}
		return m
	}
	d.MKT = &MKTEvaluation{Class: class, WindowS: int64(w / time.Second), LimitC: limit, EndAnchored: conv(ev.EndAnchored),
		StartAnchored: conv(ev.StartAnchored), Celsius: ev.Celsius, Met: ev.Celsius <= limit, Provisional: ev.Provisional}
	return d, nil
}
