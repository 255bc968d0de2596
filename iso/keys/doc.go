// Package keys holds the key handling both sides of a posdrill link share: triple-DES
// helpers on crypto/des (ECB and CBC over whole 8-byte blocks), key check values (KCV),
// and the wrap/unwrap of working keys (PIN key, MAC key, track key) under a terminal
// master key (TMK), as a sign-on (0800/0810) delivers them.
//
// Keys are plain byte slices so callers can pass fixture bytes straight in; the Key type
// adds a String/Format/GoString that never prints key bytes (only the length and the KCV),
// so a Key that reaches a log, a trace or an error text stays masked.
//
// Key lengths: 8 bytes (single DES, as older UnionPay profiles deliver with DE60.3 = 001),
// 16 bytes (double length K1 K2, used as K1 K2 K1) and 24 bytes (triple length). A 16-byte
// key whose halves are equal behaves as single DES, which is how double-length hardware
// emulates single-length keys.
//
// Only the standard library is used (TEAM.md: crypto from the standard library only).
package keys
