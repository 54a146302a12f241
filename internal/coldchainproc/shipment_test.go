package coldchainproc

import (
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/coldchain"
	"github.com/vigil-iomt/vigil/internal/esign"
)

// TestShipmentLifecycleAndRelease: illegal transitions are refused with 409 "transition";
// release/reject only through a signature; receive quarantines the shipment and its lots;
// a release moves both to RELEASED/released and is bound to the shipment record.
func TestShipmentLifecycleAndRelease(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.gardasil()
	for _, id := range []string{"A", "B"} {
		_, err := e.svc.CreateSite(ctx, e.admin, tenant, Site{ID: id, Name: id, Timezone: "Europe/Berlin"})
		e.must(err)
	}
	_, err := e.svc.CreateShipment(ctx, e.admin, tenant, Shipment{ID: "S1", Lane: Lane{ID: "AB", Origin: "A", Destination: "B"},
		Limits: Limits{LowC: 2, HighC: 8, HysteresisC: 0.3, IntervalS: 600}, Loggers: []Sensor{{Device: "logger"}}, Lots: []string{"L1"}})
	e.must(err)
	e.unit("store", x1Limits)
	e.lot("L1", AtUnit, "store")
	if _, err := e.svc.TransitionShipment(ctx, e.admin, tenant, "S1", TransitionRequest{Action: "receive"}); code(err) != "transition" {
		t.Fatalf("receive a CREATED shipment: %v, want 409 transition", err)
	}
	if _, err := e.svc.TransitionShipment(ctx, e.admin, tenant, "S1", TransitionRequest{Action: "release"}); code(err) != "transition" {
		t.Fatalf("release by transition: %v, want 409 (signature required)", err)
	}
	// A logger due for calibration before the planned arrival is refused at packing (spec 4.5).
	arrival := e.clock.Now().Add(48 * time.Hour)
	sh0, err := e.svc.Shipment(ctx, tenant, "S1")
	e.must(err)
	sh0.Loggers[0].CalibrationDue = arrival.Add(-24 * time.Hour).Format(time.DateOnly)
	sh0.Legs[0].PlannedArrival = &arrival
	if err := calibrationCheck(sh0.Shipment, e.clock.Now()); code(err) != "calibration" {
		t.Fatalf("pack with a logger due before arrival: %v, want 409 calibration", err)
	}
	sh0.Loggers[0].CalibrationDue = arrival.Add(24 * time.Hour).Format(time.DateOnly)
	if err := calibrationCheck(sh0.Shipment, e.clock.Now()); err != nil {
		t.Fatalf("pack with a logger due after arrival: %v", err)
	}
	for _, act := range []string{"pack", "dispatch", "receive"} {
		e.clock.Set(e.clock.Now().Add(time.Hour))
		_, err := e.svc.TransitionShipment(ctx, e.admin, tenant, "S1", TransitionRequest{Action: act, Reason: act})
		e.must(err)
	}
	sh, err := e.svc.Shipment(ctx, tenant, "S1")
	e.must(err)
	if sh.State != coldchain.Quarantined || sh.Legs[0].ActualDeparture == nil || sh.Legs[0].ActualArrival == nil {
		t.Fatalf("after receive: %s, legs %+v; want QUARANTINED with actual times", sh.State, sh.Legs)
	}
	l, err := e.svc.Lot(ctx, tenant, "L1")
	e.must(err)
	if l.Status != LotQuarantined || l.Location.ID != "S1" {
		t.Fatalf("lot %s at %s, want quarantined in S1", l.Status, l.Location.ID)
	}
	qa := e.qaUser("dana.lee", qaPW)
	rv, err := e.svc.Review(ctx, qa, tenant, ReviewShipment, "S1")
	e.must(err)
	if rv.Record.Type != "shipment.disposition" || !rv.CanSign {
		t.Fatalf("review %+v, want a signable shipment disposition", rv)
	}
	res, err := e.svc.Sign(ctx, qa, tenant, ReviewShipment, "S1", SignRequest{Meaning: string(esign.ApprovedForRelease), UserID: "dana.lee",
		Password: qaPW, AsOf: rv.AsOf.Format(time.RFC3339Nano), ReportSHA256: rv.ReportSHA256})
	e.must(err)
	if res.State != string(coldchain.Released) || res.Signature.State != "valid" || res.Signature.RecordType != "shipment.disposition" {
		t.Fatalf("sign result %+v", res)
	}
	l, err = e.svc.Lot(ctx, tenant, "L1")
	e.must(err)
	if l.Status != LotReleased {
		t.Errorf("lot after shipment release: %s, want released", l.Status)
	}
	rv, err = e.svc.Review(ctx, qa, tenant, ReviewShipment, "S1")
	e.must(err)
	if rv.SignatureState != SigValid || rv.CanSign {
		t.Errorf("after release: %s, can sign %v; want valid, nothing to sign", rv.SignatureState, rv.CanSign)
	}
}
