package stream

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppend measures group commit: 50 concurrent appenders, each appending 50-reading
// packs of its own device, against the embedded server with sync always in a temp dir.
// One op is one pack.
func BenchmarkAppend(b *testing.B) {
	const appenders, packSize = 50, 50
	l := openLog(b, Config{DataDir: b.TempDir()})
	var nextDevice, nextID atomic.Uint64
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

	b.SetParallelism((appenders + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		device := fmt.Sprintf("dev-%03d", nextDevice.Add(1))
		rs := sampleReadings("acme", device, packSize, base)
		for pb.Next() {
			for i := range rs { // distinct ids, so that no group is a duplicate of another
				binary.BigEndian.PutUint64(rs[i].ID[:], nextID.Add(1))
				rs[i].Measured = rs[i].Measured.Add(packSize * time.Second)
			}
			if err := l.Append(b.Context(), "acme", device, rs); err != nil {
				b.Fatal(err)
			}
		}
	})
	elapsed := time.Since(start)
	packs, groups := value(b, l.metrics.appendedPacks), value(b, l.metrics.groups)
	b.ReportMetric(packs*packSize/elapsed.Seconds(), "readings/s")
	b.ReportMetric(packs/groups, "packs/group")
	b.ReportMetric(groups/elapsed.Seconds(), "groups/s")
}
