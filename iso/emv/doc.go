// Package emv reads and writes the chip data of DE55 and computes the cryptograms a host
// checks:
//
//   - BER-TLV (EMV Book 3 Annex B): Parse / List.Bytes, tags of 1 to 3 bytes, lengths of 1
//     to 3 bytes (up to 0x82 xx xx), constructed tags parsed into their children. A broken
//     tag or length is a *ParseError naming the byte offset and the tag, wrapping ErrTLV.
//   - Tag names for the common EMV tags (Name), and masking: PAN-bearing tags (5A, 57, 56,
//     9F6B, 9F1F, 9F20) are never shown in full (Display).
//   - Application cryptograms with EMV common session key (CSK) derivation (Book 2 A1.3):
//     the card master key from the issuer master key by Option A (Book 2 A1.4.1), the session
//     key from the ATC, the ARQC as an ISO 9797-1 algorithm 3 MAC (padding method 2) over the
//     transaction data (ARQCData lists the tags), and the ARPC by method 1 (Book 2 A1.2.1)
//     returned in tag 91 with the authorisation response code.
//
// Why not moov-io/iso8583's BER-TLV composite for DE55: a composite field needs a subfield
// spec for every tag and drops (SkipUnknownTLVTags) or refuses tags it does not know, re-sorts
// tags by hex on pack (a relayed DE55 would change bytes and break a MAC over it), and one bad
// TLV length fails the unpack of the whole message without saying at which byte. posdrill
// keeps DE55 a binary field in every dialect and parses it here; a test checks that this
// parser and moov's emv spec read the same sample identically (docs/libraries.md).
//
// The package uses the standard library, iso (masking) and the iso/keys and iso/mac packages.
package emv
