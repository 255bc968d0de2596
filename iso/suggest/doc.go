// Package suggest finds the known name nearest to a mistyped one, so that every error about an
// unknown card, scenario, dialect, framing, entry mode, flag or subcommand can end with
// "did you mean X?". It sits under iso so that the acquirer (HTTP 400 for a fault rule naming an
// unknown card), the scenario parser and the command line share one notion of "near".
//
// Names passed in are printed as given: a caller holding something that may be a card number
// masks it first (iso.MaskText).
package suggest
