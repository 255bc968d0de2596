package iso

import (
	"fmt"
	"strings"
)

// Message types of the card-present flows (docs/domain.md §1).
const (
	MTIAuthRequest       = "0100" // pre-authorization
	MTIAuthResponse      = "0110"
	MTIFinancialRequest  = "0200" // sale, refund, balance inquiry
	MTIFinancialResponse = "0210"
	MTIFinancialAdvice   = "0220" // pre-auth completion, offline sale
	MTIFinancialAdvResp  = "0230"
	MTIBatchUpload       = "0320"
	MTIBatchUploadResp   = "0330"
	MTIReversalRequest   = "0400"
	MTIReversalResponse  = "0410"
	MTIReversalAdvice    = "0420"
	MTIReversalAdvResp   = "0430"
	MTISettlement        = "0500"
	MTISettlementResp    = "0510"
	MTINetworkRequest    = "0800"
	MTINetworkResponse   = "0810"
)

// Processing codes (DE3) and network management codes (DE70).
const (
	ProcPurchase = "000000"
	ProcRefund   = "200000"
	ProcBalance  = "310000"
	NetSignOn    = "001"
	NetSignOff   = "002"
	NetEcho      = "301"
)

// Reversal reasons carried in DE39 of a 0400/0420 (ISO 8583:1987 practice).
const (
	ReasonTimeout     = "68" // response received too late / not at all
	ReasonCancel      = "17" // customer cancellation
	ReasonMalfunction = "22" // suspected malfunction (device fault)
)

// echoed are the fields an answer copies from its request.
var echoed = []int{2, 3, 4, 7, 11, 12, 13, 22, 25, 32, 37, 41, 42, 49, 60, 70, 90}

// Reply builds the answer to a request: the response MTI, the echoed fields and the code.
func (m *Message) Reply(code string) *Message {
	r := &Message{MTI: ResponseMTI(m.MTI), ResponseCode: code}
	for _, id := range echoed {
		if v, ok := m.Get(id); ok {
			_ = r.Set(id, v)
		}
	}
	return r
}

// OriginalData is DE90: what a reversal points at.
type OriginalData struct {
	MTI         string
	STAN        string
	Transmitted string // DE7 of the original, MMDDhhmmss
	AcquirerID  string
	ForwarderID string
}

// String renders n42: MTI(4) STAN(6) DE7(10) acquirer(11) forwarder(11), zero-padded.
func (o OriginalData) String() string {
	return fmt.Sprintf("%4s%06s%010s%011s%011s", o.MTI, o.STAN, o.Transmitted, o.AcquirerID, o.ForwarderID)
}

// ParseOriginalData reads DE90.
func ParseOriginalData(s string) (OriginalData, error) {
	if len(s) != 42 || strings.Trim(s, "0123456789") != "" {
		return OriginalData{}, fmt.Errorf("DE90 must be 42 digits, got %d characters", len(s))
	}
	return OriginalData{MTI: s[0:4], STAN: s[4:10], Transmitted: s[10:20], AcquirerID: s[20:31], ForwarderID: s[31:42]}, nil
}

// PANOf returns the card number from DE2, or from track 2 when DE2 is absent.
func (m *Message) PANOf() string {
	if m.PAN != "" {
		return m.PAN
	}
	if i := strings.IndexAny(m.Track2, "=D"); i > 0 {
		return m.Track2[:i]
	}
	return ""
}

// ExpiryOf returns YYMM from DE14, or from track 2 after the separator.
func (m *Message) ExpiryOf() string {
	if m.Expiry != "" {
		return m.Expiry
	}
	if i := strings.IndexAny(m.Track2, "=D"); i > 0 && len(m.Track2) >= i+5 {
		return m.Track2[i+1 : i+5]
	}
	return ""
}
