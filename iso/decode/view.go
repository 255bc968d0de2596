package decode

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/posdrill/posdrill/iso"
	"github.com/posdrill/posdrill/iso/emv"
)

// View is a decoded message as shown to people and tools; its JSON names are stable.
// Card data in it is masked.
type View struct {
	InputFormat  string `json:"input_format,omitempty"`
	InputBytes   int    `json:"input_bytes"`
	Framing      string `json:"framing"`
	HeaderBytes  int    `json:"header_bytes"`
	HeaderLength *int   `json:"header_length,omitempty"` // what the length header says
	HeaderExact  bool   `json:"header_exact"`
	TPDU         string `json:"tpdu,omitempty"`
	// MessageHeader is the application header after the TPDU, as hex; for a 6-byte CUP
	// header MessageHeaderParts names its parts.
	MessageHeader      string            `json:"message_header,omitempty"`
	MessageHeaderParts map[string]string `json:"message_header_parts,omitempty"`
	Dialect            string            `json:"dialect"`
	MessageOffset      int               `json:"message_offset"`
	MTI                string            `json:"mti"`
	MTIMeaning         string            `json:"mti_meaning"`
	Bitmap             string            `json:"bitmap"`
	Present            []int             `json:"present"`
	Fields             []FieldView       `json:"fields"`
	TrailingBytes      int               `json:"trailing_bytes"`
	ExtraBytes         int               `json:"extra_bytes"`
	AlsoDecodesAs      []string          `json:"also_decodes_as,omitempty"`
	// Chosen says why this reading of the input (dump layout, framing, dialect) won, and
	// Tried how many framing/dialect readings were tried.
	Chosen string `json:"chosen,omitempty"`
	Tried  int    `json:"tried,omitempty"`
	// Warnings counts fields whose value does not fit their type (FieldView.Warning).
	Warnings int `json:"warnings"`
}

// FieldView is one field. Offset counts from the start of the whole input.
type FieldView struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Format      string `json:"format"`
	Offset      int    `json:"offset"`
	Length      int    `json:"length"`
	Value       string `json:"value"`
	Masked      bool   `json:"masked,omitempty"`
	Explanation string `json:"explanation,omitempty"`
	// Warning says why the value does not fit the field's type (letters in a numeric field,
	// month 13 in a date); "" when it fits.
	Warning string            `json:"warning,omitempty"`
	Details map[string]string `json:"details,omitempty"`
	// TLV breaks DE55 (EMV chip data) into its tags, PAN-bearing tags (5A, 57, 56, 9F6B, …)
	// masked. Absent when the field does not parse as BER-TLV (Explanation then says where
	// it broke).
	TLV []TLVView `json:"tlv,omitempty"`
}

// TLVView is one EMV data object of DE55.
type TLVView struct {
	Depth  int    `json:"depth,omitempty"` // 1 inside a constructed tag (issuer scripts), …
	Tag    string `json:"tag"`
	Name   string `json:"name,omitempty"`
	Length int    `json:"length"`
	Value  string `json:"value,omitempty"` // masked where the tag carries card data
}

// chipData fills a DE55 field view with its tags; the value stays masked as a whole.
func chipData(fv *FieldView, hexValue string) {
	raw, err := hex.DecodeString(hexValue)
	if err != nil {
		return
	}
	l, err := emv.Parse(raw)
	if err != nil {
		// The parse error names a byte offset, a tag and a reason, never value bytes.
		fv.Explanation = "chip data does not parse: " + err.Error()
		return
	}
	for _, ln := range l.Lines() {
		fv.TLV = append(fv.TLV, TLVView{Depth: ln.Depth, Tag: ln.Tag.String(), Name: ln.Name, Length: ln.Len, Value: ln.Value})
	}
	fv.Value = fmt.Sprintf("[%d bytes, %d EMV tags below]", len(raw), len(fv.TLV))
}

