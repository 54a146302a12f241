package news2

import (
	"testing"
	"time"
)

func TestOverdue(t *testing.T) {
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		iv    time.Duration
		late  time.Duration
		wantO bool
	}{
		{12 * time.Hour, 72 * time.Minute, false}, // 10 % of 12 h = 72 min, not more
		{12 * time.Hour, 72*time.Minute + time.Second, true},
		{time.Hour, 10 * time.Minute, false}, // 10 % = 6 min, minimum 10 min
		{time.Hour, 10*time.Minute + time.Second, true},
		{4 * time.Hour, 24*time.Minute + time.Second, true},
	}
	for _, tt := range tests {
		d := Due{Interval: tt.iv, At: at.Add(tt.iv)}
		if got := Overdue(d, d.At.Add(tt.late)); got != tt.wantO {
			t.Errorf("Overdue(interval %v, late %v) = %v, want %v", tt.iv, tt.late, got, tt.wantO)
		}
	}
	if Overdue(Due{Continuous: true}, at.Add(48*time.Hour)) {
		t.Error("continuous monitoring with a monitor is never overdue")
	}
}

func TestNextDueSixHourTenant(t *testing.T) {
	r := mustScore(t, full(18, 93, 1, Air, 130, 85, Alert, 37.2)) // E8b, total 2
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	if d := NextDue(&r, at, DueOptions{LowInterval: 6 * time.Hour}); d.Interval != 6*time.Hour {
		t.Errorf("NextDue with 6 h tenant = %v, want 6h", d.Interval)
	}
}

func TestBandChange(t *testing.T) {
	res := func(s Set) *Result { r := mustScore(t, s); return &r }
	low0 := res(full(16, 97, 1, Air, 125, 72, Alert, 36.8))                                                                       // E1
	lowMed := res(full(16, 98, 1, Air, 120, 80, Confused, 37.0))                                                                  // E5
	medium := res(full(18, 97, 2, Supplemental, 130, 85, Alert, 37.2))                                                            // E10, alarms.md S13
	high := res(full(23, 94, 1, Supplemental, 115, 95, Alert, 38.2))                                                              // E6
	incLow := res(Set{Scale: 1, Present: AllParams &^ (1 << ACVPU), RR: 16, SpO2: 97, O2: Air, SBP: 130, Pulse: 80, Temp: 37})    // P2
	incMed := res(Set{Scale: 1, Present: AllParams &^ (1 << Temp), RR: 22, SpO2: 95, O2: Air, SBP: 105, Pulse: 95, ACVPU: Alert}) // P1

	tests := []struct {
		name       string
		prev, next *Result
		kind       ChangeKind
		code       string
		pr         Priority
	}{
		{"first LOW", nil, low0, NoChange, "", PriorityNone},
		{"first MEDIUM", nil, medium, Raise, CodeMedium, PriorityMedium},
		{"LOW to red score", low0, lowMed, Raise, CodeRedScore, PriorityMedium},
		{"S13 MEDIUM to HIGH", medium, high, Escalate, CodeHigh, PriorityHigh},
		{"HIGH to MEDIUM keeps the condition", high, medium, Update, CodeMedium, PriorityMedium},
		{"MEDIUM to complete LOW clears", medium, low0, Clear, "", PriorityNone},
		{"MEDIUM to incomplete possibly-LOW holds", medium, incLow, Update, CodeMedium, PriorityMedium},
		{"incomplete at least MEDIUM raises", low0, incMed, Raise, CodeMedium, PriorityMedium},
		{"LOW to LOW", low0, low0, NoChange, "", PriorityNone},
	}
	for _, tt := range tests {
		c := BandChange(tt.prev, tt.next)
		if c.Kind != tt.kind || c.Code != tt.code || c.Priority != tt.pr {
			t.Errorf("%s: BandChange = %v %q %v, want %v %q %v", tt.name, c.Kind, c.Code, c.Priority, tt.kind, tt.code, tt.pr)
		}
	}
}

// rpm.md §6.6 table.
func TestRising(t *testing.T) {
	tests := []struct {
		prev []int
		cur  int
		want bool
	}{
		{[]int{1, 2, 0, 1}, 3, true},
		{[]int{2, 3, 3}, 4, false},
		{[]int{0, 1}, 3, false},
		{[]int{0, 0, 1}, 2, false},
		{[]int{2, 2, 3, 3}, 5, false}, // median 2.5
		{[]int{1, 2, 3, 3}, 5, false}, // median (2+3)/2 = 2.5 > 2
		{[]int{2, 2, 9}, 3, true},     // median 2
	}
	for _, tt := range tests {
		if got := Rising(tt.cur, tt.prev); got != tt.want {
			t.Errorf("Rising(%d, %v) = %v, want %v", tt.cur, tt.prev, got, tt.want)
		}
	}
}

func TestEligibility(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Skip("no tzdata")
	}
	dob := time.Date(2010, 3, 2, 0, 0, 0, 0, time.UTC)
	// 23:30 UTC on 1 March is 1 March in London in winter: the day before the 16th birthday.
	before := time.Date(2026, 3, 1, 23, 30, 0, 0, time.UTC)
	on := time.Date(2026, 3, 2, 0, 30, 0, 0, time.UTC)
	tests := []struct {
		name     string
		dob      time.Time
		pregnant Tri
		at       time.Time
		want     Eligibility
	}{
		{"day before 16th birthday", dob, No, before, Eligibility{Reason: "UNDER_16"}},
		{"on 16th birthday", dob, No, on, Eligibility{Applicable: true}},
		{"pregnant", dob, Yes, on, Eligibility{Reason: "PREGNANT"}},
		{"pregnancy unknown", dob, Unknown, on, Eligibility{Applicable: true, Unverified: true}},
		{"age unknown", time.Time{}, No, on, Eligibility{Applicable: true, Unverified: true}},
	}
	for _, tt := range tests {
		if got := CheckEligibility(tt.dob, tt.pregnant, tt.at, london); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
