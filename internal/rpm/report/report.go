// Package report renders the monthly per-patient RPM report (shared/specs/rpm.md §4) as PDF
// and CSV from its canonical data, which the clinical service assembles (and which is the
// report's JSON). It does no I/O but writing to the given writer and reads no clock; it is
// safe for concurrent use.
package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Data is the canonical content of one monthly report.
type Data struct {
	Month       string       `json:"month"` // YYYY-MM
	Patient     Patient      `json:"patient"`
	Programme   string       `json:"programme"`
	Condition   string       `json:"condition"`
	Enrolment   string       `json:"enrolment"`
	EnrolledAt  time.Time    `json:"enrolled_at"`
	TimeZone    string       `json:"time_zone"`
	RuleSet     string       `json:"rule_set"`
	SetupRecord bool         `json:"setup_record"`
	Devices     []Device     `json:"devices"`
	Periods     []Period     `json:"periods"`
	Time        Time         `json:"time"`
	Metrics     []Metric     `json:"metrics"`
	Flags       []Flag       `json:"flags"`
	NEWS2       NEWS2Summary `json:"news2"`
	GeneratedAt time.Time    `json:"generated_at"`
	Software    string       `json:"software"`
	SHA256      string       `json:"sha256,omitempty"` // of this JSON with sha256 empty
}

// Patient identifies the patient.
type Patient struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	MRN       string `json:"mrn"`
	BirthDate string `json:"birth_date"`
}

// Device is one kit device and its readings in the month.
type Device struct {
	ID       string     `json:"id"`
	Model    string     `json:"model"`
	Kind     string     `json:"kind"`
	First    *time.Time `json:"first_reading"`
	Last     *time.Time `json:"last_reading"`
	Readings int        `json:"readings"`
}

// Period is the device-supply evidence of a 30-day period overlapping the month.
type Period struct {
	N             int      `json:"n"`
	Start         string   `json:"start"`
	End           string   `json:"end"`
	RuleSet       string   `json:"rule_set"`
	Days          []string `json:"days"`
	D             int      `json:"d"`
	Status        string   `json:"status"`
	Met16         bool     `json:"met_16"`
	DeviceCode    string   `json:"device_code"`
	SetupEligible bool     `json:"setup_eligible"`
	Flags         []string `json:"flags"`
}

// Time is the treatment-management time of the month.
type Time struct {
	Entries          []TimeEntry `json:"entries"`
	Minutes          int         `json:"minutes"`
	Interactive      bool        `json:"interactive"`
	InteractiveDates []string    `json:"interactive_dates"`
	Codes            []Code      `json:"codes"`
	Flags            []string    `json:"flags"`
}

// TimeEntry is one itemised time entry.
type TimeEntry struct {
	Date        string `json:"date"`
	Start       string `json:"start,omitempty"`
	End         string `json:"end,omitempty"`
	Minutes     int    `json:"minutes"`
	Staff       string `json:"staff"`
	Credential  string `json:"credential"`
	Activity    string `json:"activity"`
	Interactive bool   `json:"interactive"`
	Modality    string `json:"modality"`
}

// Code is an eligible code with units.
type Code struct {
	Code  string `json:"code"`
	Units int    `json:"units"`
}

// Metric summarises one parameter's readings in the month.
type Metric struct {
	Metric string  `json:"metric"`
	Unit   string  `json:"unit"`
	Count  int     `json:"count"`
	Days   int     `json:"days"`
	Mean   float64 `json:"mean"`
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	SD     float64 `json:"sd"`
}

// Flag is a baseline flag of the month.
type Flag struct {
	Day         string `json:"day"`
	Code        string `json:"code"`
	State       string `json:"state"`
	Explanation string `json:"explanation"`
}

// NEWS2Summary counts the month's complete NEWS2 sets (community use, news2.md §1.1).
type NEWS2Summary struct {
	CompleteSets int            `json:"complete_sets"`
	MaxScore     *int           `json:"max_score"`
	Bands        map[string]int `json:"bands"`
}

// Seal sets d.SHA256 to the SHA-256 of d's JSON with the field empty, and returns that JSON
// with the hash.
func Seal(d *Data) ([]byte, error) {
	d.SHA256 = ""
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	d.SHA256 = hex.EncodeToString(sum[:])
	return json.Marshal(d)
}
