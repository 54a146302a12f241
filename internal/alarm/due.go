package alarm

import (
	"container/heap"
	"time"
)

// timers keeps every open alarm's next due time (core.due) in a min-heap, so finding the next
// timer and the alarms due now costs O(k log n) instead of a scan of all n open alarms.
//
// Entries are invalidated lazily: a change to an alarm marks it dirty (core.touch), and the
// next read recomputes its due time and, when it changed, pushes a new entry with a higher
// generation; older entries are skipped when they reach the top. Every core method that can
// change what core.due returns for an alarm touches it: onCondition, command, alarmPause and
// pause expiry (every alarm of the subject), firing a timer, and restore. Closing an alarm
// drops it. Only the goroutine that owns the core uses timers.
type timers struct {
	heap  dueHeap
	state map[*Tracked]dueState
	dirty []*Tracked
}

// dueState is the due time an alarm's live heap entry carries.
type dueState struct {
	at  time.Time
	ok  bool   // a live entry with generation gen is in the heap
	gen uint64 // generation of the live entry
}

type dueEntry struct {
	at  time.Time
	t   *Tracked
	gen uint64
}

// dueHeap orders entries by due time, then alarm id: the order timers fire in.
type dueHeap []dueEntry

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if r := h[i].at.Compare(h[j].at); r != 0 {
		return r < 0
	}
	return compareID(h[i].t.Alarm.ID, h[j].t.Alarm.ID) < 0
}
func (h dueHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)   { *h = append(*h, x.(dueEntry)) }
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = dueEntry{}
	*h = old[:len(old)-1]
	return e
}

func newTimers() timers { return timers{state: make(map[*Tracked]dueState)} }

// touch marks t's due time as possibly changed.
func (c *core) touch(t *Tracked) { c.timers.dirty = append(c.timers.dirty, t) }

// touchSubject touches every open alarm of a subject (its alarm pause changed).
func (c *core) touchSubject(tenant, subject string) {
	for _, t := range c.open {
		if t.Alarm.Tenant == tenant && t.Alarm.Subject == subject {
			c.touch(t)
		}
	}
}

// drop forgets t (closed); its heap entries become stale.
func (ts *timers) drop(t *Tracked) { delete(ts.state, t) }

// live reports whether e is the current entry of an alarm.
func (ts *timers) live(e dueEntry) bool {
	st, ok := ts.state[e.t]
	return ok && st.ok && st.gen == e.gen
}

// flush recomputes the due time of every dirty alarm still open.
func (ts *timers) flush(c *core) {
	for _, t := range ts.dirty {
		if c.open[t.Alarm.DedupKey] != t {
			delete(ts.state, t)
			continue
		}
		at, ok := c.due(t)
		st := ts.state[t]
		if st.ok == ok && (!ok || st.at.Equal(at)) {
			continue
		}
		st.gen++
		st.at, st.ok = at, ok
		ts.state[t] = st
		if ok {
			heap.Push(&ts.heap, dueEntry{at: at, t: t, gen: st.gen})
		}
	}
	clear(ts.dirty)
	ts.dirty = ts.dirty[:0]
	if len(ts.heap) > 2*len(ts.state)+1024 { // mostly stale: rebuild from the live entries
		live := ts.heap[:0]
		for _, e := range ts.heap {
			if ts.live(e) {
				live = append(live, e)
			}
		}
		clear(ts.heap[len(live):])
		ts.heap = live
		heap.Init(&ts.heap)
	}
}

// next returns the earliest due time of any open alarm.
func (ts *timers) next(c *core) (time.Time, bool) {
	ts.flush(c)
	for len(ts.heap) > 0 {
		if e := ts.heap[0]; ts.live(e) {
			return e.at, true
		}
		heap.Pop(&ts.heap)
	}
	return time.Time{}, false
}

// popDue removes and returns the alarms due at or before now, earliest first (ties by id).
// Their entries are gone: the caller fires each and touches it.
func (ts *timers) popDue(c *core, now time.Time) []*Tracked {
	ts.flush(c)
	var due []*Tracked
	for len(ts.heap) > 0 && !ts.heap[0].at.After(now) {
		e := heap.Pop(&ts.heap).(dueEntry)
		if !ts.live(e) {
			continue
		}
		st := ts.state[e.t]
		st.ok = false
		ts.state[e.t] = st
		due = append(due, e.t)
	}
	return due
}
