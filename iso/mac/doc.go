// Package mac computes and verifies the message authentication codes ISO 8583 terminals put
// in DE64/DE128:
//
//   - X919: ANSI X9.19 retail MAC = ISO 9797-1 MAC algorithm 3 with padding method 1 (zero
//     fill to a whole block): single-DES CBC-MAC under K1, the last block then decrypted with
//     K2 and encrypted with K1. Needs a double-length key.
//   - ISO9797Alg3M1 / ISO9797Alg3M2: ISO 9797-1 algorithm 3 with padding method 1 (same bytes
//     as X919) or method 2 (0x80 then zeros, always added). Same key.
//   - CUPECB: the UnionPay POS "ECB" MAC (银联ECB): XOR the zero-padded 8-byte blocks of the
//     MAC element block, expand the 8-byte result to 16 upper-case hex characters, encrypt the
//     first 8 characters with the MAC key, XOR with the last 8 characters, encrypt again,
//     expand to hex and keep the first 8 characters. The encryption is single DES with an
//     8-byte key and TDES with a double-length key. The result is 8 ASCII bytes, which is
//     what CUP terminals put in DE64.
//   - AESCMAC: AES-CMAC (NIST SP 800-38B), the MAC of AES DUKPT working keys; the leftmost
//     8 bytes (CMAC returns all 16).
//
// Which bytes are MACed (the whole message, MTI to the field before the MAC, or a subset of
// fields) is the dialect's business; this package MACs the bytes it is given.
//
// Compute returns 8 bytes for every algorithm. Verify accepts a truncated MAC (4 to 8 bytes,
// compared with the same number of leading bytes) and compares in constant time.
package mac
