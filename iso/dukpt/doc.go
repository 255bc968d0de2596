// Package dukpt derives DUKPT (Derived Unique Key Per Transaction) keys, the key scheme of
// international terminals and PIN pads, with the standard library's crypto/des and crypto/aes:
//
//   - TDES DUKPT, ANSI X9.24-1:2009: a 10-byte KSN (59-bit initial key serial number and a
//     21-bit transaction counter), the initial PIN encryption key (IPEK) from the base
//     derivation key (BDK), the non-reversible key generation process walking the counter's
//     one bits, and the PIN / MAC request / MAC response / data request / data response
//     variants.
//   - AES DUKPT, ANSI X9.24-3:2017: a 12-byte KSN (8-byte initial key ID and a 32-bit
//     counter), the initial key from the BDK, intermediate derivation keys and working keys
//     for a usage (PIN, MAC, data, …) and a key type (AES-128/192/256, 2- or 3-key TDES), all
//     through the standard's AES-ECB derivation-data function.
//
// Both sides use the same functions: a terminal holds the IPEK/IK and its KSN (Next advances
// it), the host holds the BDK and derives the same key from the KSN the message carries.
// Key bytes never print from here: errors name lengths and fields only.
//
// Tested against the published vectors: X9.24-1:2009 Annex A ("initial sequence", BDK
// 0123456789ABCDEFFEDCBA9876543210, KSN FFFF9876543210E0000n) and the X9.24-3:2017
// supplement test vectors (AES-128 BDK FEDCBA9876543210F1F1F1F1F1F1F1F1, initial key ID
// 1234567890123456).
//
// moov-io/dukpt would have done this, but the module proxy here does not serve it
// (docs/libraries.md).
package dukpt
