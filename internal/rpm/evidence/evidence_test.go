package evidence

import (
	"testing"
	"time"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("no tzdata for %s: %v", name, err)
	}
	return loc
}

func ok(at time.Time) Reading {
	return Reading{At: at, Device: "cuff-1", Enrolled: true, FDADevice: true, Mode: Device, Valid: true}
}

// rpm.md §2.2 day-counting vectors D1–D5 (America/New_York), plus DST and other zones.
func TestQualifyingDays(t *testing.T) {
	ny := zone(t, "America/New_York")
	local := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, ny) }
	manual := ok(local(2026, 1, 8, 9, 0))
	manual.Mode = ManualEntry
	implausible := ok(local(2026, 1, 9, 9, 0))
	implausible.Valid = false
	scale := ok(local(2026, 1, 7, 8, 5))
	scale.Device = "scale-1"
	notFDA := ok(local(2026, 1, 10, 9, 0))
	notFDA.FDADevice = false
	tests := []struct {
		name string
		rs   []Reading
		loc  *time.Location
		want []string
	}{
		{"D1", []Reading{ok(local(2026, 1, 5, 23, 59)), ok(local(2026, 1, 6, 0, 1))}, ny, []string{"2026-01-05", "2026-01-06"}},
		{"D2", []Reading{ok(local(2026, 1, 7, 8, 0)), scale}, ny, []string{"2026-01-07"}},
		{"D3", []Reading{manual}, ny, nil},
		{"D4", []Reading{ok(time.Date(2026, 1, 6, 3, 30, 0, 0, time.UTC))}, ny, []string{"2026-01-05"}},
		{"D5", []Reading{implausible}, ny, nil},
		{"not an FDA device", []Reading{notFDA}, ny, nil},
		// 8 Mar 2026 is the spring-forward day in New York: 23:30 EDT is 03:30Z on the 9th.
		{"DST spring forward", []Reading{ok(time.Date(2026, 3, 9, 3, 30, 0, 0, time.UTC))}, ny, []string{"2026-03-08"}},
		// 1 Nov 2026 fall back: 00:30 EDT and 01:30 EST (second 01:30) are both 1 Nov.
		{"DST fall back", []Reading{ok(time.Date(2026, 11, 1, 4, 30, 0, 0, time.UTC)), ok(time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC))}, ny, []string{"2026-11-01"}},
		// The same instant is a different day in Tokyo: the programme zone decides.
		{"Tokyo", []Reading{ok(time.Date(2026, 1, 6, 3, 30, 0, 0, time.UTC))}, zone(t, "Asia/Tokyo"), []string{"2026-01-06"}},
	}
	for _, tt := range tests {
		var got []string
		for _, d := range QualifyingDays(tt.rs, tt.loc) {
			got = append(got, d.String())
		}
		if len(got) != len(tt.want) || (len(got) > 0 && got[0] != tt.want[0]) || (len(got) > 1 && got[1] != tt.want[1]) {
			t.Errorf("%s: days %v, want %v", tt.name, got, tt.want)
		}
	}
}

// rpm.md §2.3 example.
func TestPeriods(t *testing.T) {
	start := MakeDate(2026, 1, 5)
	want := [][2]string{{"2026-01-05", "2026-02-03"}, {"2026-02-04", "2026-03-05"}, {"2026-03-06", "2026-04-04"}}
	for i, w := range want {
		p := PeriodN(start, i+1)
		if p.Start.String() != w[0] || p.End.String() != w[1] {
			t.Errorf("P%d = %v … %v, want %s … %s", i+1, p.Start, p.End, w[0], w[1])
		}
		if PeriodOf(start, p.End) != p || PeriodOf(start, p.Start) != p {
			t.Errorf("PeriodOf does not return P%d at its edges", i+1)
		}
	}
}

var p1Offsets = []int{0, 1, 2, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 18, 19, 20, 21, 24, 27, 28}

func daysAt(start Date, offs []int) []Date {
	var ds []Date
	for _, o := range offs {
		ds = append(ds, start+Date(o))
	}
	return ds
}

