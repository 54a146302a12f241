// Package sim simulates a demo fleet: bedside monitors, a home wearable, and cold-chain
// storage units, each producing plausible, reproducible readings as SenML JSON packs and
// posting them to Vigil's HTTP ingest with its own device credentials.
//
// Values follow a seeded random walk around physiological or storage set points, with sensor
// noise and a slow circadian drift, so the same seed gives the same series. A Fleet is not safe
// for concurrent use; Run owns it.
package sim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// Device is one simulated device.
type Device struct {
	ID      string
	Model   string
	Kind    string // "monitor", "wearable", "environment"
	Subject string
	Secret  string // set by the caller after provisioning

	profile profile
	state   map[string]float64
}

type signal struct {
	name   string  // SenML metric name
	unit   string  // SenML unit
	mean   float64 // set point, in the SenML unit
	sd     float64 // random-walk step
	pull   float64 // 0..1 pull back to the mean per step
	min    float64
	max    float64
	digits int
}

type profile []signal

var vitals = profile{
	{"hr", "beat/min", 76, 1.5, 0.15, 35, 180, 0},
	{"spo2", "/", 0.97, 0.004, 0.2, 0.80, 1.00, 2},
	{"rr", "1/min", 16, 0.6, 0.2, 6, 40, 0},
	{"temp", "Cel", 36.9, 0.03, 0.1, 35, 41, 1},
}

var wearable = profile{
	{"hr", "beat/min", 70, 2, 0.1, 40, 170, 0},
	{"spo2", "/", 0.96, 0.005, 0.2, 0.82, 1.00, 2},
}

var fridge = profile{
	{"temp", "Cel", 5, 0.15, 0.25, -1, 15, 1},
	{"rh", "%RH", 45, 0.8, 0.1, 10, 90, 0},
}

var freezer = profile{
	{"temp", "Cel", -20, 0.3, 0.25, -30, 0, 1},
}

// Fleet is the demo fleet.
type Fleet struct {
	Devices []*Device
	rng     *rand.Rand
	start   time.Time
}

// NewFleet returns the demo fleet: four ward beds, one home patient, two fridges and a freezer.
func NewFleet(seed int64) *Fleet {
	f := &Fleet{rng: rand.New(rand.NewPCG(uint64(seed), 0x5eed))}
	for i := 1; i <= 4; i++ {
		f.add(&Device{ID: fmt.Sprintf("demo-bed-%02d", i), Model: "Vigil SimMonitor 4", Kind: "monitor",
			Subject: fmt.Sprintf("patient-bed-%02d", i), profile: vitals})
	}
	f.add(&Device{ID: "demo-home-01", Model: "Vigil SimBand", Kind: "wearable", Subject: "patient-home-01", profile: wearable})
	f.add(&Device{ID: "demo-fridge-01", Model: "Vigil SimLogger", Kind: "environment", Subject: "pharmacy-fridge-1", profile: fridge})
	f.add(&Device{ID: "demo-fridge-02", Model: "Vigil SimLogger", Kind: "environment", Subject: "ward-fridge-2", profile: fridge})
	f.add(&Device{ID: "demo-freezer-01", Model: "Vigil SimLogger", Kind: "environment", Subject: "freezer-20", profile: freezer})
	return f
}

func (f *Fleet) add(d *Device) {
	d.state = map[string]float64{}
	for _, s := range d.profile {
		d.state[s.name] = s.mean + f.rng.NormFloat64()*s.sd*3
	}
	f.Devices = append(f.Devices, d)
}

// Pack advances d by one step and returns its SenML JSON pack measured at now.
func (f *Fleet) Pack(d *Device, now time.Time) []byte {
	if f.start.IsZero() {
		f.start = now
	}
	// circadian drift: ±2 % over 24 h
	drift := 1 + 0.02*math.Sin(2*math.Pi*float64(now.Unix()%86400)/86400)
	var b bytes.Buffer
	b.WriteString(`[{"bn":"`)
	b.WriteString(d.ID)
	b.WriteString(`:","bt":`)
	b.WriteString(strconv.FormatFloat(float64(now.UnixMilli())/1000, 'f', 3, 64))
	for i, s := range d.profile {
		v := d.state[s.name]
		v += f.rng.NormFloat64()*s.sd + (s.mean*drift-v)*s.pull
		v = math.Max(s.min, math.Min(s.max, v))
		d.state[s.name] = v
		if i > 0 {
			b.WriteString(`},{`)
		} else {
			b.WriteByte(',')
		}
		b.WriteString(`"n":"`)
		b.WriteString(s.name)
		b.WriteString(`","u":"`)
		b.WriteString(s.unit)
		b.WriteString(`","v":`)
		b.WriteString(strconv.FormatFloat(v, 'f', s.digits, 64))
	}
	b.WriteString(`}]`)
	return b.Bytes()
}

// Run posts a pack from every device every interval to baseURL's ingest endpoint until ctx
// is done. Failures are logged and counted, never fatal: a device keeps trying.
func (f *Fleet) Run(ctx context.Context, client *http.Client, baseURL string, interval time.Duration, log *slog.Logger) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		now := time.Now()
		for _, d := range f.Devices {
			if err := post(ctx, client, baseURL, d, f.Pack(d, now)); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				log.Warn("demo device post failed", "device", d.ID, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func post(ctx context.Context, client *http.Client, baseURL string, d *Device, pack []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/api/v1/ingest", bytes.NewReader(pack))
	if err != nil {
		return err
	}
	req.SetBasicAuth(d.ID, d.Secret)
	req.Header.Set("Content-Type", "application/senml+json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("ingest: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return nil
}
