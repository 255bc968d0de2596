package fault

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/trace"
)

func shaperFrame(t *testing.T, f iso.Framing, m *iso.Message) ([]byte, iso.Frame) {
	t.Helper()
	payload, err := iso.ASCII.Pack(m)
	if err != nil {
		t.Fatal(err)
	}
	var tpdu []byte
	if f.TPDU {
		tpdu = []byte{0x60, 0, 1, 0, 0}
	}
	raw, err := f.AppendFrame(nil, tpdu, payload)
	if err != nil {
		t.Fatal(err)
	}
	fr, err := f.ReadFrame(bytes.NewReader(raw), 0)
	if err != nil {
		t.Fatal(err)
	}
	return raw, fr
}

func saleMsg(stan string) *iso.Message {
	return &iso.Message{MTI: "0200", PAN: "4111111111111111", ProcessingCode: "000000", Amount: "000000002500",
		TransmissionTime: "0107120000", STAN: stan, EntryMode: "071", TerminalID: "TERM0001", MerchantID: "POSDRILL0000001", Currency: "156"}
}

// Each answer-side action acts on the answer to the request its rule matched — same
// connection, MTI class, terminal and STAN — and only on it; request-side actions act on
// the request; a plain answer, or one on another connection, passes.
func TestShaperPlans(t *testing.T) {
	fr, _ := iso.ParseFraming("len2+tpdu")
	tests := []struct {
		name   string
		rule   Rule
		check  func(t *testing.T, reqPlan, ansPlan trace.Plan, raw []byte)
		answer string // connection the answer comes on (default c1)
	}{
		{"delay", Rule{Action: ActionDelay, Params: Params{MS: 1500}}, func(t *testing.T, q, a trace.Plan, _ []byte) {
			if q.Delay != 0 || a.Delay != 1500*time.Millisecond || a.Drop || a.End != trace.EndNone {
				t.Errorf("request %+v answer %+v", q, a)
			}
		}, ""},
		{"drop_after_commit", Rule{Action: ActionDropAfterCommit}, func(t *testing.T, _, a trace.Plan, _ []byte) {
			if !a.Drop || a.End != trace.EndClose {
				t.Errorf("answer %+v", a)
			}
		}, ""},
		{"reset", Rule{Action: ActionReset}, func(t *testing.T, _, a trace.Plan, _ []byte) {
			if !a.Drop || a.End != trace.EndReset {
				t.Errorf("answer %+v", a)
			}
		}, ""},
		{"no_response", Rule{Action: ActionNoResponse}, func(t *testing.T, _, a trace.Plan, _ []byte) {
			if !a.Drop || a.End != trace.EndNone {
				t.Errorf("answer %+v", a)
			}
		}, ""},
		{"truncate", Rule{Action: ActionTruncateResponse, Params: Params{Bytes: 9}}, func(t *testing.T, _, a trace.Plan, raw []byte) {
			if len(a.Pieces) != 1 || !bytes.Equal(a.Pieces[0].Bytes, raw[:9]) || a.End != trace.EndClose {
				t.Errorf("answer %+v", a)
			}
		}, ""},
		{"split", Rule{Action: ActionSplitResponse, Params: Params{Chunk: 10, GapMS: 5}}, func(t *testing.T, _, a trace.Plan, raw []byte) {
			var joined []byte
			for i, p := range a.Pieces {
				joined = append(joined, p.Bytes...)
				if (i == 0) != (p.Gap == 0) || i > 0 && p.Gap != 5*time.Millisecond {
					t.Errorf("piece %d gap %v", i, p.Gap)
				}
			}
			if !bytes.Equal(joined, raw) || len(a.Pieces) != (len(raw)+9)/10 {
				t.Errorf("%d pieces do not make the answer", len(a.Pieces))
			}
		}, ""},
		{"garble keeps header and TPDU", Rule{Action: ActionGarbleResponse}, func(t *testing.T, _, a trace.Plan, raw []byte) {
			g := a.Pieces[0].Bytes
			if !bytes.Equal(g[:7], raw[:7]) || !bytes.Equal(g[7:11], []byte{0xFF, 0xFF, 0xFF, 0xFF}) || !bytes.Equal(g[11:], raw[11:]) {
				t.Errorf("garbled % X\nfrom      % X", g, raw)
			}
		}, ""},
		{"wrong_stan re-packs with STAN+1", Rule{Action: ActionWrongSTAN}, func(t *testing.T, _, a trace.Plan, _ []byte) {
			f, err := fr.ReadFrame(bytes.NewReader(a.Pieces[0].Bytes), 0)
			if err != nil {
				t.Fatal(err)
			}
			m, err := iso.ASCII.Unpack(f.Payload)
			if err != nil || m.STAN != "000124" || m.ResponseCode != "00" || !bytes.Equal(f.TPDU, []byte{0x60, 0, 1, 0, 0}) {
				t.Errorf("answer %+v %v tpdu % X", m, err, f.TPDU)
			}
		}, ""},
		{"duplicate", Rule{Action: ActionDuplicateResponse}, func(t *testing.T, _, a trace.Plan, raw []byte) {
			if len(a.Pieces) != 2 || !bytes.Equal(a.Pieces[0].Bytes, raw) || !bytes.Equal(a.Pieces[1].Bytes, raw) {
				t.Errorf("answer %+v", a)
			}
		}, ""},
		{"drop_before_processing", Rule{Action: ActionDropBeforeProcessing}, func(t *testing.T, q, a trace.Plan, _ []byte) {
			if !q.Drop || q.End != trace.EndClose || a.Drop || a.Pieces != nil {
				t.Errorf("request %+v answer %+v", q, a)
			}
		}, ""},
		{"delay_request", Rule{Action: ActionDelayRequest, Params: Params{MS: 300}}, func(t *testing.T, q, a trace.Plan, _ []byte) {
			if q.Delay != 300*time.Millisecond || a.Delay != 0 {
				t.Errorf("request %+v answer %+v", q, a)
			}
		}, ""},
		{"an answer on another connection is not the one", Rule{Action: ActionReset}, func(t *testing.T, _, a trace.Plan, _ []byte) {
			if a.Drop || a.End != trace.EndNone || a.Pieces != nil {
				t.Errorf("answer %+v", a)
			}
		}, "c2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			e := NewEngine(1, nil)
			s := NewShaper(e, ShaperOptions{Framing: fr, Trace: trace.NewWriter(&out)})
			tc.rule.Match = Match{MTI: StringList{"0200"}, Card: "visa-ok"}
			if _, err := e.Add(tc.rule); err != nil {
				t.Fatal(err)
			}
			qraw, qfr := shaperFrame(t, fr, saleMsg("000123"))
			qm, _ := iso.ASCII.Unpack(qfr.Payload)
			reqPlan := s.Shape("c1", iso.In, qraw, qfr, qm)
			// Another sale's answer first: it passes, and does not use up the firing.
			oraw, ofr := shaperFrame(t, fr, saleMsg("000122").Reply("00"))
			om, _ := iso.ASCII.Unpack(ofr.Payload)
			if p := s.Shape("c1", iso.Out, oraw, ofr, om); p.Drop || p.Pieces != nil || p.Delay != 0 || p.End != trace.EndNone {
				t.Errorf("another STAN's answer was shaped: %+v", p)
			}
			conn := tc.answer
			if conn == "" {
				conn = "c1"
			}
			araw, afr := shaperFrame(t, fr, saleMsg("000123").Reply("00"))
			am, _ := iso.ASCII.Unpack(afr.Payload)
			ansPlan := s.Shape(conn, iso.Out, araw, afr, am)
			tc.check(t, reqPlan, ansPlan, araw)
			if !strings.Contains(out.String(), `"action":"`+tc.rule.Action+`"`) || strings.Contains(out.String(), "4111111111111111") {
				t.Errorf("trace:\n%s", out.String())
			}
		})
	}
}

