package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-iomt/vigil/internal/alarmproc"
	"github.com/vigil-iomt/vigil/internal/auth"
	"github.com/vigil-iomt/vigil/internal/coldchain"
	cc "github.com/vigil-iomt/vigil/internal/coldchainproc"
	"github.com/vigil-iomt/vigil/internal/esign"
	"github.com/vigil-iomt/vigil/internal/httpapi"
	"github.com/vigil-iomt/vigil/internal/store"
	"github.com/vigil-iomt/vigil/internal/stream"
)

// newColdChain builds the cold-chain service and processor on st, with the e-signature key
// from the data directory (created on first start; kept outside the database, part11.md 6.4).
func newColdChain(ctx context.Context, cfg Config, st store.Store, lg *stream.Log, alarms *alarmproc.Service, trail cc.Recorder,
	authOpt auth.Options, reg prometheus.Registerer, log *slog.Logger) (*cc.Service, error) {
	cs, ok := st.(cc.Store)
	if !ok {
		return nil, fmt.Errorf("cold chain: store %T does not implement store.ColdChainStore", st)
	}
	key, err := signingKey(filepath.Join(cfg.DataDir, "esign.key"))
	if err != nil {
		return nil, err
	}
	kr, err := esign.NewKeyring(key)
	if err != nil {
		return nil, err
	}
	c := cc.Config{Store: cs, Audit: trail, Keyring: kr, Logger: log.With("component", "coldchain"), Registerer: reg,
		MaxFailures: authOpt.MaxFailures, LockoutDuration: authOpt.LockoutDuration}
	if lg != nil {
		c.Log = lg
	}
	if alarms != nil {
		c.Alarms = alarms
	}
	return cc.New(ctx, c)
}

// signingKey reads the server's e-signature key, creating a random 32-byte one (mode 0600) if
// there is none. Its id is derived from the secret, so a replaced key is told apart.
func signingKey(path string) (esign.Key, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		b = make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return esign.Key{}, err
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return esign.Key{}, fmt.Errorf("e-signature key %s: %w", path, err)
		}
	} else if err != nil {
		return esign.Key{}, fmt.Errorf("e-signature key %s: %w", path, err)
	}
	sum := sha256.Sum256(b)
	return esign.Key{ID: "k-" + hex.EncodeToString(sum[:4]), Secret: b}, nil
}

// coldChainAPI avoids handing the API a typed nil.
func coldChainAPI(s *cc.Service) httpapi.ColdChain {
	if s == nil {
		return nil
	}
	return s
}

