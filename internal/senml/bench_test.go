package senml

import (
	"strconv"
	"strings"
	"testing"
)

// pack10 is a 10-record pack shaped like §6.1: an oximeter reporting spo2, pr and pi with
// base name, time and unit on the first record.
func pack10() []byte {
	var sb strings.Builder
	sb.WriteString(`[{"bn":"urn:dev:mac:0024befffe804ff1:","bt":1718180000,"bu":"/","n":"spo2","v":0.94}`)
	for i := 1; i < 10; i++ {
		t := strconv.Itoa(i)
		switch i % 3 {
		case 0:
			sb.WriteString(`,{"n":"spo2","t":` + t + `,"v":0.9` + t + `}`)
		case 1:
			sb.WriteString(`,{"n":"pr","u":"beat/min","t":` + t + `,"v":8` + t + `}`)
		case 2:
			sb.WriteString(`,{"n":"pi","t":` + t + `,"v":0.024` + t + `}`)
		}
	}
	sb.WriteString("]")
	return []byte(sb.String())
}

func reportRecords(b *testing.B, perOp int) {
	b.ReportMetric(float64(b.N*perOp)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkDecodeJSON10(b *testing.B) {
	in := pack10()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		recs, err := DecodeJSON(in, exampleNow)
		if err != nil || len(recs) != 10 {
			b.Fatal(err)
		}
	}
	reportRecords(b, 10)
}

func BenchmarkDecodeCBOR10(b *testing.B) {
	recs, err := DecodeJSON(pack10(), exampleNow)
	if err != nil {
		b.Fatal(err)
	}
	in := EncodeCBOR(recs)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		recs, err := DecodeCBOR(in, exampleNow)
		if err != nil || len(recs) != 10 {
			b.Fatal(err)
		}
	}
	reportRecords(b, 10)
}

func BenchmarkToReadings10(b *testing.B) {
	recs, err := DecodeJSON(pack10(), exampleNow)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		rs, err := ToReadings(recs, oximeter, exampleNow)
		if err != nil || len(rs) != 10 {
			b.Fatal(err)
		}
	}
	reportRecords(b, 10)
}

func BenchmarkEncodeJSON10(b *testing.B) {
	recs, err := DecodeJSON(pack10(), exampleNow)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = EncodeJSON(recs)
	}
	reportRecords(b, 10)
}