// A shaper's engine takes only network actions: a decline added through the admin API is
// refused with a reason, and nothing changes.
func TestShaperRefusesDecisions(t *testing.T) {
	e := NewEngine(1, nil)
	NewShaper(e, ShaperOptions{})
	_, err := e.Add(Rule{Action: "issuer_down"}, Rule{Action: ActionDelay, Params: Params{MS: 5}})
	if !errors.Is(err, ErrInvalidRule) || !strings.Contains(err.Error(), "rule 0: action: decline is not available here") {
		t.Errorf("err = %v", err)
	}
	if len(e.List()) != 0 {
		t.Errorf("rules added despite the refusal: %+v", e.List())
	}
}

// Garble spoils the MTI, not the headers around it, in every framing: the frame still reads
// whole, its TPDU and application header unchanged, and its payload no longer unpacks.
func TestGarbleEveryFraming(t *testing.T) {
	for _, name := range iso.Framings() {
		t.Run(name, func(t *testing.T) {
			f, err := iso.ParseFraming(name)
			if err != nil {
				t.Fatal(err)
			}
			payload, _ := iso.ASCII.Pack(saleMsg("000001").Reply("00"))
			var tpdu, hdr []byte
			if f.TPDU {
				tpdu = []byte{0x60, 0, 1, 0, 0}
			}
			if f.AppHeader > 0 {
				hdr = bytes.Repeat([]byte{0x61}, f.AppHeader)
			}
			raw, err := f.AppendFrameHeader(nil, tpdu, hdr, payload)
			if err != nil {
				t.Fatal(err)
			}
			Garble(raw, f)
			fr, err := f.ReadFrame(bytes.NewReader(raw), 0)
			if err != nil {
				t.Fatalf("the garbled frame no longer reads as a frame: %v", err)
			}
			if !bytes.Equal(fr.TPDU, tpdu) || !bytes.Equal(fr.Header, hdr) {
				t.Errorf("headers changed: tpdu % X header % X", fr.TPDU, fr.Header)
			}
			if _, err := iso.ASCII.Unpack(fr.Payload); err == nil {
				t.Errorf("the garbled payload still unpacks")
			}
		})
	}
}
