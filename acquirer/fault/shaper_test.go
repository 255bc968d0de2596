package fault

import (
	"testing"
	"time"

	"github.com/posdrill/posdrill/iso"
)

// TestShaperPairsAnswers: a proxy's answer-side fault lands on the host's answer to the
// request it fired on, paired by iso.Answers — also when the host leaves DE41 out of its
// answers (the shaper used to want the exact DE41 and let such an answer through untouched),
// and a contactless magnetic-stripe request (DE22 91x) is matched by entry_mode: contactless.
func TestShaperPairsAnswers(t *testing.T) {
	req := &iso.Message{MTI: "0200", STAN: "000007", TerminalID: "TERM0001", EntryMode: "912", ProcessingCode: "000000"}
	tests := []struct {
		name   string
		answer *iso.Message
		delay  bool
	}{
		{"same terminal", &iso.Message{MTI: "0210", STAN: "000007", TerminalID: "TERM0001", ResponseCode: "00"}, true},
		{"no DE41 in the answer", &iso.Message{MTI: "0210", STAN: "000007", ResponseCode: "00"}, true},
		{"another terminal", &iso.Message{MTI: "0210", STAN: "000007", TerminalID: "TERM0002", ResponseCode: "00"}, false},
		{"another STAN", &iso.Message{MTI: "0210", STAN: "000008", TerminalID: "TERM0001", ResponseCode: "00"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newTestEngine(t, 1, Rule{Name: "slow tap", Match: Match{EntryMode: "contactless"}, Action: ActionDelay, Params: Params{MS: 1500}})
			s := NewShaper(e, ShaperOptions{})
			if p := s.Shape("c1", iso.In, nil, iso.Frame{}, req); p.Delay != 0 || p.Drop {
				t.Fatalf("the request itself was shaped: %+v", p)
			}
			p := s.Shape("c1", iso.Out, nil, iso.Frame{}, tt.answer)
			if got := p.Delay == 1500*time.Millisecond; got != tt.delay {
				t.Errorf("answer %s STAN %s terminal %q: plan %+v, want delayed=%v", tt.answer.MTI, tt.answer.STAN, tt.answer.TerminalID, p, tt.delay)
			}
		})
	}
}