// rpm.md §2.5 period example and §3 A1: 20 days → 99454 (99453 with a set-up record); the first
// 15 days → 99445 and no 99453; 16 vs 15 days at the threshold.
func TestPeriodEvidence(t *testing.T) {
	start := MakeDate(2026, 1, 5)
	p := PeriodN(start, 1)
	e := EvaluatePeriod(p, daysAt(start, p1Offsets), p.End)
	if e.D != 20 || e.DeviceCode != "99454" || e.Status != Met16 || e.RuleSet != CMS2026 {
		t.Errorf("P1: D %d code %q status %s rules %s, want 20 99454 MET_16 cms-rpm-2026", e.D, e.DeviceCode, e.Status, e.RuleSet)
	}
	if e.LongestGap != 2 || int(e.Adherence*10+0.5) != 667 {
		t.Errorf("A1: longest gap %d adherence %.1f, want 2 and 66.7", e.LongestGap, e.Adherence)
	}
	if !SetupEligible(e, 16, true, false) || SetupEligible(e, 16, false, false) {
		t.Error("99453 eligibility wrong for D = 20")
	}
	for _, tt := range []struct {
		n    int
		code string
		st   Status
	}{{16, "99454", Met16}, {15, "99445", Range2to15}, {2, "99445", Range2to15}, {1, "", Below2}, {0, "", Below2}} {
		e := EvaluatePeriod(p, daysAt(start, p1Offsets[:tt.n]), p.End)
		if e.D != tt.n || e.DeviceCode != tt.code || e.Status != tt.st || SetupEligible(e, 16, true, false) != (tt.n >= 16) {
			t.Errorf("%d days: D %d code %q status %s, want %q %s", tt.n, e.D, e.DeviceCode, e.Status, tt.code, tt.st)
		}
	}
	// Under cms-rpm-2025, 2–15 days earn no device code.
	s25 := MakeDate(2025, 6, 1)
	if e := EvaluatePeriod(PeriodN(s25, 1), daysAt(s25, p1Offsets[:15]), s25+29); e.DeviceCode != "" || e.RuleSet != CMS2025 {
		t.Errorf("2025, 15 days: code %q rules %s, want none under cms-rpm-2025", e.DeviceCode, e.RuleSet)
	}
}

// Days across month ends count in the period, not the calendar month; a period spanning the
// rule change is evaluated on its last day and flagged.
func TestPeriodAcrossMonthEndsAndRuleChange(t *testing.T) {
	start := MakeDate(2025, 12, 20) // P1 = 2025-12-20 … 2026-01-18
	var offs []int
	for i := 5; i < 21; i++ { // 16 days: 2025-12-25 … 2026-01-09
		offs = append(offs, i)
	}
	e := EvaluatePeriod(PeriodN(start, 1), daysAt(start, offs), start+29)
	if e.D != 16 || e.DeviceCode != "99454" || e.RuleSet != CMS2026 || len(e.Flags) != 1 || e.Flags[0] != FlagRulesetBoundary {
		t.Errorf("D %d code %q rules %s flags %v, want 16 99454 cms-rpm-2026 [RULESET_BOUNDARY]", e.D, e.DeviceCode, e.RuleSet, e.Flags)
	}
	// A reading on the day after the period belongs to P2.
	if p := PeriodOf(start, MakeDate(2026, 1, 19)); p.N != 2 {
		t.Errorf("2026-01-19 in P%d, want P2", p.N)
	}
}

func TestEpisodes(t *testing.T) {
	d := MakeDate(2026, 1, 1)
	days := []Date{d, d + 1, d + 30, d + 61, d + 62} // gaps of 28 and 30 days
	eps := Episodes(days)
	if len(eps) != 2 || len(eps[0]) != 3 || eps[1][0] != d+61 {
		t.Errorf("episodes %v, want split before %v", eps, d+61)
	}
}

// rpm.md §3 A2–A6.
func TestProjection(t *testing.T) {
	tests := []struct {
		j, dj int
		want  Projection
	}{
		{20, 15, ProjOnTrack}, {20, 9, ProjOnTrack}, {20, 7, ProjAtRisk}, {25, 8, ProjImpossible}, {25, 12, ProjOnTrack},
		{10, 16, ProjMet},
	}
	for _, tt := range tests {
		if got := Project(tt.j, tt.dj); got != tt.want {
			t.Errorf("Project(%d, %d) = %s, want %s", tt.j, tt.dj, got, tt.want)
		}
	}
}

// rpm.md §3 A7: BP twice daily, 44 slot-matched readings of 60 slots; extras ignored.
func TestProtocolAdherence(t *testing.T) {
	ny := zone(t, "America/New_York")
	slots := []Slot{{5 * time.Hour, 11*time.Hour + 59*time.Minute + 59*time.Second}, {17 * time.Hour, 23*time.Hour + 59*time.Minute + 59*time.Second}}
	start := MakeDate(2026, 1, 5)
	var at []time.Time
	for i := 0; i < 30; i++ {
		y, m, d := (start + Date(i)).Time().Date()
		if i < 22 {
			at = append(at, time.Date(y, m, d, 7, 0, 0, 0, ny), time.Date(y, m, d, 8, 0, 0, 0, ny), // second morning reading: same slot
				time.Date(y, m, d, 19, 0, 0, 0, ny))
		}
		at = append(at, time.Date(y, m, d, 14, 0, 0, 0, ny)) // outside every slot
	}
	matched, prescribed := ProtocolAdherence(at, ny, slots, start, start+29)
	if matched != 44 || prescribed != 60 {
		t.Errorf("protocol adherence %d/%d, want 44/60", matched, prescribed)
	}
}

