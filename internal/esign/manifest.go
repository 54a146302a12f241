package esign

import (
	"errors"
	"time"
)

// DisplayLayout is the local date and time of a manifestation: zone abbreviation and
// numeric UTC offset, e.g. "2025-03-14 17:45:00 CET (UTC+01:00)".
const DisplayLayout = "2006-01-02 15:04:05 MST (UTC-07:00)"

// Manifest returns the line shown next to a signed record and printed on every copy of it
// (§11.50, spec 6.3):
//
//	Dana Lee (u:qa.lee) — Approved for release — 2025-03-14 17:45:00 CET (UTC+01:00)
//
// loc is the signer's site zone, normally time.LoadLocation(sig.DisplayTZ); the output
// depends only on sig and loc.
func Manifest(sig Signature, loc *time.Location) string {
	return sig.PrintedName + " (" + sig.SignerID + ") — " + string(sig.Meaning) + " — " +
		sig.SignedAt.In(loc).Format(DisplayLayout)
}

// Block is the signature block of a PDF report (spec 6.3): the manifestation plus the UTC
// instant and the signature id, and the verification state at the time of printing.
type Block struct {
	Line  string // Manifest
	UTC   string // e.g. 2025-03-14T16:45:00.250Z
	ID    string // signature id
	State string // State.Message()
}

// SignatureBlock returns the block for sig in zone loc, with state as verified just before.
func SignatureBlock(sig Signature, loc *time.Location, state State) (Block, error) {
	if loc == nil {
		return Block{}, errors.New("esign: signature block: no time zone")
	}
	return Block{Line: Manifest(sig, loc), UTC: FormatTime(sig.SignedAt), ID: sig.ID, State: state.Message()}, nil
}