// seedColdChain creates the demo tenant's cold chain: three sites, the six simulated storage
// units, five products, lots in every unit and in both trucks, the two trucks as shipments in
// transit, and one delivered shipment waiting for QA release. It is idempotent.
func seedColdChain(ctx context.Context, st store.Store, trail cc.Recorder, stdout io.Writer) error {
	cs, ok := st.(cc.Store)
	if !ok {
		return nil
	}
	svc, err := cc.New(ctx, cc.Config{Store: cs, Audit: trail})
	if err != nil {
		return err
	}
	a := cc.Actor{UserID: "system:demo"}
	t := demoTenant
	skip := func(err error) error {
		if errors.Is(err, store.ErrConflict) {
			return nil
		}
		return err
	}
	const min = 60
	fridge := cc.Limits{LowC: 2, HighC: 8, HysteresisC: 0.3, AlarmDelayS: 15 * min, DoorToleranceS: 10 * min, IntervalS: 60}
	for _, s := range []cc.Site{
		{ID: "site-hospital", Name: "Demo Hospital pharmacy", Timezone: "Europe/Amsterdam", Lat: 52.0907, Lon: 5.1214, AmbientC: 22},
		{ID: "site-depot-a", Name: "Depot Amsterdam", Timezone: "Europe/Amsterdam", Lat: 52.3676, Lon: 4.9041, GeofenceRadiusM: 1000, AmbientC: 20},
		{ID: "site-depot-b", Name: "Depot Breda", Timezone: "Europe/Amsterdam", Lat: 51.5719, Lon: 4.7683, GeofenceRadiusM: 1000, AmbientC: 20},
	} {
		if _, err := svc.CreateSite(ctx, a, t, s); skip(err) != nil {
			return fmt.Errorf("demo site %s: %w", s.ID, err)
		}
	}
	unit := func(id, name, kind, class, dev string, l cc.Limits) cc.Unit {
		return cc.Unit{ID: id, Site: "site-hospital", Name: name, Kind: kind, StorageClass: class, Limits: l,
			Sensors: []cc.Sensor{{Device: dev, Metric: "temp_ambient", CalibrationDue: "2027-06-30"}}, DoorDevice: dev}
	}
	for _, u := range []cc.Unit{
		unit("unit-pharmacy-fridge", "Pharmacy fridge", cc.KindFridge, "refrigerator", "fridge-pharmacy-logger", fridge),
		unit("unit-ward-2-fridge", "Ward 2 fridge", cc.KindFridge, "refrigerator", "fridge-ward-2-logger", fridge),
		unit("unit-vaccine-fridge", "Vaccine fridge", cc.KindFridge, "refrigerator", "fridge-vaccines-logger", fridge),
		unit("unit-freezer-20", "Freezer -20 °C", cc.KindFreezer, "freezer", "freezer-20-logger",
			cc.Limits{LowC: -25, HighC: -10, HysteresisC: 0.5, AlarmDelayS: 15 * min, DoorToleranceS: 10 * min, IntervalS: 60}),
		unit("unit-ult-80", "ULT freezer -80 °C", cc.KindULTFreezer, "ultra-low", "ult-80-logger",
			cc.Limits{LowC: -90, HighC: -60, HysteresisC: 1, AlarmDelayS: 0, DoorToleranceS: 10 * min, IntervalS: 60}),
		unit("zone-warehouse-1", "Warehouse zone 1", cc.KindWarehouseZone, "crt", "warehouse-z1-logger",
			cc.Limits{LowC: 15, HighC: 25, HysteresisC: 0.5, AlarmDelayS: 30 * min, DoorToleranceS: 10 * min, IntervalS: 60}),
	} {
		if _, err := svc.CreateUnit(ctx, a, t, u); skip(err) != nil {
			return fmt.Errorf("demo unit %s: %w", u.ID, err)
		}
	}
	const h = 3600
	cum := func(id string, lo, hi float64, loOpen, hiOpen bool, limit int64) cc.BudgetRule {
		return cc.BudgetRule{ID: id, Kind: coldchain.CumulativeInBand.String(), Band: cc.Band{LoC: lo, HiC: hi, LoOpen: loOpen, HiOpen: hiOpen}, LimitS: limit}
	}
	for _, p := range []cc.Product{
		{ID: "GARD9-0.5ML", Name: "HPV vaccine 9-valent 0.5 mL (Gardasil-9-like)", StorageClass: "refrigerator",
			Limits: cc.ProductLimits{LowC: 2, HighC: 8}, Risk: cc.RiskHigh,
			BudgetRules: []cc.BudgetRule{cum("warm", 8, 25, true, false, 72*h), cum("cool", 0, 2, false, true, 72*h)}},
		{ID: "INS-ASPART", Name: "Insulin aspart 100 U/mL", StorageClass: "refrigerator", Limits: cc.ProductLimits{LowC: 2, HighC: 8},
			Risk: cc.RiskMedium, BudgetRules: []cc.BudgetRule{cum("below-30", 8, 30, true, true, 28*24*h),
				{ID: "above-30", Kind: coldchain.IrreversibleEvent.String(), Band: cc.Band{LoC: 30, HiC: 100}}}},
		{ID: "IVIG-FROZEN", Name: "Frozen plasma product", StorageClass: "freezer", Limits: cc.ProductLimits{LowC: -25, HighC: -10}, Risk: cc.RiskMedium},
		{ID: "MRNA-VIAL", Name: "mRNA vaccine vial (Comirnaty-like)", StorageClass: "ultra-low", Limits: cc.ProductLimits{LowC: -90, HighC: -60},
			Risk: cc.RiskHigh, BudgetRules: []cc.BudgetRule{cum("freezer", -25, -15, false, false, 14*24*h)}},
		{ID: "PARA-500", Name: "Paracetamol 500 mg tablets", StorageClass: "crt", Limits: cc.ProductLimits{LowC: 15, HighC: 25},
			Risk: cc.RiskLow, BudgetRules: []cc.BudgetRule{cum("warm", 25, 40, true, false, 24*h)}},
	} {
		if _, err := svc.CreateProduct(ctx, a, t, p); skip(err) != nil {
			return fmt.Errorf("demo product %s: %w", p.ID, err)
		}
	}
	trucks := cc.Limits{LowC: 2, HighC: 8, HysteresisC: 0.3, AlarmDelayS: 15 * min, IntervalS: 60}
	lane := cc.Lane{ID: "lane-ams-bre", Origin: "site-depot-a", Destination: "site-depot-b", Mode: "road", Packaging: "active reefer",
		QualifiedDurationS: 96 * h, ExpectedTransitS: 3 * h}
	for _, sh := range []cc.Shipment{
		{ID: "shipment-0", Carrier: "Demo Reefer BV", Lane: lane, Limits: trucks, Lots: []string{"lot-gard9-0116"}, State: coldchain.InTransit},
		{ID: "shipment-1", Carrier: "Demo Reefer BV", Lane: lane, Limits: trucks, State: coldchain.InTransit, Lots: []string{"lot-gard9-0118"},
			Loggers: []cc.Sensor{{Device: "truck-1-logger", Metric: "temp_ambient", CalibrationDue: "2027-03-01"}}},
		{ID: "shipment-2", Carrier: "Demo Reefer BV", Lane: lane, Limits: trucks, State: coldchain.InTransit, Lots: []string{"lot-gard9-0119"},
			Loggers: []cc.Sensor{{Device: "truck-2-logger", Metric: "temp_ambient", CalibrationDue: "2027-03-01"}}},
	} {
		if _, err := svc.CreateShipment(ctx, a, t, sh); skip(err) != nil {
			return fmt.Errorf("demo shipment %s: %w", sh.ID, err)
		}
	}
	lot := func(id, number, product string, qty float64, uom, kind, where string) cc.LotCreate {
		c := cc.LotCreate{ID: id, Number: number, Product: product, Quantity: qty, UOM: uom, Expiry: "2027-06-30"}
		c.Location.Kind, c.Location.ID = kind, where
		return c
	}
	for _, l := range []cc.LotCreate{
		lot("lot-gard9-0116", "LOT-2025-0116", "GARD9-0.5ML", 500, "doses", cc.AtShipment, "shipment-0"),
		lot("lot-gard9-0117", "LOT-2025-0117", "GARD9-0.5ML", 1000, "doses", cc.AtUnit, "unit-pharmacy-fridge"),
		lot("lot-gard9-0118", "LOT-2025-0118", "GARD9-0.5ML", 600, "doses", cc.AtShipment, "shipment-1"),
		lot("lot-gard9-0119", "LOT-2025-0119", "GARD9-0.5ML", 400, "doses", cc.AtShipment, "shipment-2"),
		lot("lot-gard9-0120", "LOT-2025-0120", "GARD9-0.5ML", 200, "doses", cc.AtUnit, "unit-ward-2-fridge"),
		lot("lot-ins-2211", "INS-2211", "INS-ASPART", 50, "pens", cc.AtUnit, "unit-vaccine-fridge"),
		lot("lot-ivig-0042", "IVIG-0042", "IVIG-FROZEN", 20, "bags", cc.AtUnit, "unit-freezer-20"),
		lot("lot-mrna-7781", "MRNA-7781", "MRNA-VIAL", 195, "vials", cc.AtUnit, "unit-ult-80"),
		lot("lot-para-5531", "PARA-5531", "PARA-500", 2000, "packs", cc.AtUnit, "zone-warehouse-1"),
	} {
		if _, err := svc.CreateLot(ctx, a, t, l); skip(err) != nil {
			return fmt.Errorf("demo lot %s: %w", l.ID, err)
		}
	}
	// shipment-0 arrives now and waits for QA release.
	if sh, err := svc.Shipment(ctx, t, "shipment-0"); err == nil && sh.State == coldchain.InTransit {
		if _, err := svc.TransitionShipment(ctx, a, t, "shipment-0", cc.TransitionRequest{Action: "receive", Reason: "demo: delivered"}); err != nil {
			return fmt.Errorf("demo shipment-0: %w", err)
		}
	}
	fmt.Fprintf(stdout, "demo: cold chain: 6 storage units, 9 lots, trucks as shipment-1 and shipment-2 in transit, shipment-0 delivered and waiting for QA release (log in as demo-qa)\n")
	return nil
}
