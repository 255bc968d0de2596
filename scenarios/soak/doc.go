// Package soak runs many transactions through real simulator terminals against the real
// acquirer, over loopback TCP, under seeded random fault rules (host faults on requests and
// reversals, refused connections, terminal power losses), then drains every terminal's SAF
// queue and checks that nothing was lost or charged twice:
//
//   - per card, the host balance equals opening − approved sales + refunds, as the host's own
//     transactions say (reversed ones count zero), and nothing stays held;
//   - every payment the customer was told is approved is charged at the host, exactly once,
//     for the amount approved (unless voided afterwards);
//   - no payment the terminal ended as failed (declined, no answer, not sent, power loss,
//     voided) is charged at the host once the SAF queues are drained;
//   - no host charge is unknown to the terminal; no reversed transaction keeps an amount;
//   - every SAF queue drains and nothing goes to manual reconciliation.
//
// The seed fixes the operations each terminal runs and the fault engine's random stream;
// with more than one terminal (and real time), the interleaving is not reproducible, so a
// violation report lists every detail needed to understand it without a rerun. `posdrill
// soak` is the command; the package test runs a small soak by default and a large one with
// POSDRILL_SOAK=1.
package soak