// rpm.md §2.5 M1–M8.
func TestTreatmentManagement(t *testing.T) {
	day := MakeDate(2026, 2, 10)
	e := func(min int, inter bool, mod Modality) TimeEntry {
		return TimeEntry{Date: day, Minutes: min, Staff: "rn1", Credential: "RN", Service: "RPM", Interactive: inter, Modality: mod}
	}
	tests := []struct {
		id      string
		entries []TimeEntry
		rules   RuleSet
		t       int
		i       bool
		codes   []Code
		flag    string
	}{
		{"M1", []TimeEntry{e(6, false, ""), e(8, true, Audio), e(7, false, "")}, CMS2026, 21, true, []Code{{"99457", 1}}, ""},
		{"M2", []TimeEntry{e(4, false, ""), e(8, true, Video)}, CMS2026, 12, true, []Code{{"99470", 1}}, ""},
		{"M3", []TimeEntry{e(30, false, ""), e(15, true, Audio)}, CMS2026, 45, true, []Code{{"99457", 1}, {"99458", 1}}, ""},
		{"M4", []TimeEntry{e(30, false, ""), e(9, true, Audio)}, CMS2026, 39, true, []Code{{"99457", 1}}, ""},
		{"M5", []TimeEntry{e(50, false, ""), e(15, true, AudioVideo)}, CMS2026, 65, true, []Code{{"99457", 1}, {"99458", 2}}, ""},
		{"M6", []TimeEntry{e(15, false, ""), e(10, true, Message)}, CMS2026, 25, false, nil, FlagNoInteractive},
		{"M7", []TimeEntry{e(4, false, ""), e(5, true, Audio)}, CMS2026, 9, true, nil, ""},
	}
	for _, tt := range tests {
		m := EvaluateMonth(tt.entries, 2026, time.February)
		if m.T != tt.t || m.I != tt.i || m.RuleSet != tt.rules || !sameCodes(m.Codes, tt.codes) ||
			(tt.flag != "" && (len(m.Flags) != 1 || m.Flags[0] != tt.flag)) {
			t.Errorf("%s: T %d I %v %s codes %v flags %v, want %d %v %v %s", tt.id, m.T, m.I, m.RuleSet, m.Codes, m.Flags, tt.t, tt.i, tt.codes, tt.flag)
		}
	}
	// M2 under cms-rpm-2025: none.
	if codes, _ := Ladder(CMS2025, 12, true); codes != nil {
		t.Errorf("M2 2025: %v, want none", codes)
	}
	// Entries of other months and other services do not count; full minutes only.
	start := time.Date(2026, 2, 10, 9, 0, 0, 0, time.UTC)
	es := []TimeEntry{
		{Date: day, Start: start, End: start.Add(20*time.Minute + 59*time.Second), Staff: "rn1", Service: "RPM", Interactive: true, Modality: Audio},
		{Date: MakeDate(2026, 3, 1), Minutes: 30, Service: "RPM"},
		{Date: day, Minutes: 30, Service: "CCM"},
	}
	if m := EvaluateMonth(es, 2026, time.February); m.T != 20 {
		t.Errorf("T = %d, want 20 (full minutes of the RPM entry only)", m.T)
	}
	// M8: physician 32 min in the period, no 99457 → 99091 candidate.
	p := PeriodN(MakeDate(2026, 2, 1), 1)
	md := []TimeEntry{{Date: day, Minutes: 32, Credential: "MD", Service: "RPM"}}
	if min, ok := Candidate99091(md, p, nil, false); !ok || min != 32 {
		t.Errorf("M8: %d min candidate %v, want 32 true", min, ok)
	}
	if _, ok := Candidate99091(md, p, []Date{day}, false); ok {
		t.Error("99091 flagged with minutes on an E/M day")
	}
	if _, ok := Candidate99091(md, p, nil, true); ok {
		t.Error("99091 flagged alongside 99457")
	}
}

func sameCodes(a, b []Code) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCheckOverlap(t *testing.T) {
	s := time.Date(2026, 2, 10, 9, 0, 0, 0, time.UTC)
	es := []TimeEntry{
		{Staff: "rn1", Start: s, End: s.Add(20 * time.Minute), Service: "RPM"},
		{Staff: "rn1", Start: s.Add(10 * time.Minute), End: s.Add(30 * time.Minute), Service: "CCM"},
		{Staff: "rn2", Start: s, End: s.Add(30 * time.Minute), Service: "RPM"},
		{Staff: "rn1", Start: s.Add(30 * time.Minute), End: s.Add(40 * time.Minute), Service: "RPM"},
	}
	if err := CheckOverlap(es); err == nil {
		t.Error("overlap of rn1's entries not reported")
	}
	if err := CheckOverlap(es[2:]); err != nil {
		t.Errorf("no overlap expected: %v", err)
	}
}
