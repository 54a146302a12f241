// Package senml decodes and encodes SenML packs (RFC 8428) in JSON and CBOR, resolves them
// into absolute records following shared/specs/senml.md §3, and maps resolved records onto
// Vigil readings (§4, §5).
//
// It is pure: bytes in, records or readings out, or a positioned *Error naming the record
// and the problem. A pack is accepted or rejected whole. It does no I/O and keeps no state;
// every function is safe for concurrent use.
package senml
