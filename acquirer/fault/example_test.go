package fault_test

import (
	"fmt"
	"time"

	"github.com/posdrill/posdrill/acquirer/fault"
	"github.com/posdrill/posdrill/iso/clock"
)

func Example() {
	rules, err := fault.ParseYAML([]byte(`
- name: issuer down once for the coffee card
  match: {card: coffee, mti: 0200}
  action: issuer_down
  count: 1
- action: delay
  params: {ms: 40000}
`), "faults.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	e := fault.NewEngine(42, clock.NewVirtual(time.Unix(0, 0)))
	ids, _ := e.Add(rules...)
	fmt.Println(ids)
	for i := 0; i < 2; i++ {
		f := e.Evaluate(fault.Request{MTI: "0200", Card: "coffee", Amount: 2500})
		fmt.Println(f.RuleID, f.Action, f.Params.Code, f.Params.MS)
	}
	// Output:
	// [f1 f2]
	// f1 decline 91 0
	// f2 delay  40000
}

func ExampleParseYAML_errors() {
	_, err := fault.ParseYAML([]byte("- action: explode\n- action: delay\n  params: {ms: 0, bytes: 3}\n"), "faults.yaml")
	fmt.Println(err)
	// Output:
	// faults.yaml:1:11: unknown action "explode" (known: bad_arpc, bad_mac, batch_out_of_sync, decline, delay, delay_request, do_not_honour, drop_after_commit, drop_before_processing, duplicate_response, expired_card, format_error, garble_response, insufficient_funds, invalid_amount, issuer_down, mac_error, mac_verify_failed, no_response, not_permitted, partial_approval, pick_up, pin_format_error, reenter, refuse_connections, request_sign_on, reset, rotate_keys, security_failure, split_response, system_error, truncate_response, wrong_stan)
	// faults.yaml:3:16: params.ms: must be > 0 for delay (at most 86400000)
	// faults.yaml:3:26: params.bytes: not a parameter of delay (it takes only ms)
}
