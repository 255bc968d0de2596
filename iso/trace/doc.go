// Package trace records what crosses a connection as JSON lines, card data masked, and reads
// it back: one object per line with "type" message, fault or event. The acquirer, the
// terminal, the scenario runner and the UI write traces by passing Observer(...) as their
// iso.Observer; the record command's Proxy writes one from between a real terminal and a
// real host; Replay sends a trace's terminal side again and compares the answers.
//
// Direction is always seen from the source that wrote the record: for an acquirer (and the
// proxy, which stands where the host is for the terminal) "in" is what the terminal sent;
// for a terminal "out" is what it sent.
//
// A message record's "raw" is the ISO 8583 payload (no length header; the TPDU, when there
// was one, is in "tpdu") as upper-case hex with card data masked in place, so the bytes
// keep their length and layout: see decode.MaskPayload. A payload that does not decode is
// masked conservatively (decode.MaskUnknown) and its "error" says why.
package trace
