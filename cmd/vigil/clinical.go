package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/vigil-iomt/vigil/internal/alarmproc"
	"github.com/vigil-iomt/vigil/internal/clinical"
	"github.com/vigil-iomt/vigil/internal/httpapi"
	"github.com/vigil-iomt/vigil/internal/sim"
	"github.com/vigil-iomt/vigil/internal/store"
	"github.com/vigil-iomt/vigil/internal/stream"
)

// newClinical builds the clinical service (processor and API side) on st and loads its
// attributor, so that the alarm processor can name patients from its first reading.
func newClinical(ctx context.Context, st store.Store, lg *stream.Log, log *slog.Logger) (*clinical.Service, error) {
	cs, ok := st.(clinical.Store)
	if !ok {
		return nil, fmt.Errorf("clinical: store %T does not implement store.ClinicalStore", st)
	}
	attr := clinical.NewAttributor(cs)
	if err := attr.Refresh(ctx); err != nil {
		return nil, err
	}
	return clinical.New(clinical.Config{Store: cs, Log: lg, Attributor: attr, Logger: log.With("component", "clinical")}), nil
}

// demoNames are the invented names of the demo patients.
var demoNames = []string{
	"Ada Lovelace-Hart", "Ben Okafor", "Clara Nguyen", "Dev Patel", "Elena Rossi", "Finn Murphy", "Grace Adeyemi",
	"Hugo Larsen", "Iris Novak", "Jonah Weiss", "Kemi Balogun", "Liam O'Connor", "Maya Fischer", "Noah Silva",
	"Olga Petrova", "Priya Shah", "Quinn Baker", "Rosa Jimenez", "Sam Kowalski", "Tara Byrne",
}

