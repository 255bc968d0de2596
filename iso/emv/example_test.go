package emv_test

import (
	"fmt"
	"time"

	"github.com/posdrill/posdrill/iso/emv"
)

// The chip round of one online authorisation.
func Example() {
	keys := emv.DefaultKeys()
	mk, _ := keys.CardKey("visa", "visa-ok", "4111111111111111")

	// Terminal: the card's ARQC over the transaction data; req.Bytes() is DE55.
	card := emv.Card{MK: mk, PSN: keys.PSN("visa-ok"), ATC: 7}
	req, _ := card.Request(emv.Txn{Amount: "2500", Currency: "156", Country: "156",
		Date: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC), UN: []byte{1, 2, 3, 4}})

	// Host: verify the ARQC, answer tag 91 in the response's DE55.
	resp, err := emv.Respond(mk, req, "00")
	fmt.Println(err)

	// Terminal: the card's second GENERATE AC.
	d := emv.Complete(mk, req, resp, "00")
	fmt.Println(d.Approved)
	// Output:
	// <nil>
	// true
}