// View describes the result, masked.
func (r *Result) View() View {
	v := View{
		InputFormat: string(r.Format), InputBytes: r.Input, Framing: r.Framing, HeaderBytes: r.HeaderLen,
		HeaderExact: r.HeaderExact, Dialect: r.Dialect.Name, MessageOffset: r.Start,
		TrailingBytes: r.Decoded.Trailing, ExtraBytes: r.Extra, AlsoDecodesAs: r.Also,
		Chosen: r.Chosen, Tried: r.Tried,
	}
	if r.HeaderValue >= 0 {
		n := r.HeaderValue
		v.HeaderLength = &n
	}
	if r.TPDU != nil {
		v.TPDU = strings.ToUpper(hex.EncodeToString(r.TPDU))
	}
	if r.AppHeader != nil {
		v.MessageHeader = strings.ToUpper(hex.EncodeToString(r.AppHeader))
		if h, err := iso.ParseCUPHeader(r.AppHeader); err == nil {
			v.MessageHeaderParts = map[string]string{"application_type": h.AppType, "version": h.Version,
				"terminal_status": fmt.Sprint(h.TerminalStatus), "processing_requirement": fmt.Sprint(h.Processing),
				"processing_meaning": iso.CUPProcessingMeaning(h.Processing), "software_version": h.Software}
		}
	}
	mv := MessageView(r.Dialect, r.Decoded, r.Start)
	v.MTI, v.MTIMeaning, v.Bitmap, v.Present, v.Fields = mv.MTI, mv.MTIMeaning, mv.Bitmap, mv.Present, mv.Fields
	v.Warnings = mv.Warnings
	return v
}

// MessageView describes a decoded payload on its own: MTI, bitmap and fields, masked, with
// offsets shifted by base (where the payload starts in the input).
func MessageView(d *iso.Dialect, dec *iso.Decoded, base int) View {
	v := View{Dialect: d.Name, MTI: dec.MTI, MTIMeaning: MTIMeaning(dec.MTI),
		Bitmap: strings.ToUpper(hex.EncodeToString(dec.Bitmap)), TrailingBytes: dec.Trailing,
		Present: []int{}, Fields: []FieldView{}}
	for _, f := range dec.Fields {
		info := d.Describe(f.ID)
		val, masked := MaskValue(f.ID, f.Value, f.Binary)
		fv := FieldView{ID: f.ID, Name: info.Name, Format: info.Format, Offset: base + f.Offset, Length: f.Len,
			Value: val, Masked: masked, Warning: fieldWarning(d, f.ID, f.Value, f.Binary)}
		if fv.Warning != "" {
			v.Warnings++
		}
		if !sensitive(f.ID, f.Binary) {
			e := Explain(dec.MTI, f.ID, val)
			fv.Explanation, fv.Details = e.Text, e.Parts
		}
		if f.ID == 55 && f.Binary {
			chipData(&fv, f.Value)
		}
		v.Present = append(v.Present, f.ID)
		v.Fields = append(v.Fields, fv)
	}
	return v
}

