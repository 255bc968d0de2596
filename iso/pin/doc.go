// Package pin builds, encrypts, decrypts and checks ISO 9564-1 PIN blocks:
//
//   - format 0 (ANSI X9.8): control 0, PIN length, PIN digits, F fill, XORed with the PAN field;
//   - format 3: as format 0 but the fill nibbles are random values A–F, so two blocks of one
//     PIN differ. The randomness comes from an io.Reader the caller passes, so scenarios stay
//     deterministic under their seed.
//
// The PAN field of both formats is 0000 followed by the 12 rightmost PAN digits excluding the
// check digit. Blocks are encrypted with triple DES (ECB, one block) under the PIN key, as DE52
// carries them.
//
// A block that does not decrypt to a valid format 0 or 3 block for the PAN (wrong control
// nibble, length outside 4–12, a non-digit PIN nibble, a wrong fill nibble) fails with an
// error wrapping ErrFormat: the acquirer answers 99 ("PIN format error"). A valid block with
// another PIN is not a format error: Verify reports it as a mismatch (55).
//
// The package imports only the standard library and iso/keys, so package iso can build on it.
package pin
