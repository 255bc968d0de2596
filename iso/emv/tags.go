package emv

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/posdrill/posdrill/iso"
)

// names of common EMV tags (EMV Book 3 Annex A, Book 4, and the usual DE55 contents).
var names = map[Tag]string{
	0x4F:   "Application Identifier (AID) - card",
	0x50:   "Application Label",
	0x56:   "Track 1 Equivalent Data",
	0x57:   "Track 2 Equivalent Data",
	0x5A:   "Application PAN",
	0x5F20: "Cardholder Name",
	0x5F24: "Application Expiration Date",
	0x5F25: "Application Effective Date",
	0x5F28: "Issuer Country Code",
	0x5F2A: "Transaction Currency Code",
	0x5F2D: "Language Preference",
	0x5F30: "Service Code",
	0x5F34: "PAN Sequence Number",
	0x5F36: "Transaction Currency Exponent",
	0x6F:   "File Control Information Template",
	0x70:   "Record Template",
	0x71:   "Issuer Script Template 1",
	0x72:   "Issuer Script Template 2",
	0x77:   "Response Message Template Format 2",
	0x80:   "Response Message Template Format 1",
	0x82:   "Application Interchange Profile",
	0x84:   "Dedicated File Name",
	0x86:   "Issuer Script Command",
	0x87:   "Application Priority Indicator",
	0x89:   "Authorisation Code",
	0x8A:   "Authorisation Response Code",
	0x8C:   "CDOL1",
	0x8D:   "CDOL2",
	0x8E:   "CVM List",
	0x8F:   "CA Public Key Index",
	0x91:   "Issuer Authentication Data",
	0x94:   "Application File Locator",
	0x95:   "Terminal Verification Results",
	0x9A:   "Transaction Date",
	0x9B:   "Transaction Status Information",
	0x9C:   "Transaction Type",
	0x9F01: "Acquirer Identifier",
	0x9F02: "Amount, Authorised (Numeric)",
	0x9F03: "Amount, Other (Numeric)",
	0x9F06: "Application Identifier (AID) - terminal",
	0x9F07: "Application Usage Control",
	0x9F08: "Application Version Number - card",
	0x9F09: "Application Version Number - terminal",
	0x9F0D: "Issuer Action Code - Default",
	0x9F0E: "Issuer Action Code - Denial",
	0x9F0F: "Issuer Action Code - Online",
	0x9F10: "Issuer Application Data",
	0x9F11: "Issuer Code Table Index",
	0x9F12: "Application Preferred Name",
	0x9F15: "Merchant Category Code",
	0x9F16: "Merchant Identifier",
	0x9F18: "Issuer Script Identifier",
	0x9F1A: "Terminal Country Code",
	0x9F1C: "Terminal Identification",
	0x9F1E: "Interface Device (IFD) Serial Number",
	0x9F1F: "Track 1 Discretionary Data",
	0x9F20: "Track 2 Discretionary Data",
	0x9F21: "Transaction Time",
	0x9F26: "Application Cryptogram",
	0x9F27: "Cryptogram Information Data",
	0x9F33: "Terminal Capabilities",
	0x9F34: "CVM Results",
	0x9F35: "Terminal Type",
	0x9F36: "Application Transaction Counter",
	0x9F37: "Unpredictable Number",
	0x9F39: "POS Entry Mode",
	0x9F40: "Additional Terminal Capabilities",
	0x9F41: "Transaction Sequence Counter",
	0x9F42: "Application Currency Code",
	0x9F53: "Transaction Category Code",
	0x9F5B: "Issuer Script Results",
	0x9F63: "Card Product Identification Information",
	0x9F66: "Terminal Transaction Qualifiers",
	0x9F6B: "Track 2 Data (contactless)",
	0x9F6E: "Form Factor Indicator / Third Party Data",
	0x9F74: "VLP Issuer Authorisation Code",
	0xDF31: "Issuer Script Results (UnionPay)",
	0x9F7C: "Customer Exclusive Data",
	0xBF0C: "FCI Issuer Discretionary Data",
	0xA5:   "FCI Proprietary Template",
	0x9F4E: "Merchant Name and Location",
	0x9F45: "Data Authentication Code",
	0x9F4C: "ICC Dynamic Number",
	0x9F5D: "Available Offline Spending Amount",
	0x9F6C: "Card Transaction Qualifiers",
	0x9F24: "Payment Account Reference",
	0x9F19: "Token Requestor ID",
	0x9F25: "Last 4 Digits of PAN",
	0x9F7A: "VLP Terminal Support Indicator",
	0x9F79: "VLP Available Funds",
	0x9F0B: "Cardholder Name Extended",
}

// Name is the tag's EMV name, or "" for a tag posdrill does not know.
func (t Tag) Name() string { return names[t] }

// panBearing lists the tags whose value holds the PAN or track data; Display masks them.
var panBearing = map[Tag]bool{0x5A: true, 0x57: true, 0x56: true, 0x9F6B: true, 0x9F1F: true, 0x9F20: true}

// Sensitive reports whether a tag's value must never be shown in full.
func (t Tag) Sensitive() bool { return panBearing[t] }

// Display renders a value for people: hex for most tags, a masked PAN (first 6 / last 4 at
// most) for 5A, masked track data for 57 and 9F6B, and "[n bytes masked]" for track 1 data
// (56, 9F1F) and track 2 discretionary data (9F20).
func Display(t Tag, v []byte) string {
	switch t {
	case 0x5A:
		return iso.MaskPAN(strings.TrimRight(nibbles(v), "F"))
	case 0x57, 0x9F6B:
		return iso.MaskTrack2(strings.TrimRight(nibbles(v), "F"))
	case 0x56, 0x9F1F, 0x9F20:
		return fmt.Sprintf("[%d bytes masked]", len(v))
	}
	return strings.ToUpper(hex.EncodeToString(v))
}

func nibbles(v []byte) string { return strings.ToUpper(hex.EncodeToString(v)) }

// Line is one data object as decode shows it.
type Line struct {
	Depth int    // 0 for top level, 1 inside a constructed tag, …
	Tag   Tag    //
	Name  string // "" when unknown
	Len   int    // value length in bytes
	Value string // Display(Tag, Value); "" for constructed objects (their children follow)
}

// Lines flattens the list for display, constructed objects followed by their children.
func (l List) Lines() []Line {
	var out []Line
	var walk func(List, int)
	walk = func(l List, d int) {
		for _, o := range l {
			ln := Line{Depth: d, Tag: o.Tag, Name: o.Tag.Name(), Len: len(o.Value)}
			if !o.Tag.Constructed() {
				ln.Value = Display(o.Tag, o.Value)
			}
			out = append(out, ln)
			walk(o.Children, d+1)
		}
	}
	walk(l, 0)
	return out
}

// String renders the list one object per line, masked: "9F26 Application Cryptogram (8): …".
func (l List) String() string {
	var b strings.Builder
	for _, ln := range l.Lines() {
		b.WriteString(strings.Repeat("  ", ln.Depth))
		fmt.Fprintf(&b, "%s", ln.Tag)
		if ln.Name != "" {
			fmt.Fprintf(&b, " %s", ln.Name)
		}
		fmt.Fprintf(&b, " (%d)", ln.Len)
		if ln.Value != "" {
			fmt.Fprintf(&b, ": %s", ln.Value)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// Format masks a List for every fmt verb, so a List in a log line never shows a PAN.
func (l List) Format(f fmt.State, _ rune) {
	_, _ = f.Write([]byte(strings.TrimRight(l.String(), "\n")))
}
