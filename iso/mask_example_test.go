package iso_test

import (
	"fmt"

	"github.com/posdrill/posdrill/iso"
)

func ExampleMaskText() {
	fmt.Println(iso.MaskPAN("4761739001010010"))
	fmt.Println(iso.MaskTrack2("4761739001010010=30121011234567890"))
	fmt.Println(iso.MaskText("0200 DE2=4761739001010010 DE35=4761739001010010D3012101000 rc=05"))
	// Output:
	// 476173******0010
	// 476173******0010=****
	// 0200 DE2=476173******0010 DE35=476173******0010D**** rc=05
}
