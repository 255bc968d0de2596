package scenarios_test

import (
	"context"
	"fmt"

	"github.com/posdrill/posdrill/scenarios"
)

// A scenario is checked as a whole: every problem is reported at its position.
func ExampleParse() {
	_, err := scenarios.Parse([]byte(`title: Typos
steps:
  - sael: {card: visa-ok, amount: "25.00"}
  - sale: {card: visa-ok, amount: "25.001"}
  - advance: 45 seconds
`), "typos.yaml")
	fmt.Println(err)
	// Output:
	// typos.yaml:3:5: unknown step "sael" (did you mean "sale"?); steps are sale, refund, preauth, balance, complete, void, echo, sign_on, sign_off, settle, advance, restart_terminal, restart_acquirer, fault, device_fault, drain_saf or reprint (plus id and expect)
	// typos.yaml:4:35: amount: amount "25.001": 3 decimals; an amount has at most 2, e.g. 25.00
	// typos.yaml:5:14: advance "45 seconds" is not a duration; write it like "45s", "2m30s" or "24h"
}

// Running a scenario: a lost answer, the automatic reversal, and the customer's balance
// back where it was — two minutes of shop time in a few milliseconds.
func ExampleRun() {
	sc, err := scenarios.Parse([]byte(`title: Lost answer
faults:
  - {match: {mti: "0200"}, action: drop_after_commit, count: 1}
steps:
  - sale: {card: visa-ok, amount: "25.00"}
    expect:
      outcome: timed_out_reversed
      flow: ["0800 → 0810 00", "0200 → (none)", "0800 → 0810 00", "0420 → 0430 00"]
      ledger: {visa-ok: "10000.00"}
  - advance: 2m
`), "lost.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	res := scenarios.Run(context.Background(), sc, scenarios.Options{})
	fmt.Println(res.Passed, res.SimTime, res.FaultActions)
	// Output: true 2m0s [drop_after_commit]
}

// A --drive template filled for one cashier action: each value is quoted for sh when it
// needs it, an empty one becomes ”.
func ExampleDriveCommand() {
	a := scenarios.DriveAction{Type: "sale", Card: "visa-ok", Amount: "25.00", Entry: "contactless", Host: "127.0.0.1:8583"}
	fmt.Println(scenarios.DriveCommand("./pos-harness --host {host} {type} {card} {amount} {entry} --pin {pin}", a))
	fmt.Println(scenarios.Instruction(a, "en"))
	fmt.Println(scenarios.Instruction(a, "zh"))
	// Output:
	// ./pos-harness --host 127.0.0.1:8583 sale visa-ok 25.00 contactless --pin ''
	// Sale 25.00, card visa-ok, tap
	// 消费 25.00，卡 visa-ok，挥卡
}