// WriteJSON writes the view as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteText writes the view for people.
func WriteText(w io.Writer, v View) error {
	var b strings.Builder
	if v.InputFormat != "" {
		fmt.Fprintf(&b, "input:    %s dump, %d bytes\n", v.InputFormat, v.InputBytes)
	} else {
		fmt.Fprintf(&b, "input:    %d bytes\n", v.InputBytes)
	}
	fmt.Fprintf(&b, "framing:  %s", v.Framing)
	if v.HeaderLength != nil {
		match := "matches the input"
		if !v.HeaderExact {
			match = fmt.Sprintf("%d bytes follow it", v.InputBytes-v.HeaderBytes)
		}
		fmt.Fprintf(&b, " (%d-byte header says %d bytes, %s)", v.HeaderBytes, *v.HeaderLength, match)
	}
	b.WriteByte('\n')
	if v.TPDU != "" {
		fmt.Fprintf(&b, "tpdu:     %s (id %s, destination %s, source %s)\n", v.TPDU, v.TPDU[:2], v.TPDU[2:6], v.TPDU[6:])
	}
	if v.MessageHeader != "" {
		fmt.Fprintf(&b, "header:   %s", v.MessageHeader)
		if p := v.MessageHeaderParts; p != nil {
			fmt.Fprintf(&b, " (CUP: application %s, version %s, terminal status %s, processing requirement %s = %s, software %s)",
				p["application_type"], p["version"], p["terminal_status"], p["processing_requirement"], p["processing_meaning"], p["software_version"])
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "dialect:  %s (message starts at byte %d)\n", v.Dialect, v.MessageOffset)
	if v.Chosen != "" {
		fmt.Fprintf(&b, "chosen:   %s\n", v.Chosen)
	}
	if len(v.AlsoDecodesAs) > 0 {
		fmt.Fprintf(&b, "note:     also decodes as %s\n", strings.Join(v.AlsoDecodesAs, ", "))
	}
	writeMessage(&b, v)
	if v.ExtraBytes > 0 {
		fmt.Fprintf(&b, "warning:  %d bytes after the frame the length header announces (another message?)\n", v.ExtraBytes)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeMessage(b *strings.Builder, v View) {
	fmt.Fprintf(b, "MTI:      %s %s\n", v.MTI, v.MTIMeaning)
	ids := make([]string, len(v.Present))
	for i, id := range v.Present {
		ids[i] = fmt.Sprint(id)
	}
	fmt.Fprintf(b, "bitmap:   %s (fields %s)\n", v.Bitmap, strings.Join(ids, " "))
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DE\tname\tformat\tat\tvalue")
	for _, f := range v.Fields {
		val := f.Value
		if f.Explanation != "" {
			val += "  " + f.Explanation
		}
		fmt.Fprintf(tw, "%3d\t%s\t%s\t%d\t%s\n", f.ID, f.Name, f.Format, f.Offset, val)
	}
	_ = tw.Flush()
	for _, f := range v.Fields {
		if len(f.TLV) == 0 {
			continue
		}
		fmt.Fprintf(b, "DE%d chip data (BER-TLV):\n", f.ID)
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		for _, t := range f.TLV {
			fmt.Fprintf(tw, "  %s%s\t%s\t%d\t%s\n", strings.Repeat("  ", t.Depth), t.Tag, t.Name, t.Length, t.Value)
		}
		_ = tw.Flush()
	}
	for _, f := range v.Fields {
		if f.Warning != "" {
			fmt.Fprintf(b, "warning:  DE%d (%s): %s\n", f.ID, f.Name, f.Warning)
		}
	}
	if v.TrailingBytes > 0 {
		fmt.Fprintf(b, "warning:  %d bytes after the last field the bitmap announces (another dialect?)\n", v.TrailingBytes)
	}
}

// ErrorView is a decode failure for tools.
type ErrorView struct {
	Error     string `json:"error"`
	Offset    int    `json:"offset"`
	FieldID   int    `json:"field_id"`
	FieldName string `json:"field_name"`
	Reason    string `json:"reason"`
	Framing   string `json:"framing"`
	Dialect   string `json:"dialect"`
	Start     int    `json:"message_offset"`
	Tried     int    `json:"tried"`
	// The best candidate's MTI and the fields it decoded before the failure (masked), and the
	// bytes from the failure on as hex (conservatively masked: any digit run like a card number).
	MTI     string      `json:"mti,omitempty"`
	Decoded []FieldView `json:"decoded_before_failure"`
	Rest    string      `json:"rest_hex,omitempty"`
}

// View describes the failure for --json.
func (e *Error) View() ErrorView {
	v := ErrorView{Error: "does not decode", Offset: e.Offset, FieldID: e.Field.FieldID, FieldName: e.Field.FieldName,
		Reason: e.Field.Reason, Framing: e.Framing, Dialect: e.Dialect, Start: e.Start, Tried: e.Tried, Decoded: []FieldView{}}
	if e.partial != nil && e.dialect != nil {
		mv := MessageView(e.dialect, e.partial, e.Start)
		v.MTI, v.Decoded = mv.MTI, mv.Fields
	}
	if off := e.Offset - e.Start; off >= 0 && off < len(e.payload) {
		v.Rest = strings.ToUpper(hex.EncodeToString(MaskUnknown(e.payload[off:])))
	}
	return v
}

// WriteErrorText shows a failure for people: what the best reading decoded before it
// failed, then the rest of the bytes raw, so that a broken capture still shows what it holds.
func WriteErrorText(w io.Writer, v ErrorView) error {
	var b strings.Builder
	fmt.Fprintf(&b, "best reading: framing %s, dialect %s (message starts at byte %d; %d readings tried)\n", v.Framing, v.Dialect, v.Start, v.Tried)
	if v.MTI != "" {
		fmt.Fprintf(&b, "MTI:      %s %s\n", v.MTI, MTIMeaning(v.MTI))
	}
	if len(v.Decoded) > 0 {
		fmt.Fprintln(&b, "decoded before the failure:")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "DE\tname\tformat\tat\tvalue")
		for _, f := range v.Decoded {
			fmt.Fprintf(tw, "%3d\t%s\t%s\t%d\t%s\n", f.ID, f.Name, f.Format, f.Offset, f.Value)
		}
		_ = tw.Flush()
	}
	what := fmt.Sprintf("field %d (%s)", v.FieldID, v.FieldName)
	switch v.FieldID {
	case -1:
		what = "MTI"
	case 0:
		what = "end of message"
	}
	fmt.Fprintf(&b, "failed:   byte %d, %s: %s\n", v.Offset, what, v.Reason)
	if v.Rest != "" {
		fmt.Fprintf(&b, "rest:     %s (%d bytes from byte %d, raw hex; digit runs masked)\n", v.Rest, len(v.Rest)/2, v.Offset)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
