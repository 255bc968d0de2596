// Package fault decides which failure the mock acquirer or the fault proxy injects into a
// message: rules, their YAML/JSON format, the engine that evaluates them, the admin HTTP API,
// and what each action does to the bytes of a frame (frame.go). It does not own a socket:
// the acquirer performs a Firing on its answers, and Shaper turns firings into the plans the
// proxy of iso/trace carries out on frames passing between a real terminal and a real host.
//
// # Rule format
//
// A rule file is a list of rules (or a single rule, or a mapping with a "faults" list). YAML
// and JSON use the same snake_case field names:
//
//	# faults.yaml
//	- name: issuer down on the coffee card    # optional; shown in journals and traces
//	  match:                                  # all optional; every field given must fit
//	    card: coffee                          # card name the acquirer resolved (any case)
//	    mti: [0200, 0201]                     # exact: a rule for 0200 does NOT match repeat 0201
//	  action: issuer_down                     # = decline with code 91
//	  count: 1                                # fire at most once (0 or absent: every match)
//
//	- name: answer lost after commit on big sales
//	  match: {mti: "0200", amount_min: "100.00", entry_mode: contactless}
//	  action: drop_after_commit
//	  after: 2                                # let the first 2 matches through
//	  probability: 0.3                        # drawn from the engine's seeded generator
//
//	- action: split_response
//	  params: {chunk: 7, gap_ms: 20}
//
// Match fields: mti (string or list, 4 digits, exact), card, pan (exact, 12–19 digits),
// pan_prefix, terminal (DE41, padding ignored), stan (DE11, 6 digits), amount or amount_min/amount_max (major units
// with at most 2 decimals, "25.00"; bounds inclusive), processing_code (6 digits exact, or 2
// digits for the transaction type: "20" matches every refund), entry_mode (chip, contactless,
// swipe, fallback, keyed, qr; the acquirer may pass DE22 and it is mapped by iso.EntryModeOf:
// 05x chip, 07x/91x contactless, 90x/02x swipe, 80x fallback, 01x keyed, 03x qr).
//
// Unquoted numbers keep their text in string fields: mti: 0200 is "0200" and code: 05 is
// "05" (YAML would otherwise read 0200 as octal).
//
// # Actions and params
//
//	decline{code}                  answer with DE39 = code (2 characters)
//	delay{ms > 0}                  answer ms late
//	delay_request{ms > 0}          hold the request ms before the host sees it (processing starts late)
//	no_response                    process, never answer
//	drop_before_processing         swallow the request unprocessed
//	drop_after_commit              commit, then lose the answer
//	reset                          abortive close instead of answering
//	truncate_response{bytes > 0}   send only the first bytes of the frame
//	split_response{chunk > 0, gap_ms >= 0}
//	garble_response, wrong_stan, duplicate_response
//	refuse_connections{ms >= 0}    refuse new connections for ms after the rule is added (0 = until removed)
//	partial_approval{amount}       approve this much, major units ("10.00")
//	request_sign_on                answer as usual with the UnionPay header's processing
//	                               requirement 3: the terminal signs on after the transaction
//	bad_mac                        answer with a MAC (DE64/DE128) that does not verify
//	bad_arpc                       answer with an ARPC (DE55 tag 91) the card rejects
//	rotate_keys                    the host changes the terminal's working keys without telling
//	                               it: every MAC fails (A0) until the terminal signs on again
//
// Aliases normalise to decline with a code (and give the rule their name if it has none):
// do_not_honour 05, pick_up 04, invalid_amount 13, reenter 19, format_error 30,
// insufficient_funds 51, expired_card 54, not_permitted 58, issuer_down 91, system_error 96,
// mac_error 98; UnionPay codes that ask the terminal to sign on again: mac_verify_failed A0,
// pin_format_error 99, security_failure A7, batch_out_of_sync 77. A param an action does not
// take is an error that names it.
//
// # Evaluation
//
// Rules are tried in the order they were added. A rule whose match fits counts the match
// (Matched); it lets the first after matches through, stops after firing count times, and with
// 0 < probability < 1 fires on a draw from the engine's one seeded generator (p = 0 never
// fires, p = 1 or absent always does; neither draws, so adding them does not shift other
// rules' sequences). The first rule that fires wins and its Fired count increments.
// refuse_connections rules are consulted by RefuseConnections, once per connection attempt,
// with the same after/count/probability semantics, and never by Evaluate.
//
// # Errors
//
// ParseYAML reports every problem in a file, one per line, as
//
//	faults.yaml:7:11: unknown action "explode" (known: decline, delay, ...)
//	faults.yaml:13:9: params.ms: must be > 0 for delay (at most 86400000)
//
// ParseJSON and Engine.Add name the rule by its 0-based index in the list:
//
//	rule 2: params.ms: must be > 0 for delay (at most 86400000)
//
// Both return a *ParseError (structured PosError entries) wrapping ErrInvalidRule. Card
// numbers are never echoed in errors, and one typed into a rule name is masked.
package fault
