package alarm

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// scanNext is the next due time of the open alarms by a scan of all of them: what the timer
// heap must always agree with.
func scanNext(c *core) (time.Time, bool) {
	var d time.Time
	found := false
	for _, t := range c.open {
		if x, ok := c.due(t); ok && (!found || x.Before(d)) {
			d, found = x, true
		}
	}
	return d, found
}

// TestTimersMatchScan drives a core through a seeded random mix of conditions (raise, clear),
// commands (acknowledge, decline, escalate, cancel, alarm pause) and clock advances, and after
// every step checks that the heap's next due time, and each open alarm's entry, equal what a
// scan computes, so a change that forgets to touch an alarm fails here.
func TestTimersMatchScan(t *testing.T) {
	ctx := context.Background()
	c := newCore(nil, dir{}, nil)
	rng := rand.New(rand.NewPCG(6, 6))
	now := noon
	caps := []Actor{actor("A", CapAssignedNurse), actor("C", CapChargeNurse), actor("U", CapUnitAdmin), actor("D", CapRRT)}
	for step := range 3000 {
		now = now.Add(time.Duration(rng.IntN(20)) * time.Second)
		subj := fmt.Sprintf("pat%d", rng.IntN(5))
		var what string
		switch op := rng.IntN(10); {
		case op < 4:
			cond := highCond(now)
			cond.Subject = subj
			if rng.IntN(2) == 0 {
				cond.Code, cond.Priority, cond.Latching, cond.Value, cond.Limit = SpO2Low, Medium, false, 88, 90
				if rng.IntN(3) == 0 {
					cond.Status = StatusPending
				}
			}
			what = "condition " + string(cond.Code) + " " + string(cond.Status)
			c.onCondition(ctx, cond)
		case op < 6:
			cond := highCond(now)
			cond.Subject, cond.Status = subj, StatusCleared
			if rng.IntN(2) == 0 {
				cond.Code, cond.Priority = SpO2Low, Medium
			}
			what = "clear " + string(cond.Code)
			c.onCondition(ctx, cond)
		case op < 7:
			var ids []ID
			for id := range c.byID {
				ids = append(ids, id)
			}
			if len(ids) == 0 {
				continue
			}
			slices.SortFunc(ids, compareID)
			acts := []Action{ActAcknowledge, ActDecline, ActEscalate, ActCancel}
			cmd := Command{Action: acts[rng.IntN(len(acts))], AlarmID: ids[rng.IntN(len(ids))],
				Actor: caps[rng.IntN(len(caps))], Reason: "r"}
			what = "command " + string(cmd.Action)
			_ = c.command(ctx, cmd, now) // refusals are part of the mix
		case op < 9:
			cmd := Command{Action: ActAlarmPause, Subject: subj, Actor: actor("A", CapAssignedNurse),
				Duration: time.Duration(30+rng.IntN(150)) * time.Second, Reason: "r"}
			what = "alarm pause"
			_ = c.command(ctx, cmd, now)
		default:
			what = "advance"
			c.advance(ctx, now)
		}
		c.take()
		got, gok := c.timers.next(c)
		want, wok := scanNext(c)
		if gok != wok || !got.Equal(want) {
			t.Fatalf("step %d (%s): heap next = %v %v, scan = %v %v", step, what, got, gok, want, wok)
		}
		for _, tr := range c.open { // and each alarm's own entry, not just the earliest
			st := c.timers.state[tr]
			if at, ok := c.due(tr); st.ok != ok || (ok && !st.at.Equal(at)) {
				t.Fatalf("step %d (%s): alarm %s (%s) has heap entry %v %v, due %v %v",
					step, what, tr.Alarm.ID, tr.Alarm.State, st.at, st.ok, at, ok)
			}
		}
	}
}
