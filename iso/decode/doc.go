// Package decode turns a message of unknown framing and dialect, as a developer gets it
// from a shop (a hex dump, a log line, a capture), into a described ISO 8583 message: it
// detects the length header, TPDU and dialect, explains every field (response codes, entry
// mode, original data, dates) and masks card data on the way. The CLI's decode and encode
// commands and the trace package are thin users of it.
//
// Masking rules, shared by everything that shows or records a field:
//   - DE2 and DE34 (PAN): first 6 and last 4 digits at most (iso.MaskPAN).
//   - DE35 (track 2): PAN masked, nothing after the separator (iso.MaskTrack2).
//   - DE45 (track 1): format code and masked PAN, nothing after the first '^'.
//   - DE36 (track 3): every character.
//   - DE52 (PIN block), DE55 (EMV data), DE64/DE128 (MAC), DE96 (security code): shown as
//     "[n bytes masked]".
//   - Free-text fields (43–48, 56–63, 101–127): any card number inside (iso.MaskText).
//     A DE48 that is exactly UnionPay settlement totals (62 digits, iso.ParseCUPTotals)
//     is shown as it is: amounts and counts, no card data.
package decode