// seedClinical sets up the demo ward and programme: "Ward A" with 12 beds, the simulated
// monitor patients admitted and their monitors assigned from now, the home patients enrolled in
// a heart-failure RPM programme with their wearable and cuff as the kit. It is idempotent: what
// exists (from an earlier run on the same data) is kept.
func seedClinical(ctx context.Context, st store.Store, fleet *sim.Fleet, now time.Time, rec func(action, target string) error, stdout io.Writer) error {
	cs, ok := st.(clinical.Store)
	if !ok {
		return nil
	}
	ignoreConflict := func(err error) error {
		if errors.Is(err, store.ErrConflict) {
			return nil
		}
		return err
	}
	created := func(err error, action, target string) error {
		if errors.Is(err, store.ErrConflict) {
			return nil
		}
		if err != nil {
			return err
		}
		return rec(action, target)
	}
	const ward = "ward-a"
	if err := created(cs.CreateWard(ctx, store.Ward{ID: ward, Tenant: demoTenant, Name: "Ward A", Created: now}), "ward.create", "ward:"+ward); err != nil {
		return fmt.Errorf("demo ward: %w", err)
	}
	for i := 1; i <= 12; i++ {
		b := store.Bed{ID: fmt.Sprintf("%s-%02d", ward, i), Tenant: demoTenant, Ward: ward, Label: fmt.Sprintf("%02d", i)}
		if err := created(cs.CreateBed(ctx, b), "bed.create", "bed:"+b.ID); err != nil {
			return fmt.Errorf("demo bed: %w", err)
		}
	}
	prog := store.Programme{ID: "hf-home", Tenant: demoTenant, Name: "Heart failure at home", Condition: "I50.9 Heart failure, unspecified",
		TimeZone: "America/New_York", Created: now}
	if err := created(cs.CreateProgramme(ctx, prog), "rpm.programme.create", "programme:"+prog.ID); err != nil {
		return fmt.Errorf("demo programme: %w", err)
	}
	kits := map[string][]string{}
	var order []string
	n := 0
	for _, d := range fleet.Devices {
		if !strings.HasPrefix(d.Subject, "patient-") {
			continue
		}
		if _, seen := kits[d.Subject]; !seen {
			order = append(order, d.Subject)
			p := store.Patient{ID: d.Subject, Tenant: demoTenant, MRN: "MRN-" + strings.ToUpper(strings.TrimPrefix(d.Subject, "patient-")),
				Name: demoNames[n%len(demoNames)], BirthDate: fmt.Sprintf("%d-%02d-%02d", 1940+(n*3)%50, 1+n%12, 1+(n*7)%28),
				Sex: []string{"female", "male"}[n%2], SpO2Scale: 1, TimeZone: "Europe/London", Created: now}
			if strings.HasPrefix(d.Subject, "patient-h") {
				p.TimeZone = prog.TimeZone
			}
			n++
			if err := created(cs.CreatePatient(ctx, p), "patient.create", "patient:"+p.ID); err != nil {
				return fmt.Errorf("demo patient: %w", err)
			}
		}
		kits[d.Subject] = append(kits[d.Subject], d.ID)
	}
	wardPatients, homePatients := 0, 0
	for _, pid := range order {
		if strings.HasPrefix(pid, "patient-h") {
			es, err := cs.Enrolments(ctx, demoTenant, prog.ID, pid)
			if err != nil {
				return err
			}
			homePatients++
			if len(es) > 0 {
				continue
			}
			e := store.Enrolment{ID: "enr-demo-" + pid, Tenant: demoTenant, Programme: prog.ID, Patient: pid, TimeZone: prog.TimeZone,
				EnrolledAt: now, SetupRecord: true, Devices: kits[pid]}
			if err := created(cs.CreateEnrolment(ctx, e), "rpm.enrol", "enrolment:"+e.ID); err != nil {
				return fmt.Errorf("demo enrolment: %w", err)
			}
			continue
		}
		wardPatients++
		bed := fmt.Sprintf("%s-%s", ward, strings.TrimPrefix(pid, "patient-a"))
		e := store.Encounter{ID: "enc-demo-" + pid, Tenant: demoTenant, Patient: pid, Admitted: now, Stays: []store.BedStay{{Ward: ward, Bed: bed, From: now}}}
		if err := cs.Admit(ctx, e); errors.Is(err, store.ErrConflict) {
			continue // admitted by an earlier run
		} else if err != nil {
			return fmt.Errorf("demo admission: %w", err)
		}
		if err := rec("patient.admit", "patient:"+pid); err != nil {
			return err
		}
		// The admission round: alert, on air, a manual blood pressure (the monitors supply the
		// rest of NEWS2 and take over the blood pressure at their first NIBP cycle).
		sbp := float64(118 + (wardPatients*7)%20)
		o := clinical.Observation{ID: fmt.Sprintf("obs-demo-%s-%d", pid, now.Unix()), Patient: pid, At: now, EnteredAt: now,
			EnteredBy: "system:demo", ACVPU: "A", O2: "AIR", SBP: &sbp}
		doc, err := json.Marshal(o)
		if err != nil {
			return err
		}
		if _, err := cs.PutRecord(ctx, store.ClinicalRecord{Kind: store.RecManualObs, ID: o.ID, Tenant: demoTenant, Owner: pid, At: now, JSON: doc}); err != nil {
			return fmt.Errorf("demo observation: %w", err)
		}
	}
	// Devices last: a reading attributed to a patient finds the admission and the admission
	// round already stored.
	for _, pid := range order {
		home := strings.HasPrefix(pid, "patient-h")
		for _, dev := range kits[pid] {
			open, err := cs.Assignments(ctx, store.AssignmentQuery{Tenant: demoTenant, Device: dev, OpenOnly: true})
			if err != nil {
				return err
			}
			if len(open) == 1 && open[0].Patient == pid {
				continue
			}
			kind := clinical.KindBedside
			if home {
				kind = clinical.KindRPM
			}
			a := store.DeviceAssignment{ID: "asg-demo-" + dev + "-" + fmt.Sprint(now.Unix()), Tenant: demoTenant, Device: dev, Patient: pid, Kind: kind,
				From: now, CreatedBy: "system:demo", Created: now}
			if _, err := cs.Assign(ctx, a); ignoreConflict(err) != nil {
				return fmt.Errorf("demo assignment: %w", err)
			} else if err == nil {
				if err := rec("device.assign", "assignment:"+a.ID); err != nil {
					return err
				}
			}
		}
	}
	fmt.Fprintf(stdout, "demo: Ward A (12 beds) with %d ward patients and their monitors; %d home patients in RPM programme %q\n",
		wardPatients, homePatients, prog.Name)
	return nil
}

// clinicalAPI connects the clinical service to the alarm processor (band changes and overdue
// reminders become alarms) and returns it as the API's service.
func clinicalAPI(clin *clinical.Service, alarms *alarmproc.Service) httpapi.Clinical {
	if alarms != nil {
		clin.SetAlarms(alarms)
	}
	return clin
}

// clinicalRun runs the clinical processor; it runs with the alarm engine under the
// processors' lease (runAlarms), since the conditions it raises go to that engine.
func clinicalRun(clin *clinical.Service) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := clin.Run(ctx); err != nil && ctx.Err() == nil {
			return fmt.Errorf("clinical processor: %w", err)
		}
		return nil
	}
}
